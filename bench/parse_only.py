"""The parse-only endpoint: the yardstick of the HTTP comparison. It reads the request body,
parses it with orjson, and answers `{"cards": []}`: what any CDS Hooks service must at least
do, served by the same uvicorn as the service. Served as `uvicorn bench.parse_only:app`.
"""

from __future__ import annotations

from typing import Any

import orjson

from bench.asgi import Receive, Send, answer_lifespan

_ANSWER = b'{"cards":[]}'
_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(_ANSWER)).encode()),
]


async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await answer_lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    orjson.loads(b"".join(chunks))
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": _ANSWER})
