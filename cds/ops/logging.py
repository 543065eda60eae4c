"""Structured JSON logs. Each line carries the hookInstance of the call it belongs to and
never patient data or tokens: only whitelisted fields are written, anything shaped like a
bearer token or JWT in a message is masked, the HTTP client libraries (whose request lines
name the patient in FHIR search URLs) say nothing below WARNING and never a query string,
and every message and field is cut to a bounded length, so a client cannot flood the log."""

from __future__ import annotations

import json
import logging
import re
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

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


# A client can put any text into what gets logged (a header value, a claim); a line is
# bounded whatever it sent.
MAX_MESSAGE_CHARS = 2000
MAX_FIELD_CHARS = 500
MAX_EXCEPTION_CHARS = 10_000
# Below WARNING only these write to the log. Other libraries' INFO and DEBUG lines are not
# written for us and may hold anything: the HTTP clients log every request URL, and a FHIR
# search URL names the patient (`Condition?patient=…`); database drivers log parameters.
OWN_LOGGERS = ("cds", "fhir_mappings", "guideline", "cards", "uvicorn")
# Set to WARNING outright, so their lines are not even formatted.
QUIET_LIBRARIES = ("httpx", "httpcore", "h11", "hpack", "aiosqlite", "asyncpg", "sqlalchemy")
_QUERY = re.compile(r"\?[^\s\"']*")


def redact(text: str) -> str:
    return _SECRETS.sub("[redacted]", text)


def bounded(text: str, most: int) -> str:
    return text if len(text) <= most else f"{text[:most]}… [{len(text) - most} characters cut]"


def _is_own(name: str) -> bool:
    return any(name == own or name.startswith(f"{own}.") for own in OWN_LOGGERS)


class LibraryFilter(logging.Filter):
    """Drops what other libraries log below WARNING, and strips query strings from what
    they log above it: whatever the levels say, no request URL with a patient id reaches
    the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _is_own(record.name):
            return True
        if record.levelno < logging.WARNING:
            return False
        record.msg = _QUERY.sub("?[query]", record.getMessage())
        record.args = None
        return True


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


# The access line's own (cds.ops.access_log): the path carries no query string.
ACCESS_FIELDS = ("method", "path", "client")
_WRITTEN_EXTRA = ALLOWED_EXTRA + ACCESS_FIELDS


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": bounded(redact(record.getMessage()), MAX_MESSAGE_CHARS),
        }
        instance = getattr(record, "hookInstance", None) or hook_instance.get()
        if instance is not None:
            entry["hookInstance"] = instance
        for name in _WRITTEN_EXTRA:
            if name in record.__dict__:
                value = record.__dict__[name]
                entry[name] = (
                    bounded(redact(value), MAX_FIELD_CHARS) if isinstance(value, str) else value
                )
        if record.exc_info:
            entry["exception"] = bounded(
                redact(self.formatException(record.exc_info)), MAX_EXCEPTION_CHARS
            )
        try:
            # A line per request: orjson writes it in a fifth of json's time.
            return orjson.dumps(entry, default=str).decode()
        except orjson.JSONEncodeError:
            # What orjson refuses (a lone surrogate, an integer past 64 bits) json writes.
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
            "libraries": {"()": LibraryFilter},
        },
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "filters": ["libraries", "hook_instance", "access_path"],
                "stream": "ext://sys.stdout",
            }
        },
        "root": {"handlers": ["stdout"], "level": level.upper()},
        "loggers": {
            **{
                name: {"handlers": [], "propagate": True}
                for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
            },
            **{name: {"level": "WARNING"} for name in QUIET_LIBRARIES},
        },
    }
