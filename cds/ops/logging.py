"""Structured JSON logs. Each line carries the hookInstance of the call it belongs to and
never patient data or tokens: only whitelisted fields are written, and anything shaped
like a bearer token or JWT in a message is masked."""

from __future__ import annotations

import json
import logging
import re
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

# Set by the hook route; every record logged while answering that call picks it up.
hook_instance: ContextVar[str | None] = ContextVar("hook_instance", default=None)

# Fields a caller may attach with `extra=`; anything else is dropped, so a stray
# `extra={"patient": ...}` cannot reach the log.
ALLOWED_EXTRA = (
    "service",
    "cards",
    "calls",
    "batch",
    "duration_ms",
    "status",
    "event",
    "stored",
    "error",
)

_SECRETS = re.compile(
    r"(?i)\bbearer\s+[\w\-.~+/]+=*|\beyJ[\w-]+\.[\w-]+\.[\w-]*"  # bearer tokens, JWTs
)


def redact(text: str) -> str:
    return _SECRETS.sub("[redacted]", text)


class HookInstanceFilter(logging.Filter):
    """Stamps each record with the current hookInstance when it is logged, since a handler
    may format it later, outside the request's context."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "hookInstance"):
            record.hookInstance = hook_instance.get()
        return True


class AccessPathFilter(logging.Filter):
    """Drops the query string from uvicorn's access lines: no endpoint here takes one, and
    a client could put a patient id in it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "uvicorn.access" and isinstance(record.args, tuple):
            args = list(record.args)
            if len(args) >= 3 and isinstance(args[2], str):
                args[2] = args[2].split("?", 1)[0]
                record.args = tuple(args)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        instance = getattr(record, "hookInstance", None) or hook_instance.get()
        if instance is not None:
            entry["hookInstance"] = instance
        for name in ALLOWED_EXTRA:
            if name in record.__dict__:
                entry[name] = record.__dict__[name]
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str, ensure_ascii=False)


def logging_config(level: str) -> dict[str, Any]:
    """A dictConfig for the service and uvicorn alike (uvicorn applies it in each worker)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "filters": {
            "hook_instance": {"()": HookInstanceFilter},
            "access_path": {"()": AccessPathFilter},
        },
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "filters": ["hook_instance", "access_path"],
                "stream": "ext://sys.stdout",
            }
        },
        "root": {"handlers": ["stdout"], "level": level.upper()},
        "loggers": {
            name: {"handlers": [], "propagate": True}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }
