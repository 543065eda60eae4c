"""JSON log lines carry the hookInstance and no tokens or patient data."""

from __future__ import annotations

import io
import json
import logging
import logging.config
from collections.abc import Iterator

import pytest
import respx
from fastapi.testclient import TestClient

from cds.app import create_app
from cds.ops.logging import (
    QUIET_LIBRARIES,
    AccessPathFilter,
    HookInstanceFilter,
    JsonFormatter,
    hook_instance,
    logging_config,
)
from cds.settings import Settings
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


def test_a_hook_call_is_one_line_with_the_request_and_its_answer(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    request = load_example("patient-view.json")
    caplog.handler.addFilter(HookInstanceFilter())
    with caplog.at_level(logging.INFO):
        response = client.post(f"/cds-services/{PATIENT_VIEW}?patient=123", json=request)
    assert response.status_code == 200
    # The service's own lines (the test client logs its request too).
    [only] = [r for r in caplog.records if r.name.split(".")[0] == "cds"]
    line = render(only)
    assert line["logger"] == "cds.access"
    assert line["message"] == f"POST /cds-services/{PATIENT_VIEW} 200"
    assert line["method"] == "POST"
    assert line["path"] == f"/cds-services/{PATIENT_VIEW}", "no query string"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] > 0
    assert line["client"] == "testclient:50000"
    assert line["hookInstance"] == request["hookInstance"]
    assert line["service"] == PATIENT_VIEW
    assert line["cards"] == len(response.json()["cards"]) == 1
    assert request["context"]["patientId"] not in json.dumps(line)
    assert "123" not in json.dumps(line)


def test_a_refused_hook_call_is_one_line_with_its_status(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    request = load_example("patient-view.json")
    del request["prefetch"]["conditions"]
    with caplog.at_level(logging.INFO):
        assert client.post(f"/cds-services/{PATIENT_VIEW}", json=request).status_code == 412
        assert client.post("/cds-services/no-such-service", json=request).status_code == 404
    refused, unknown = (render(r) for r in caplog.records if r.name == "cds.access")
    assert (refused["status"], refused["service"]) == (412, PATIENT_VIEW)
    assert refused["hookInstance"] == request["hookInstance"]
    assert "cards" not in refused
    assert unknown["status"] == 404
    assert "service" not in unknown


def test_an_answer_from_a_middleware_is_logged_too(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings.model_copy(update={"cds_max_body_bytes": 100}))
    with TestClient(app) as client, caplog.at_level(logging.INFO, logger="cds.access"):
        assert client.post(f"/cds-services/{PATIENT_VIEW}", content=b"x" * 200).status_code == 413
        assert client.get("/healthz").status_code == 200
    lines = [render(r) for r in caplog.records if r.name == "cds.access"]
    assert [(line["method"], line["path"], line["status"]) for line in lines] == [
        ("POST", f"/cds-services/{PATIENT_VIEW}", 413),
        ("GET", "/healthz", 200),
    ]


def test_the_logging_config_is_accepted_by_dictconfig() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logging.config.dictConfig(logging_config("info"))
        assert isinstance(root.handlers[0].formatter, JsonFormatter)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


def test_messages_and_fields_a_client_can_fill_are_bounded() -> None:
    record = logging.LogRecord("cds", logging.WARNING, __file__, 1, "x" * 1_000_000, None, None)
    record.error = "y" * 1_000_000
    line = render(record)
    assert len(json.dumps(line)) < 3_000
    assert str(line["message"]).endswith("characters cut]")


@pytest.fixture
def service_log() -> Iterator[io.StringIO]:
    """What the service's own logging configuration, as `plp-cds serve` applies it, writes
    at DEBUG."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in QUIET_LIBRARIES}
    out = io.StringIO()
    try:
        logging.config.dictConfig(logging_config("debug"))
        [handler] = [h for h in root.handlers if isinstance(h, logging.StreamHandler)]
        handler.setStream(out)
        yield out
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        for name, library_level in levels.items():
            logging.getLogger(name).setLevel(library_level)


def test_fhir_request_urls_naming_the_patient_never_reach_the_log(
    service_log: io.StringIO,
) -> None:
    fhir = "https://fhir.example.org/r4"
    request = load_example("patient-view.json")
    patient = request["context"]["patientId"]
    conditions = request["prefetch"].pop("conditions")
    request["fhirServer"] = fhir
    request["fhirAuthorization"] = {"access_token": "secret-token", "token_type": "Bearer"}
    settings = Settings(cds_fhir_allowlist=fhir)
    with respx.mock(assert_all_mocked=True) as ehr, TestClient(create_app(settings)) as client:
        ehr.get(f"{fhir}/Condition").respond(json=conditions)
        assert client.post(f"/cds-services/{PATIENT_VIEW}", json=request).status_code == 200
        # Were a library to warn about a request, its URL would lose the query too.
        logging.getLogger("httpx").warning("retrying GET %s/Condition?patient=%s", fhir, patient)

    out = service_log.getvalue()
    assert "FHIR fallback: fetching conditions" in out, "the service's own lines are there"
    assert "Condition?[query]" in out
    assert patient not in out
    assert "secret-token" not in out


def test_a_line_holding_what_orjson_refuses_is_still_written() -> None:
    message = "lone \ud800 surrogate"
    record = logging.LogRecord("cds", logging.INFO, __file__, 1, message, None, None)
    record.cards = 2**70
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == message
    assert line["cards"] == 2**70
