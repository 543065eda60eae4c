"""The yardsticks the HTTP section serves beside the service, under the same uvicorn:

- `bench.floors:parse_only` reads the request body, parses it with orjson and answers
  `{"cards": []}`: what any CDS Hooks service must at least do;
- `bench.floors:bare` reads the body and answers a precomputed response (the service's own
  answer to the same request, from BENCH_BARE_RESPONSE): what uvicorn itself costs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

from bench.asgi import AsgiApp, Receive, Send, answer_lifespan

RESPONSE_ENV = "BENCH_BARE_RESPONSE"
NO_CARDS = b'{"cards":[]}'


def endpoint(answer: bytes, *, parse: bool) -> AsgiApp:
    """A raw ASGI app that drains the body (and parses it when `parse`) and sends `answer`."""
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(answer)).encode()),
    ]

    async def app(scope: Any, receive: Receive, send: Send) -> None:
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
        if parse:
            orjson.loads(b"".join(chunks))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    return app


def _bare_answer() -> bytes:
    path = os.environ.get(RESPONSE_ENV)
    return Path(path).read_bytes() if path else NO_CARDS


parse_only = endpoint(NO_CARDS, parse=True)
bare = endpoint(_bare_answer(), parse=False)
