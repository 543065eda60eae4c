"""The bare ASGI endpoint HTTP throughput is compared with: it reads the request body and
answers with a precomputed response (the real service's answer to the same request), so it
costs only what uvicorn itself costs. Served as `uvicorn bench.bare:app`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

from bench.asgi import Receive, Send, answer_lifespan

RESPONSE_ENV = "BENCH_BARE_RESPONSE"
# When set, the endpoint also parses the request and serialises the response with orjson:
# the JSON floor served over HTTP, a reference for what the service could reach at best.
PARSE_ENV = "BENCH_BARE_PARSE"


def _response() -> bytes:
    path = os.environ.get(RESPONSE_ENV)
    return Path(path).read_bytes() if path else b'{"cards":[]}'


_BODY = _response()
_PARSE = os.environ.get(PARSE_ENV) == "1"
_RESPONSE_OBJECT = orjson.loads(_BODY)
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
    body = _BODY
    if _PARSE:
        orjson.loads(b"".join(chunks))
        body = orjson.dumps(_RESPONSE_OBJECT)
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": body})
