"""One log line per HTTP request, the hook's outcome in it.

uvicorn's access line and a second "hook answered" line cost every hook call two trips
through logging; here one line carries both: the request (method, path without its query
string, status, duration in ms, client address) and, for a hook call, the service, the
number of cards and the hookInstance. `plp-cds serve` turns uvicorn's own access log off.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("cds.access")

# Where the hook route finds the record of its request (the middleware puts it in the scope).
SCOPE_KEY = "cds.hook_call"


@dataclass(slots=True)
class HookCall:
    """What the hook route adds to its request's line; it fills in what it got to."""

    service: str | None = None
    hook_instance: str | None = None
    cards: int | None = None


def hook_call(scope: Scope) -> HookCall:
    """The record of this request's hook call (a throwaway one when no middleware set it,
    so the route need not ask)."""
    call = scope.get(SCOPE_KEY)
    return call if isinstance(call, HookCall) else HookCall()


class AccessLogMiddleware:
    """Logs each HTTP request once it is answered, whoever answered it (a route, an error
    handler, the authentication or body-limit middleware)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0
        call = scope[SCOPE_KEY] = HookCall()

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            if log.isEnabledFor(logging.INFO):
                # An exception escaping the app is answered 500 by Starlette, outside us.
                _log(scope, status or 500, started, call)


def _log(scope: Scope, status: int, started: float, call: HookCall) -> None:
    method, path = scope["method"], scope["path"]
    client = scope.get("client")
    fields: dict[str, object] = {
        "method": method,
        "path": path,
        "status": status,
        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        "client": f"{client[0]}:{client[1]}" if client else None,
    }
    if call.service is not None:
        fields["service"] = call.service
        if call.cards is not None:
            fields["cards"] = call.cards
    if call.hook_instance is not None:
        fields["hookInstance"] = call.hook_instance
    log.info("%s %s %d", method, path, status, extra=fields)
