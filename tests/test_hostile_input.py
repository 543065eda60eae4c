"""Hostile and malformed requests: always a 4xx with a JSON OperationOutcome, never a 5xx."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from starlette.types import Message, Receive, Scope, Send

from cds.api.body_limit import BodyLimitMiddleware
from cds.api.services import SERVICES
from cds.app import create_app
from cds.settings import Settings
from tests.conftest import load_example

HOOK = "/cds-services/phantom-limb-pain-patient-view"
LIMIT = 64 * 1024
ORIGIN = "https://ehr-sandbox.example.org"


@pytest.fixture
def settings() -> Settings:
    return Settings(cds_max_body_bytes=LIMIT, cds_cors_origins=f"{ORIGIN},https://other.example")


@pytest.fixture
def example() -> dict[str, Any]:
    return load_example("patient-view.json")


def assert_outcome(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["severity"] == "error"
    return dict(body)


# -- body size ----------------------------------------------------------------------------


def test_declared_length_over_the_limit_is_413(client: TestClient) -> None:
    body = assert_outcome(client.post(HOOK, content=b" " * (LIMIT + 1)), 413)
    assert body["issue"][0]["code"] == "too-costly"


def test_body_at_the_limit_is_read(client: TestClient, example: dict[str, Any]) -> None:
    raw = json.dumps(example).encode()
    padded = raw + b" " * (LIMIT - len(raw))
    assert len(padded) == LIMIT
    assert client.post(HOOK, content=padded).status_code == 200


def test_chunked_body_over_the_limit_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(LIMIT // 1024 + 2):
            yield b" " * 1024

    assert_outcome(client.post(HOOK, content=chunks()), 413)


async def test_a_lying_content_length_is_counted() -> None:
    """Driven as raw ASGI: a client declares a small body and streams a large one."""
    app = create_app(Settings(cds_max_body_bytes=LIMIT))
    chunk = b" " * 4096
    sent: list[Message] = []
    remaining = LIMIT // len(chunk) + 2

    async def receive() -> Message:
        nonlocal remaining
        remaining -= 1
        return {"type": "http.request", "body": chunk, "more_body": remaining > 0}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": HOOK,
        "raw_path": HOOK.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"10")],
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    await asyncio.wait_for(app(scope, receive, send), timeout=5)

    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 413
    assert orjson.loads(sent[1]["body"])["resourceType"] == "OperationOutcome"


async def test_body_limit_answers_for_an_app_without_error_handlers() -> None:
    """The middleware alone: an app that just reads its body still gets a 413 back."""

    async def reader(scope: Scope, receive: Receive, send: Send) -> None:
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"read"})

    limited = BodyLimitMiddleware(reader, max_bytes=1024)
    chunks = [b"x" * 600, b"x" * 600, b"x" * 600]
    sent: list[Message] = []

    async def receive() -> Message:
        body = chunks.pop(0)
        return {"type": "http.request", "body": body, "more_body": bool(chunks)}

    async def send(message: Message) -> None:
        sent.append(message)

    await limited({"type": "http", "method": "POST", "path": "/", "headers": []}, receive, send)

    assert sent[0]["status"] == 413
    assert orjson.loads(sent[1]["body"])["issue"][0]["code"] == "too-costly"


# -- malformed JSON and wrong shapes ------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b'{"hook": "\xff\xfe"}',
        b"[" * 60_000,
        b'{"a": ' * 2000 + b"1" + b"}" * 2000,
        b"[1, 2, 3]",
        b'"a string"',
        b"null",
        b'{"hook": NaN}',
        b'{"n": 1' + b"0" * 5000 + b"}",
    ],
    ids=[
        "empty",
        "not-json",
        "not-utf8",
        "unclosed-deep",
        "nested-2000",
        "array",
        "string",
        "null",
        "nan",
        "huge-number",
    ],
)
def test_unparseable_bodies_are_400(client: TestClient, raw: bytes) -> None:
    assert_outcome(client.post(HOOK, content=raw), 400)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("prefetch",), [1, 2]),
        (("context",), "pat-plp-1"),
        (("context", "patientId"), {"id": 1}),
        (("context", "patientId"), "x" * 10_000),
        (("hook",), 12),
        (("hookInstance",), ""),
        (("fhirServer",), ["https://fhir.example.org"]),
        (("fhirAuthorization",), "Bearer abc"),
    ],
    ids=lambda value: type(value).__name__,
)
def test_wrong_types_are_422(
    client: TestClient, example: dict[str, Any], path: tuple[str, ...], value: Any
) -> None:
    request = copy.deepcopy(example)
    target = request
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    assert_outcome(client.post(HOOK, json=request), 422)


def test_absurd_entry_counts_are_refused(client: TestClient, example: dict[str, Any]) -> None:
    request = copy.deepcopy(example)
    request["prefetch"]["conditions"]["entry"] = [
        {}
    ] * 5_001  # one above CDS_MAX_BUNDLE_ENTRIES's default

    body = assert_outcome(client.post(HOOK, json=request), 422)

    assert body["issue"][0]["code"] == "too-costly"


def test_nesting_just_under_the_parser_limit_is_answered(
    client: TestClient, example: dict[str, Any]
) -> None:
    deep = "[" * 1000 + "]" * 1000
    raw = json.dumps(example).replace('"G54.6"', deep)
    assert client.post(HOOK, content=raw.encode()).status_code == 200


def test_huge_strings_inside_resources_are_answered(example: dict[str, Any]) -> None:
    request = copy.deepcopy(example)
    coding = request["prefetch"]["conditions"]["entry"][0]["resource"]["code"]["coding"][0]
    coding["display"] = "x" * 4_000_000
    with TestClient(create_app(Settings())) as client:
        response = client.post(HOOK, json=request)
    assert response.status_code == 200


# -- CORS ---------------------------------------------------------------------------------


def test_cors_preflight_from_a_known_origin(client: TestClient) -> None:
    response = client.options(
        HOOK,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed
    assert "content-type" in allowed


def test_cors_refuses_an_unknown_origin(client: TestClient) -> None:
    response = client.options(
        HOOK,
        headers={"Origin": "https://evil.example.net", "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


def test_cors_headers_on_answers_to_a_known_origin(
    client: TestClient, example: dict[str, Any]
) -> None:
    response = client.post(HOOK, json=example, headers={"Origin": ORIGIN})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN


# -- property: whatever arrives, no 5xx ---------------------------------------------------

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=25,
)
# Places in a patient-view request where an EHR (or an attacker) could put anything.
PATHS = [
    ("hook",),
    ("hookInstance",),
    ("fhirServer",),
    ("fhirAuthorization",),
    ("fhirAuthorization", "access_token"),
    ("context",),
    ("context", "patientId"),
    ("context", "draftOrders"),
    ("context", "selections"),
    ("prefetch",),
    ("prefetch", "conditions"),
    ("prefetch", "medications"),
    ("prefetch", "conditions", "entry"),
    ("prefetch", "medications", "entry"),
    ("prefetch", "conditions", "entry", 0),
    ("prefetch", "conditions", "entry", 0, "resource"),
    ("prefetch", "conditions", "entry", 0, "resource", "code"),
    ("prefetch", "conditions", "entry", 0, "resource", "clinicalStatus"),
    ("prefetch", "medications", "entry", 0, "resource"),
    ("prefetch", "medications", "entry", 0, "resource", "status"),
    ("prefetch", "medications", "entry", 0, "resource", "medicationCodeableConcept"),
    ("prefetch", "medications", "entry", 0, "resource", "dosageInstruction"),
    ("prefetch", "medications", "entry", 0, "resource", "dosageInstruction", 0, "timing"),
    ("prefetch", "medications", "entry", 0, "resource", "dosageInstruction", 0, "doseAndRate"),
]


def mutate(request: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    """A copy with `value` at `path`; unchanged when an earlier mutation removed the path."""
    mutated = copy.deepcopy(request)
    target: Any = mutated
    for part in path[:-1]:
        try:
            target = target[part]
        except (KeyError, IndexError, TypeError):
            return mutated
    if isinstance(target, dict) or (
        isinstance(target, list) and isinstance(path[-1], int) and path[-1] < len(target)
    ):
        target[path[-1]] = value
    return mutated


EXAMPLE = load_example("patient-view.json") | {
    "fhirServer": "https://fhir.example.org/r4",
    "fhirAuthorization": {"access_token": "abc", "token_type": "Bearer"},
}


def dumps(value: Any) -> bytes:
    # The standard library writes integers of any size, which the service must also survive.
    return json.dumps(value).encode()


@st.composite
def hostile_bodies(draw: st.DrawFn) -> tuple[str, bytes]:
    service = draw(st.sampled_from(sorted(SERVICES)))
    kind = draw(st.sampled_from(["bytes", "json", "mutated", "mutated-many"]))
    if kind == "bytes":
        return service, draw(st.binary(max_size=300))
    if kind == "json":
        return service, dumps(draw(JSON_VALUES))
    request = EXAMPLE
    for _ in range(1 if kind == "mutated" else draw(st.integers(2, 5))):
        request = mutate(request, draw(st.sampled_from(PATHS)), draw(JSON_VALUES))
    if draw(st.booleans()):
        request = mutate(request, ("hook",), SERVICES[service].hook.value)
    return service, dumps(request)


@pytest.fixture(scope="module")
def shared_client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings()), raise_server_exceptions=False) as client:
        yield client


@hypothesis_settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(hostile_bodies())
def test_no_malformed_request_gets_a_5xx(
    shared_client: TestClient, service_and_body: tuple[str, bytes]
) -> None:
    service, body = service_and_body
    response = shared_client.post(
        f"/cds-services/{service}", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/json")
    if response.status_code >= 400:
        assert response.json()["resourceType"] == "OperationOutcome"
