"""The bare ASGI endpoint HTTP throughput is compared with: it reads the request body and
answers with a precomputed response (the real service's answer to the same request), so it
costs only what uvicorn itself costs. Served as `uvicorn bench.bare:app`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bench.asgi import Receive, Send, answer_lifespan

RESPONSE_ENV = "BENCH_BARE_RESPONSE"


def _response() -> bytes:
    path = os.environ.get(RESPONSE_ENV)
    return Path(path).read_bytes() if path else b'{"cards":[]}'


_BODY = _response()
_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(_BODY)).encode()),
]


async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await answer_lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    # Drain the body as a real endpoint must.
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": _BODY})
