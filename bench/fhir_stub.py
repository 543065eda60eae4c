"""A FHIR server stub for the fallback benchmark: `uvicorn bench.fhir_stub:app`.

Answers `Condition?patient=` and `MedicationRequest?patient=` searches with the bundles in
the file named by BENCH_STUB_DATA, each after BENCH_STUB_LATENCY_MS, and counts requests in
flight: a maximum of two or more proves the service called back in parallel.
GET /_stats reports the counts; POST /_reset clears them.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import orjson

from bench.asgi import Receive, Send, answer_lifespan

DATA_ENV = "BENCH_STUB_DATA"
LATENCY_ENV = "BENCH_STUB_LATENCY_MS"


def _data() -> dict[str, bytes]:
    path = os.environ.get(DATA_ENV)
    loaded: dict[str, Any] = orjson.loads(Path(path).read_bytes()) if path else {}
    return {key: orjson.dumps(value) for key, value in loaded.items()}


_BUNDLES = _data()  # resource type → searchset Bundle bytes
_LATENCY_S = float(os.environ.get(LATENCY_ENV, "50")) / 1000
_EMPTY = orjson.dumps({"resourceType": "Bundle", "type": "searchset", "total": 0, "entry": []})
_stats: dict[str, Any] = {}


def _reset() -> None:
    _stats.update(requests=0, in_flight=0, max_in_flight=0, authorized=0, paths=[])


_reset()


async def _answer(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/fhir+json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await answer_lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    path: str = scope["path"]
    if path == "/_stats":
        await _answer(send, 200, orjson.dumps(_stats))
        return
    if path == "/_reset":
        _reset()
        await _answer(send, 200, b"{}")
        return
    headers = dict(scope["headers"])
    _stats["requests"] += 1
    _stats["in_flight"] += 1
    _stats["max_in_flight"] = max(_stats["max_in_flight"], _stats["in_flight"])
    if len(_stats["paths"]) < 20:  # a sample of what was asked, bounded
        _stats["paths"].append(f"{path}?{scope['query_string'].decode()}")
    if headers.get(b"authorization", b"").lower().startswith(b"bearer "):
        _stats["authorized"] += 1
    try:
        await asyncio.sleep(_LATENCY_S)
        resource_type = path.rstrip("/").rsplit("/", 1)[-1]
        await _answer(send, 200, _BUNDLES.get(resource_type, _EMPTY))
    finally:
        _stats["in_flight"] -= 1
