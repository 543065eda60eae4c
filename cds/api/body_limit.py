"""Request body size limit (CDS_MAX_BODY_BYTES) as a pure ASGI middleware → 413."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cds.api.errors import ServiceError
from cds.api.responses import JsonResponse


class BodyTooLarge(ServiceError):
    def __init__(self, limit: int) -> None:
        super().__init__(413, "too-costly", f"request body is larger than {limit} bytes")


class BodyLimitMiddleware:
    """Refuses a declared Content-Length over the limit before reading anything, and counts
    the bytes actually received, since a chunked body declares no length and a declared
    length can lie.

    Counting happens as the endpoint reads, so the overflow is raised there as a
    ServiceError, which the app's handler turns into the 413; if it escapes the app
    unanswered, this middleware answers it.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _too_large(self.max_bytes, scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge:
            if started:
                raise
            await _too_large(self.max_bytes, scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _too_large(limit: int, scope: Scope, receive: Receive, send: Send) -> None:
    error = BodyTooLarge(limit)
    await JsonResponse(error.body(), status_code=413)(scope, receive, send)
