"""Configuration mistakes as one line each, naming the setting and the fix.

The command line checks the configuration before it starts anything, so a mistyped setting is
a sentence for the operator, not a traceback from deep inside a server worker.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from cds.security.trusted_issuers import StartupError
from cds.settings import Settings, get_settings


class ConfigurationError(Exception):
    """The configuration is wrong; the message is one line per problem."""


def load_settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as error:
        raise ConfigurationError("\n".join(describe(e) for e in error.errors())) from None


def check_startup(settings: Settings) -> None:
    """Everything the app checks as it is built (trusted issuers, required authentication),
    and that the card journal's directory can be used."""
    from cds.app import create_app

    try:
        create_app(settings)
    except StartupError as error:
        raise ConfigurationError(" ".join(str(error).split())) from None
    check_state_dir(settings.cds_state_dir)


def check_state_dir(state_dir: str) -> None:
    journal = Path(state_dir) / "journal"
    try:
        journal.mkdir(parents=True, exist_ok=True, mode=0o700)
        with tempfile.TemporaryFile(dir=journal):
            pass
    except OSError as error:
        raise ConfigurationError(
            f"CDS_STATE_DIR={state_dir!r} cannot hold the card journal: {error.strerror or error}. "
            "Fix: set CDS_STATE_DIR to a directory this user can write, or unset it for the "
            "default (./plp-cds-state)."
        ) from None


# What a valid value looks like, by pydantic error type.
_EXPECTED = {
    "float_parsing": "a number",
    "int_parsing": "a whole number",
    "bool_parsing": "true or false",
    "literal_error": "one of {expected}",
    "enum": "one of {expected}",
    "greater_than": "a number above {gt}",
    "greater_than_equal": "a number of at least {ge}",
}


def describe(error: ErrorDetails) -> str:
    name = ".".join(str(part) for part in error["loc"]).upper()
    field = Settings.model_fields.get(name.lower())
    default = "" if field is None or field.default is None else f" ({field.default})"
    message = error["msg"].removeprefix("Value error, ")
    expected = _EXPECTED.get(error["type"], "a valid value").format(**error.get("ctx", {}))
    return (
        f"{name}={error['input']!r} is not valid: {message}. "
        f"Fix: set {name} to {expected}, or unset it for the default{default}."
    )
