"""The FHIR-server fallback: prefetch without conditions and medications, a local FHIR stub
with a fixed latency, and the question whether the two call-backs run in parallel (total
≈ one latency) or one after the other (≈ two)."""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.asgi import Lifespan, post
from bench.fhir_stub import DATA_ENV, LATENCY_ENV
from bench.patients import HOOK_PATHS, Chart, hook_request, searchset
from bench.servers import uvicorn_server
from bench.stats import median, percentile

# Two call-backs one after the other cannot take less than two latencies: a total under that,
# with both requests seen in flight at once at the stub, means they overlapped.
SEQUENTIAL_FLOOR = 2.0


@dataclass(frozen=True, slots=True)
class FallbackResult:
    outcome: str  # "measured", or "skipped: …"
    latency_ms: float
    iterations: int = 0
    median_ms: float | None = None
    p99_ms: float | None = None
    fhir_requests_per_call: float | None = None
    max_in_flight: int | None = None
    bearer_share: float | None = None
    cards: int | None = None
    sample_paths: tuple[str, ...] = ()

    @property
    def parallel(self) -> bool | None:
        if self.median_ms is None or self.max_in_flight is None:
            return None
        return self.median_ms < SEQUENTIAL_FLOOR * self.latency_ms and self.max_in_flight >= 2

    def to_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "latency_ms": self.latency_ms,
            "iterations": self.iterations,
            "median_ms": self.median_ms,
            "p99_ms": self.p99_ms,
            "fhir_requests_per_call": self.fhir_requests_per_call,
            "max_in_flight": self.max_in_flight,
            "bearer_share": self.bearer_share,
            "cards": self.cards,
            "sample_paths": list(self.sample_paths),
            "latencies_per_call": (
                None if self.median_ms is None else round(self.median_ms / self.latency_ms, 2)
            ),
            "parallel": self.parallel,
        }


def run(chart: Chart, latency_ms: float, iterations: int) -> FallbackResult:
    with tempfile.TemporaryDirectory(prefix="bench-stub-") as tmp:
        data = Path(tmp) / "data.json"
        data.write_bytes(
            orjson.dumps(
                {
                    "Condition": searchset(chart.conditions),
                    "MedicationRequest": searchset(chart.medications),
                }
            )
        )
        env = {DATA_ENV: str(data), LATENCY_ENV: str(latency_ms)}
        with uvicorn_server("bench.fhir_stub:app", env=env, ready_path="/_stats") as stub:
            return asyncio.run(_measure(chart, stub.base, latency_ms, iterations))


def _service_app(allowlist: str, database_dir: str) -> Any:
    """The app with the stub allowed; its settings are given, the environment is untouched."""
    from cds.app import create_app
    from cds.settings import PrefetchResolution, Settings

    return create_app(
        Settings(
            cds_fhir_allowlist=allowlist,
            cds_prefetch_resolution=PrefetchResolution.FHIR_SERVER,
            database_url=f"sqlite:///{database_dir}/bench.db",
        )
    )


async def _measure(chart: Chart, stub: str, latency_ms: float, iterations: int) -> FallbackResult:
    fhir_server = f"{stub}/fhir"
    with tempfile.TemporaryDirectory(prefix="bench-db-") as database_dir:
        app = _service_app(fhir_server, database_dir)
        request = hook_request(
            chart, "patient-view", prefetch_keys=("patient",), fhir_server=fhir_server
        )
        body = orjson.dumps(request)
        path = HOOK_PATHS["patient-view"]
        async with Lifespan(app) as lifespan, httpx.AsyncClient() as client:
            status, answer = await post(app, path, body, lifespan.state)
            if status == 412:
                return FallbackResult("skipped: fallback returned 412", latency_ms)
            if status != 200:
                return FallbackResult(f"skipped: fallback returned {status}", latency_ms)
            await client.post(f"{stub}/_reset")
            samples = []
            for _ in range(iterations):
                start = time.perf_counter_ns()
                await post(app, path, body, lifespan.state)
                samples.append((time.perf_counter_ns() - start) / 1e6)
            stats = (await client.get(f"{stub}/_stats")).json()
    requests = stats["requests"]
    return FallbackResult(
        outcome="measured",
        latency_ms=latency_ms,
        iterations=iterations,
        median_ms=median(samples),
        p99_ms=percentile(samples, 99),
        fhir_requests_per_call=requests / iterations,
        max_in_flight=stats["max_in_flight"],
        bearer_share=stats["authorized"] / requests if requests else 0.0,
        cards=len(orjson.loads(answer).get("cards", [])),
        sample_paths=tuple(stats["paths"][:4]),
    )
