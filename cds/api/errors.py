"""Errors the service answers with: a status and a FHIR OperationOutcome naming the problem."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails


class ServiceError(Exception):
    """An error with its HTTP status and the OperationOutcome issues to send back."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        expressions: Iterable[str] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.expressions = tuple(expressions)
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return operation_outcome([(self.code, self.message, self.expressions)])


def invalid_fields(problems: Iterable[tuple[str, str]]) -> ServiceError:
    """422 naming each field that is wrong (where, what) in the diagnostics and expressions."""
    problems = list(problems)
    return ServiceError(
        422,
        "invalid",
        "; ".join(f"{where}: {message}" for where, message in problems),
        [where for where, _ in problems],
    )


def validation_failed(
    error: ValidationError | Sequence[ErrorDetails], within: str = ""
) -> ServiceError:
    """422 for a request that failed validation: every endpoint names the wrong fields the
    same way, as FHIRPath-like expressions (`context.selections[0]`, `feedback[1].card`)."""
    details = error.errors() if isinstance(error, ValidationError) else error
    return invalid_fields((expression(d["loc"], within), message(d["msg"])) for d in details)


def expression(location: Sequence[int | str], within: str = "") -> str:
    path = within
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path


def message(text: str) -> str:
    # pydantic prefixes the messages our own validators raise; the client needs the reason.
    return text.removeprefix("Value error, ")


def operation_outcome(issues: Iterable[tuple[str, str, Iterable[str]]]) -> dict[str, Any]:
    rendered = []
    for code, message, expressions in issues:
        issue: dict[str, Any] = {"severity": "error", "code": code, "diagnostics": message}
        expressions = list(expressions)
        if expressions:
            issue["expression"] = expressions
        rendered.append(issue)
    return {"resourceType": "OperationOutcome", "issue": rendered}


class DataUnavailable(ServiceError):
    """Required FHIR data could not be had: CDS Hooks says 412 Precondition Failed."""

    def __init__(self, message: str, keys: Iterable[str]) -> None:
        super().__init__(412, "not-found", message, (f"prefetch.{k}" for k in keys))
