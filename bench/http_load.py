"""HTTP throughput and latency under a closed-loop load of fixed concurrency.

`wrk` is used when installed (it is written in C, so on a small machine the load generator
takes less CPU from the server); otherwise an asyncio httpx client. Both stop by themselves
after a fixed duration, and the httpx one also after a fixed number of requests.
"""

from __future__ import annotations

import asyncio
import resource
import shutil
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.stats import median, percentile

_WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open("%(body)s", "rb"))
wrk.body = f:read("*a")
f:close()
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH {\\"requests\\":%%d,\\"duration_us\\":%%d,\\"errors\\":%%d,\\"non2xx\\":%%d," ..
    "\\"p50_us\\":%%d,\\"p95_us\\":%%d,\\"p99_us\\":%%d,\\"max_us\\":%%d}\\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"""


@dataclass(frozen=True, slots=True)
class LoadResult:
    target: str
    workers: int
    tool: str
    concurrency: int
    duration_s: float
    requests: int
    errors: int
    throughput_rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    # Server CPU per request, all workers together: comparable across machines and load
    # tools where req/s is not (the load generator shares the CPUs).
    server_cpu_ms: float | None = None
    # CPU the load client used, as a share of one core over the run: near 1 the client,
    # not the server, set the pace (both clients drive the load from one thread).
    client_cpu_share: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def load(
    url: str,
    body: bytes,
    *,
    target: str,
    workers: int,
    concurrency: int,
    duration_s: float,
    max_requests: int,
    tool: str = "auto",
) -> LoadResult:
    if tool == "auto":
        tool = "wrk" if shutil.which("wrk") else "httpx"
    if tool == "wrk":
        return _wrk(url, body, target, workers, concurrency, duration_s)
    return asyncio.run(_httpx(url, body, target, workers, concurrency, duration_s, max_requests))


def _wrk(
    url: str, body: bytes, target: str, workers: int, concurrency: int, duration_s: float
) -> LoadResult:
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        body_path = Path(tmp) / "body.json"
        body_path.write_bytes(body)
        script = Path(tmp) / "post.lua"
        script.write_text(_WRK_SCRIPT % {"body": body_path})
        seconds = max(1, round(duration_s))
        command = ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "-s", str(script), url]
        # Only children that have exited count here: the servers are still running, so the
        # difference is wrk's own CPU.
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        run = subprocess.run(
            command, capture_output=True, text=True, timeout=seconds + 60, check=True
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next(x for x in run.stdout.splitlines() if x.startswith("BENCH "))
    stats = orjson.loads(line.removeprefix("BENCH "))
    elapsed = stats["duration_us"] / 1e6
    return LoadResult(
        target=target,
        workers=workers,
        tool="wrk",
        concurrency=concurrency,
        duration_s=round(elapsed, 2),
        requests=stats["requests"],
        errors=stats["errors"] + stats["non2xx"],
        throughput_rps=stats["requests"] / elapsed,
        p50_ms=stats["p50_us"] / 1000,
        p95_ms=stats["p95_us"] / 1000,
        p99_ms=stats["p99_us"] / 1000,
        client_cpu_share=_cpu_seconds(after, before) / elapsed,
    )


def _cpu_seconds(after: resource.struct_rusage, before: resource.struct_rusage) -> float:
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


async def _httpx(
    url: str,
    body: bytes,
    target: str,
    workers: int,
    concurrency: int,
    duration_s: float,
    max_requests: int,
) -> LoadResult:
    latencies: list[float] = []
    errors = 0
    issued = 0
    headers = {"content-type": "application/json"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    start = time.perf_counter()
    cpu_start = time.process_time()
    deadline = start + duration_s

    async def user(client: httpx.AsyncClient) -> None:
        nonlocal errors, issued
        # Bounded by time and by count, whichever comes first.
        while time.perf_counter() < deadline and issued < max_requests:
            issued += 1
            sent = time.perf_counter()
            try:
                response = await client.post(url, content=body, headers=headers)
                if response.status_code != 200:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            latencies.append((time.perf_counter() - sent) * 1000)

    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:
        await asyncio.gather(*(user(client) for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    client_cpu = time.process_time() - cpu_start
    return LoadResult(
        target=target,
        workers=workers,
        tool="httpx",
        concurrency=concurrency,
        duration_s=round(elapsed, 2),
        requests=len(latencies),
        errors=errors,
        throughput_rps=len(latencies) / elapsed,
        p50_ms=median(latencies),
        p95_ms=percentile(latencies, 95),
        p99_ms=percentile(latencies, 99),
        client_cpu_share=client_cpu / elapsed,
    )


THROUGHPUT_TARGET = 0.5  # of the bare endpoint's, on one worker
P99_TARGET_MS = 50.0
# The bare endpoint is the yardstick only when the server set its pace: a server worker busy
# less than this share of the run waited on the load client (or on a busy machine), and a
# share of that rate says nothing about the service. A client using a whole CPU is the
# commonest cause; wrk rarely is one.
SERVER_BUSY_FLOOR = 0.5
CLIENT_SATURATED = 0.9


def compare(
    body: bytes,
    response: bytes,
    path: str,
    *,
    workers: tuple[int, ...],
    concurrency: int,
    duration_s: float,
    max_requests: int,
    tool: str = "auto",
) -> list[LoadResult]:
    """The service and the bare endpoint, each under the same load, at each worker count."""
    # Imported here so `bench.http_load` stays importable for the load generator alone.
    from bench.bare import PARSE_ENV, RESPONSE_ENV
    from bench.servers import uvicorn_server

    results = []
    with tempfile.TemporaryDirectory(prefix="bench-bare-") as tmp:
        response_path = Path(tmp) / "response.json"
        response_path.write_bytes(response)
        targets = {
            # As `plp-cds serve` runs it (start-up objects frozen out of the collector).
            "service": ("cds.app:create_served_app", {}),
            "bare": ("bench.bare:app", {RESPONSE_ENV: str(response_path)}),
            "bare+json": (
                "bench.bare:app",
                {RESPONSE_ENV: str(response_path), PARSE_ENV: "1"},
            ),
        }
        for count in workers:
            for name, (app, env) in targets.items():
                factory = name == "service"
                with uvicorn_server(app, workers=count, factory=factory, env=env) as server:
                    url = server.base + path
                    check = httpx.post(url, content=body, timeout=30.0)
                    if check.status_code != 200:
                        raise RuntimeError(f"{name} answered {check.status_code} at {url}")
                    cpu_before = server.cpu_seconds()
                    result = load(
                        url,
                        body,
                        target=name,
                        workers=count,
                        concurrency=concurrency,
                        duration_s=duration_s,
                        max_requests=max_requests,
                        tool=tool,
                    )
                    cpu = server.cpu_seconds() - cpu_before
                    cpu_ms = cpu * 1000 / result.requests if result.requests and cpu else None
                    results.append(replace(result, server_cpu_ms=cpu_ms))
    return results


def verdict(results: list[LoadResult]) -> dict[str, Any]:
    """Service against bare on one worker: the issue's HTTP targets, judged only when the
    bare server, not the load client, set the pace."""
    by_key = {(r.target, r.workers): r for r in results}
    service, bare = by_key.get(("service", 1)), by_key.get(("bare", 1))
    if service is None or bare is None:
        return {"measured": False}
    share = service.throughput_rps / bare.throughput_rps
    server_busy = (
        None if bare.server_cpu_ms is None else bare.server_cpu_ms * bare.throughput_rps / 1000
    )
    client_bound = (bare.client_cpu_share or 0.0) >= CLIENT_SATURATED or (
        server_busy is not None and server_busy < SERVER_BUSY_FLOOR
    )
    return {
        "measured": True,
        "judged": not client_bound,
        "client_cpu_share_on_bare": _rounded(bare.client_cpu_share),
        "server_busy_share_on_bare": _rounded(server_busy),
        "throughput_share_of_bare": round(share, 3),
        "service_p99_ms": round(service.p99_ms, 2),
        "target_share": THROUGHPUT_TARGET,
        "target_p99_ms": P99_TARGET_MS,
        "meets_target": (
            None if client_bound else share >= THROUGHPUT_TARGET and service.p99_ms < P99_TARGET_MS
        ),
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
