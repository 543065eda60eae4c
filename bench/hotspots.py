"""Where the time goes: a pyinstrument profile of repeated hook calls, reduced to the
functions with the most self time and the most inclusive time.

pyinstrument is a development tool (`pip install pyinstrument`), not a runtime dependency:
without it this part reports itself skipped.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import orjson

from bench.asgi import AsgiApp, Lifespan, post
from bench.patients import HOOK_PATHS, Chart, hook_request

# Library code grouped by package, so "pydantic" or "starlette" shows as one line.
_GROUPS = ("pydantic", "starlette", "fastapi", "uvicorn", "orjson", "asyncio", "anyio", "uuid")
_LOCAL = ("cds", "fhir_mappings", "guideline", "cards", "bench")


@dataclass(frozen=True, slots=True)
class Hotspot:
    function: str
    where: str
    seconds: float
    share: float

    def to_json(self) -> dict[str, Any]:
        return {"function": self.function, "where": self.where, "share": round(self.share, 4)}


def _where(frame: Any) -> str:
    return f"{frame.file_path_short}:{frame.line_no}"


def _group(frame: Any) -> str:
    path = (frame.file_path or "").replace("\\", "/")
    for name in _LOCAL:
        if f"/{name}/" in path and "site-packages" not in path:
            return f"{name}/ (this repo)"
    for name in _GROUPS:
        if f"/{name}/" in path or path.endswith(f"/{name}.py"):
            return name
    if frame.file_path_short == "<built-in>" or not path:
        return "built-ins (C, e.g. orjson.loads)"
    return "other"


Table = dict[tuple[str, str], float]


def _walk(root: Any) -> tuple[Table, Table, dict[str, float]]:
    own: Table = defaultdict(float)
    inclusive: Table = defaultdict(float)
    groups: dict[str, float] = defaultdict(float)
    stack: list[tuple[Any, frozenset[tuple[str, str]]]] = [(root, frozenset())]
    while stack:
        frame, above = stack.pop()
        key = (frame.function, _where(frame))
        real = [c for c in frame.children if not c.is_synthetic]
        # Self time is what the children do not account for; pyinstrument's synthetic
        # "[self]"/"[await]" leaves are part of it.
        self_time = frame.time - sum(c.time for c in real)
        own[key] += self_time
        groups[_group(frame)] += self_time
        # Inclusive time counts once per stack, not once per recursion, and only for this
        # repo's code: the framework's wrappers all read ~100% and say nothing.
        if (
            key not in above
            and _group(frame).endswith("(this repo)")
            and "/bench/" not in (frame.file_path or "")
        ):
            inclusive[key] += frame.time
        stack.extend((child, above | {key}) for child in real)
    return own, inclusive, groups


def _top(table: dict[tuple[str, str], float], total: float, count: int) -> list[Hotspot]:
    ranked = sorted(table.items(), key=lambda item: item[1], reverse=True)[:count]
    return [Hotspot(f, w, s, s / total) for (f, w), s in ranked if total > 0]


async def _calls(
    app: AsgiApp, path: str, body: bytes, iterations: int, profiler: Any = None
) -> None:
    """`iterations` hook calls; when a profiler is given, it samples the calls alone, not
    the app's start-up and shutdown (its clients' TLS set-up read as a hook's cost)."""
    async with Lifespan(app) as lifespan:
        if profiler is not None:
            profiler.start()
        try:
            for _ in range(iterations):
                await post(app, path, body, lifespan.state)
        finally:
            if profiler is not None:
                profiler.stop()


def profile(
    app: AsgiApp, chart: Chart, hook: str, iterations: int, top: int = 12
) -> dict[str, Any]:
    try:
        from pyinstrument import Profiler
    except ImportError:
        return {"outcome": "skipped: pyinstrument is not installed"}
    path = HOOK_PATHS[hook]
    body = orjson.dumps(hook_request(chart, hook))
    asyncio.run(_calls(app, path, body, 3))  # warm-up outside the profile
    profiler = Profiler(interval=0.0002, async_mode="disabled")
    asyncio.run(_calls(app, path, body, iterations, profiler))
    session = profiler.last_session
    root = session.root_frame() if session is not None else None
    if root is None:
        return {"outcome": "skipped: no samples"}
    own, inclusive, groups = _walk(root)
    total = root.time
    return {
        "outcome": "measured",
        "chart": chart.name,
        "hook": hook,
        "iterations": iterations,
        "profiled_s": round(total, 3),
        "self_time": [h.to_json() for h in _top(own, total, top)],
        "inclusive_time": [h.to_json() for h in _top(inclusive, total, top + 8)],
        "by_package": {
            name: round(seconds / total, 4)
            for name, seconds in sorted(groups.items(), key=lambda item: item[1], reverse=True)
        },
    }
