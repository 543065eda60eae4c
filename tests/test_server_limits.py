"""The server `plp-cds serve` runs, attacked over raw sockets: a huge request header, headers
and bodies sent slowly or never finished, idle connections, client disconnects, and forged
forwarding headers. The server is the real one (uvicorn with cds.ops.server's options and
protocol) on a loopback port."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from cds.app import create_app
from cds.ops.server import server_options
from cds.settings import get_settings

HOOK = "/cds-services/phantom-limb-pain-patient-view"
READ_TIMEOUT_S = 0.5
MAX_HEADER_BYTES = 16 * 1024
# How long a test waits for the server to act before it calls the attack a success.
PATIENCE_S = 15.0


@dataclass
class Served:
    port: int
    server: uvicorn.Server

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=PATIENCE_S)
        return sock


def serve_in_thread(options: dict[str, Any]) -> Iterator[Served]:
    settings = get_settings()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    # The test's own logging stays as pytest set it up.
    config = uvicorn.Config(create_app(settings), **(options | {"log_config": None}))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + PATIENCE_S
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    try:
        yield Served(listener.getsockname()[1], server)
    finally:
        server.should_exit = True
        thread.join(PATIENCE_S)
        listener.close()


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    monkeypatch.setenv("CDS_HTTP_READ_TIMEOUT_S", str(READ_TIMEOUT_S))
    monkeypatch.setenv("CDS_HTTP_MAX_HEADER_BYTES", str(MAX_HEADER_BYTES))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cds.db'}")
    get_settings.cache_clear()
    try:
        yield from serve_in_thread(server_options(get_settings()))
    finally:
        get_settings.cache_clear()


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or PATIENCE_S passes,
    which fails the test)."""
    received = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            pytest.fail(f"the server kept the connection open; it sent {received[:200]!r}")
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk


def read_response(sock: socket.socket) -> bytes:
    """One whole HTTP response: a busy server may send its head and body in separate
    segments, so one recv is not enough."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        assert chunk, f"the server closed the connection after {received[:200]!r}"
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection mid-body"
        body += chunk
    return head + b"\r\n\r\n" + body


def test_an_ordinary_request_is_answered_and_kept_alive(served: Served) -> None:
    with served.connect() as sock:
        for _ in range(2):
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: cds\r\n\r\n")
            answer = read_response(sock)
            assert answer.startswith(b"HTTP/1.1 200 ")
            assert b"server: uvicorn" not in answer.lower()


def test_a_huge_header_is_refused_after_the_limit_not_read_whole(served: Served) -> None:
    with served.connect() as sock:
        sock.sendall(f"POST {HOOK} HTTP/1.1\r\nHost: cds\r\nX-Big: ".encode())
        sock.sendall(b"a" * (4 * MAX_HEADER_BYTES))
        answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 400 ")
        # Keep going as the attacker did (100 MB): the server has closed, so this fails
        # long before the whole header is sent.
        sent = 0
        with pytest.raises(OSError):
            while sent < 100 * 1024 * 1024:
                sock.sendall(b"a" * 65536)
                sent += 65536
        assert sent < 100 * 1024 * 1024


def test_headers_dripped_slowly_get_a_408_and_the_connection_closed(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="cds"), served.connect() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: cds\r\n")
        closed_by_server = False
        for _ in range(int(PATIENCE_S / 0.05)):
            try:
                sock.sendall(b"X")
            except OSError:
                closed_by_server = True
                break
            time.sleep(0.05)
        answer = read_until_closed(sock) if not closed_by_server else b""
    assert closed_by_server or answer.startswith(b"HTTP/1.1 408 ")
    assert "request headers not received in time" in caplog.text


def test_an_idle_connection_is_closed(served: Served) -> None:
    with served.connect() as sock:
        assert read_until_closed(sock) == b""


def test_bodies_that_never_finish_are_dropped_and_their_memory_freed(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    head = (
        f"POST {HOOK} HTTP/1.1\r\nHost: cds\r\nContent-Type: application/json\r\n"
        f"Content-Length: {4 * 1024 * 1024}\r\n\r\n"
    ).encode()
    with caplog.at_level(logging.INFO):
        sockets = [served.connect() for _ in range(20)]
        try:
            for sock in sockets:
                sock.sendall(head + b'{"hook": "' + b"x" * 60000)
            answers = [read_until_closed(sock) for sock in sockets]
        finally:
            for sock in sockets:
                sock.close()
        # The endpoints see their clients gone; nothing keeps the partial bodies.
        deadline = time.monotonic() + PATIENCE_S
        while len(served.server.server_state.tasks) and time.monotonic() < deadline:
            time.sleep(0.05)

    assert all(answer == b"" for answer in answers), "closed, with no answer"
    assert not served.server.server_state.tasks
    assert caplog.text.count("request body not received in time") == 20
    # Each disconnect is one INFO line, not an error with a traceback.
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert caplog.text.count("client disconnected before its request was read") == 20


def test_a_client_that_disconnects_mid_body_is_one_info_line(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        with served.connect() as sock:
            sock.sendall(
                f"POST {HOOK} HTTP/1.1\r\nHost: cds\r\nContent-Type: application/json\r\n"
                "Content-Length: 1000\r\n\r\n{".encode()
            )
            time.sleep(0.1)
        deadline = time.monotonic() + PATIENCE_S
        while "client disconnected" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
    disconnects = [r for r in caplog.records if "client disconnected" in r.getMessage()]
    assert [r.levelno for r in disconnects] == [logging.INFO]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_forwarded_headers_are_ignored_unless_the_peer_is_a_trusted_proxy(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="cds.access"), served.connect() as sock:
        sock.sendall(
            b"GET /healthz HTTP/1.1\r\nHost: cds\r\nX-Forwarded-For: 203.0.113.9\r\n"
            b"X-Forwarded-Proto: https\r\n\r\n"
        )
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
        # The line is written once the response is out.
        deadline = time.monotonic() + PATIENCE_S
        while "/healthz" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
    # One line per request, the app's: uvicorn's own access line is off.
    [access] = [r for r in caplog.records if r.name.endswith(".access")]
    assert access.name == "cds.access"
    client: str = access.client  # type: ignore[attr-defined]
    assert client.startswith("127.0.0.1:")


def test_trusted_proxies_are_a_setting() -> None:
    from cds.settings import Settings

    assert server_options(Settings())["proxy_headers"] is False
    options = server_options(Settings(cds_trusted_proxies="10.0.0.5, 10.0.0.6"))
    assert options["proxy_headers"] is True
    assert options["forwarded_allow_ips"] == ["10.0.0.5", "10.0.0.6"]
