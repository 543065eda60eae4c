"""The HTTP server `plp-cds serve` runs: uvicorn on h11, bounded in what a client can make it
hold and for how long.

uvicorn's default parser (httptools) has no limit on the size of request headers, and no
server timer runs until a first request is complete, so one client could make a worker
buffer a 100 MB header, or keep hundreds of half-sent bodies in memory. Here:

- a request line plus headers larger than CDS_HTTP_MAX_HEADER_BYTES is answered 400 and the
  connection closed (h11's incomplete-event limit: only that much is ever buffered);
- each request, headers and body, must arrive within CDS_HTTP_READ_TIMEOUT_S of its first
  byte (or of the connection opening): past that, a request still in its headers is
  answered 408, one in its body has its connection closed (the endpoint sees a client
  disconnect), and its buffers are freed;
- an idle kept-alive connection is closed after CDS_HTTP_KEEPALIVE_S;
- X-Forwarded-For/-Proto are believed only from CDS_TRUSTED_PROXIES (none by default).

The proxy in front should still cap connections per client and request rates; see the
README, Security.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from cds.ops.logging import logging_config
from cds.security.trusted_issuers import load_trusted_issuers
from cds.settings import Settings, get_settings

log = logging.getLogger("cds.ops.server")

PROTOCOL = "cds.ops.server:GuardedH11Protocol"
# On SIGTERM uvicorn stops accepting, lets calls in flight finish, then runs the lifespan
# shutdown; this bounds the wait.
GRACEFUL_SHUTDOWN_S = 20
_TIMEOUT_BODY = b'{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"timeout","diagnostics":"the request was not received in time"}]}'  # noqa: E501
_REQUEST_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: application/json\r\n"
    b"connection: close\r\n"
    b"content-length: " + str(len(_TIMEOUT_BODY)).encode() + b"\r\n\r\n" + _TIMEOUT_BODY
)


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for this service, apart from what to serve and where."""
    trusted = list(settings.trusted_proxies)
    return {
        "http": PROTOCOL,
        "ws": "none",
        "h11_max_incomplete_event_size": settings.cds_http_max_header_bytes,
        "timeout_keep_alive": settings.cds_http_keepalive_s,
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted or None,
        "server_header": False,
        "log_config": logging_config(settings.cds_log_level),
        # The app writes one line per request itself (cds.ops.access_log).
        "access_log": False,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_S,
    }


def serve(settings: Settings, host: str, port: int, workers: int) -> None:
    uvicorn.run(
        "cds.app:create_served_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        **server_options(settings),
    )


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for receiving each whole request.

    The deadline starts when the connection opens or when the first byte of a request
    arrives after the previous response, and ends when the request's body is complete.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Read from the environment in each worker process, as the app's settings are.
        self.read_timeout_s = get_settings().cds_http_read_timeout_s
        self._read_deadline: asyncio.TimerHandle | None = None
        self._partial = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._read_deadline is None and self._between_requests():
            self._arm()
        if self._between_requests():
            self._partial = True
        super().data_received(data)
        if self._request_in_hand():
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # A pipelined request may have been started from what was already buffered.
        if not self._between_requests() and not self._request_in_hand():
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _between_requests(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _request_in_hand(self) -> bool:
        """A request's headers and whole body have arrived (the endpoint may still run)."""
        return not self._between_requests() and not self.cycle.more_body

    def _arm(self) -> None:
        self._disarm()
        self._read_deadline = self.loop.call_later(self.read_timeout_s, self._timed_out)

    def _disarm(self) -> None:
        if self._read_deadline is not None:
            self._read_deadline.cancel()
            self._read_deadline = None
        self._partial = False

    def _timed_out(self) -> None:
        self._read_deadline = None
        if self.transport.is_closing():
            return
        if self._between_requests():
            if self._partial:
                # h11 cannot answer a request it has not parsed: the bytes are written as is.
                self.transport.write(_REQUEST_TIMEOUT)
                log.info("request headers not received in time: 408, connection closed")
        else:
            # The endpoint is waiting for the body: closing tells it the client is gone.
            log.info("request body not received in time: connection closed")
        self.transport.close()


def serving_problems(settings: Settings, host: str, workers: int) -> tuple[list[str], list[str]]:
    """What is wrong with serving this configuration on `host` with `workers` processes:
    (errors that stop `plp-cds serve`, warnings it prints and goes on)."""
    authenticated = bool(load_trusted_issuers(settings.cds_trusted_issuers_file))
    errors: list[str] = []
    warnings: list[str] = []
    if not authenticated and not is_loopback(host) and not settings.require_auth_said_false:
        errors.append(
            f"--host {host} is reachable from other machines and no client authentication "
            "is configured, so anyone who can reach it could call the hooks and send "
            "feedback. Configure trusted issuers (CDS_TRUSTED_ISSUERS_FILE), or set "
            "CDS_REQUIRE_AUTH=false to serve without authentication on purpose."
        )
    if authenticated and not settings.redis_url:
        if workers > 1:
            errors.append(
                f"--workers {workers} with client authentication needs REDIS_URL: each "
                "worker would keep its own record of used tokens, so a token one worker "
                "accepted would be accepted again by another. Set REDIS_URL, or use one worker."
            )
        else:
            warnings.append(
                "JWT replay protection is in memory (REDIS_URL is not set): it forgets on "
                "restart, so a token used before a restart can be used again until it "
                "expires. Set REDIS_URL to keep it."
            )
    return errors, warnings


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
