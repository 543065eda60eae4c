"""JSON log lines carry the hookInstance and no tokens or patient data."""

from __future__ import annotations

import json
import logging
import logging.config

import pytest
from fastapi.testclient import TestClient

from cds.ops.logging import (
    AccessPathFilter,
    HookInstanceFilter,
    JsonFormatter,
    hook_instance,
    logging_config,
)
from tests.conftest import load_example
from tests.feedback_requests import PATIENT_VIEW


def render(record: logging.LogRecord) -> dict[str, object]:
    return json.loads(JsonFormatter().format(record))


def test_a_line_is_json_with_the_hook_instance_and_allowed_fields_only() -> None:
    token = hook_instance.set("hook-1")
    try:
        record = logging.LogRecord("cds", logging.INFO, __file__, 1, "answered", None, None)
        record.service = "svc"
        record.patient = "Patient/123"
        line = render(record)
    finally:
        hook_instance.reset(token)
    assert line["hookInstance"] == "hook-1"
    assert line["service"] == "svc"
    assert line["message"] == "answered"
    assert "patient" not in line


def test_access_lines_leave_out_the_query_string() -> None:
    args = ("10.0.0.1:5000", "GET", "/cds-services?patient=123", "1.1", 200)
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', args, None
    )
    AccessPathFilter().filter(record)
    assert render(record)["message"] == '10.0.0.1:5000 - "GET /cds-services HTTP/1.1" 200'


def test_tokens_in_messages_are_masked() -> None:
    jwt = "eyJhbGciOiJSUzM4NCJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJl"
    message = f"upstream said: Authorization: Bearer abc.def-123 and {jwt}"
    record = logging.LogRecord("cds", logging.WARNING, __file__, 1, message, None, None)
    text = render(record)["message"]
    assert "abc.def-123" not in text
    assert jwt not in text
    assert text.count("[redacted]") == 2


def test_the_hook_route_logs_with_its_hook_instance(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    request = load_example("patient-view.json")
    caplog.handler.addFilter(HookInstanceFilter())
    with caplog.at_level(logging.INFO, logger="cds"):
        assert client.post(f"/cds-services/{PATIENT_VIEW}", json=request).status_code == 200
    answered = [r for r in caplog.records if r.getMessage() == "hook answered"]
    assert len(answered) == 1
    line = render(answered[0])
    assert line["hookInstance"] == request["hookInstance"]
    assert line["service"] == PATIENT_VIEW
    assert request["context"]["patientId"] not in json.dumps(line)


def test_the_logging_config_is_accepted_by_dictconfig() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logging.config.dictConfig(logging_config("info"))
        assert isinstance(root.handlers[0].formatter, JsonFormatter)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
