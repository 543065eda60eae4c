"""What the service sends out, attacked: cookies carried from one caller to the next, proxy
variables, allowlist paths that climb out of the allowed FHIR base, and access tokens that
are not tokens. The EHR's FHIR server is mocked at the HTTP boundary (respx), or is a local
stub where a real connection matters."""

from __future__ import annotations

import copy
import datetime as dt
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
import respx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient

from cds.security.allowlist import is_allowed
from cds.security.outbound import outbound_client
from cds.settings import Settings
from tests.conftest import load_example

FHIR = "https://fhir.example.org/r4"
HOOK = "/cds-services/phantom-limb-pain-patient-view"


@pytest.fixture
def settings() -> Settings:
    return Settings(cds_fhir_allowlist=f"{FHIR}/", cds_fhir_timeout_s=2.0)


@pytest.fixture
def ehr() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        yield router


def without_conditions(token: str, server: str = FHIR) -> dict[str, Any]:
    request = copy.deepcopy(load_example("patient-view.json"))
    request["fhirServer"] = server
    request["fhirAuthorization"] = {"access_token": token, "token_type": "Bearer"}
    del request["prefetch"]["conditions"]
    return request


# -- cookies: one caller's never reach another ---------------------------------------------


def test_a_cookie_set_by_the_fhir_server_is_not_sent_on_another_callers_call(
    client: TestClient, ehr: respx.MockRouter
) -> None:
    conditions = load_example("patient-view.json")["prefetch"]["conditions"]
    route = ehr.get(f"{FHIR}/Condition").respond(
        json=conditions, headers={"Set-Cookie": "JSESSIONID=caller-a; Path=/; Secure"}
    )

    first = client.post(HOOK, json=without_conditions("token-of-caller-a"))
    second = client.post(HOOK, json=without_conditions("token-of-caller-b"))

    assert (first.status_code, second.status_code) == (200, 200)
    later = route.calls.last.request
    assert later.headers["authorization"] == "Bearer token-of-caller-b"
    assert "cookie" not in later.headers, "caller A's session went out with caller B's token"


class _Recorder(BaseHTTPRequestHandler):
    """A local HTTP server that answers every GET with an empty searchset."""

    seen: ClassVar[list[dict[str, str]]] = []

    def do_GET(self) -> None:
        self.seen.append(dict(self.headers))
        body = b'{"resourceType": "Bundle", "type": "searchset", "entry": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Set-Cookie", "tracker=1; Path=/")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def local_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_proxy_variables_and_cookies_are_ignored_on_a_real_connection(
    local_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy that does not exist: a client that read the environment could not connect.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    async with outbound_client(max_connections=1, max_keepalive_connections=1, timeout_s=5) as http:
        for _ in range(2):
            response = await http.get(f"{local_server}/fhir/Condition")
            assert response.status_code == 200

    assert len(_Recorder.seen) == 2
    assert "Cookie" not in _Recorder.seen[1]


# -- allowlist: only the allowed base, however the path is spelt --------------------------

CLIMBING_OUT = [
    f"{FHIR}/..;/other-api",
    f"{FHIR}/..%2fother-api",
    f"{FHIR}/..%2Fother-api",
    f"{FHIR}/..\\other-api",
    f"{FHIR}/%2e%2e/other-api",
    f"{FHIR}/%252e%252e/other-api",
    f"{FHIR}/\uff0e\uff0e/other-api",  # full-width dots
    f"{FHIR}/../other-api",
    f"{FHIR}/./x",
    f"{FHIR};jsessionid=1",
    f"{FHIR}/Condition%3Bx",
    f"{FHIR}/caf\u00e9",
    f"{FHIR}#fragment",
    f"{FHIR}/x#",
    "https://fhir.example.org.evil.net/r4",
    "https://fhir.example.org@evil.net/r4",
    "https://user:pw@fhir.example.org/r4",
    "https://fhir.example.org:8443/r4",
    "https://fhir.example.org/r4x",
    "https://fhir.example.org/R4",
    "ftp://fhir.example.org/r4",
    "https:///r4",
    "not a url",
]


@pytest.mark.parametrize("url", CLIMBING_OUT)
def test_urls_that_leave_the_allowed_base_are_refused(url: str) -> None:
    assert not is_allowed(url, (f"{FHIR}/",))


@pytest.mark.parametrize(
    "url",
    [
        FHIR,
        f"{FHIR}/",
        f"{FHIR}/Condition?patient=pat-1&_count=50",
        "HTTPS://FHIR.example.org:443/r4/Condition",
        f"{FHIR}/Condition?next=%2F..%2F",  # encoded characters in a query are data
    ],
)
def test_urls_under_the_allowed_base_are_allowed(url: str) -> None:
    assert is_allowed(url, (f"{FHIR}/",))


@pytest.mark.parametrize("server", [f"{FHIR}?x=1", f"{FHIR}/?_format=json"])
def test_a_fhir_server_base_with_a_query_is_refused(server: str) -> None:
    assert is_allowed(server, (FHIR,))
    assert not is_allowed(server, (FHIR,), query=False)


@pytest.mark.parametrize("server", [f"{FHIR}/..;/other-api", f"{FHIR}/%2e%2e/x", f"{FHIR}?a=b"])
def test_the_bearer_token_is_not_sent_out_of_the_allowed_base(
    client: TestClient, ehr: respx.MockRouter, server: str
) -> None:
    response = client.post(HOOK, json=without_conditions("secret-token", server=server))

    assert response.status_code == 412
    assert "not on this service's allowlist" in response.json()["issue"][0]["diagnostics"]
    assert not ehr.calls


# -- access tokens that are not tokens ------------------------------------------------------


@pytest.mark.parametrize("token", ["t\u00f6ken", "two words", "line\r\nX-Injected: 1", "\u2603"])
def test_an_access_token_that_is_not_a_bearer_token_is_a_412_not_a_500(
    client: TestClient, ehr: respx.MockRouter, token: str
) -> None:
    response = client.post(HOOK, json=without_conditions(token))

    assert response.status_code == 412
    assert "not a bearer token" in response.json()["issue"][0]["diagnostics"]
    assert not ehr.calls


# -- a site's private CA: trusted only when configured -------------------------------------


def _self_signed(directory: Path) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "ca.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file)


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        return None


async def test_a_private_ca_is_trusted_only_when_configured(tmp_path: Path) -> None:
    cert_file, key_file = _self_signed(tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"https://127.0.0.1:{server.server_address[1]}/fhir/metadata"
    try:
        limits: dict[str, Any] = {"max_connections": 2, "max_keepalive_connections": 0}
        async with outbound_client(timeout_s=5, **limits) as public_only:
            with pytest.raises(httpx.ConnectError, match=r"CERTIFICATE_VERIFY_FAILED"):
                await public_only.get(url)
        async with outbound_client(timeout_s=5, ca_file=Path(cert_file), **limits) as site:
            assert (await site.get(url)).text == "ok"
    finally:
        server.shutdown()
