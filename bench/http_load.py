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
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.servers import Server, server
from bench.stats import median, percentile
from bench.targets import Target

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
    chart: str = "typical"
    # With several workers: the busiest worker's share of the workers' CPU. Keep-alive
    # connections stay on the worker that accepted them, so 1.0 means one did all the work.
    busiest_worker_share: float | None = None
    # Lines the server wrote to stdout/stderr per request: its logging, as configured.
    log_lines_per_request: float | None = None

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
        # A generous timeout: the peers take a quarter of a second per large chart, and a
        # request wrk gives up on would be counted as an error, not as slow.
        command = ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "60s"]
        command += ["-s", str(script), url]
        # Only children that have exited count here: the servers are still running, so the
        # difference is wrk's own CPU.
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        run = subprocess.run(
            command, capture_output=True, text=True, timeout=seconds + 120, check=True
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


@dataclass(slots=True)
class _Tally:
    """One target's rounds, added up."""

    target: str
    rounds: list[LoadResult] = field(default_factory=list)
    cpu_by_process: dict[int, float] = field(default_factory=dict)
    log_lines: int = 0

    def add(self, result: LoadResult, cpu: dict[int, float], log_lines: int) -> None:
        self.rounds.append(result)
        for pid, seconds in cpu.items():
            self.cpu_by_process[pid] = self.cpu_by_process.get(pid, 0.0) + seconds
        self.log_lines += log_lines

    def result(self, chart: str, workers: int, supervisor: int) -> LoadResult:
        rounds = self.rounds
        requests = sum(r.requests for r in rounds)
        duration = sum(r.duration_s for r in rounds)
        cpu = sum(self.cpu_by_process.values())
        client = [r.client_cpu_share for r in rounds if r.client_cpu_share is not None]
        return LoadResult(
            target=self.target,
            workers=workers,
            tool=rounds[0].tool,
            concurrency=rounds[0].concurrency,
            duration_s=round(duration, 2),
            requests=requests,
            errors=sum(r.errors for r in rounds),
            throughput_rps=requests / duration if duration else 0.0,
            # Percentiles of separate runs do not add up: the median round's p50, and the
            # worst round's tail.
            p50_ms=median([r.p50_ms for r in rounds]),
            p95_ms=max(r.p95_ms for r in rounds),
            p99_ms=max(r.p99_ms for r in rounds),
            server_cpu_ms=cpu * 1000 / requests if requests and cpu else None,
            client_cpu_share=sum(client) / len(client) if client else None,
            chart=chart,
            busiest_worker_share=(
                _busiest_share(self.cpu_by_process, supervisor) if workers > 1 else None
            ),
            log_lines_per_request=round(self.log_lines / requests, 2) if requests else None,
        )


SETTLE_S = 0.5


def rounds_for(duration_s: float) -> int:
    """Rounds of at least two seconds each (wrk counts whole seconds), at most five."""
    return max(1, min(5, int(duration_s // 2)))


def run_group(
    targets: list[Target],
    body: bytes,
    *,
    chart: str,
    workers: int,
    concurrency: int,
    duration_s: float,
    max_requests: int,
    tool: str = "auto",
    rounds: int = 1,
) -> tuple[list[LoadResult], list[str]]:
    """Targets served side by side, each checked to answer 200, then loaded in turn, round
    after round: a neighbour's load that comes and goes weighs on them all alike, so their
    ratios hold on a shared machine. Each gets `duration_s` in all; its CPU and log lines
    are read from outside the server, over its own turns only.

    Returns the results and, for a target that did not start or answer, why.
    """
    failures = []
    with ExitStack() as stack:
        running: list[tuple[Target, Server]] = []
        for target in targets:
            try:
                started = stack.enter_context(
                    server(
                        target.command(workers),
                        workers=workers,
                        env=target.env,
                        ready_path=target.ready_path,
                    )
                )
                _check(target, started.base + target.path, body)
            except Exception as error:
                failures.append(f"{chart} {target.name} ({workers} workers): {error}")
                continue
            running.append((target, started))
        tallies = {target.name: _Tally(target.name) for target, _ in running}
        for _ in range(rounds):
            for target, started in running:
                cpu_before = started.cpu_by_process()
                lines_before = started.log_lines()
                result = load(
                    started.base + target.path,
                    body,
                    target=target.name,
                    workers=workers,
                    concurrency=concurrency,
                    duration_s=duration_s / rounds,
                    max_requests=max_requests,
                    tool=tool,
                )
                # Work a call leaves behind (the cards it queued for recording) is its own.
                time.sleep(SETTLE_S)
                cpu_after = started.cpu_by_process()
                used = {pid: cpu_after[pid] - cpu_before.get(pid, 0.0) for pid in cpu_after}
                tallies[target.name].add(result, used, started.log_lines() - lines_before)
        results = [
            tallies[target.name].result(chart, workers, started.pid) for target, started in running
        ]
    return results, failures


def _check(target: Target, url: str, body: bytes) -> None:
    check = httpx.post(url, content=body, headers={"content-type": "application/json"}, timeout=60)
    if check.status_code != 200:
        raise RuntimeError(f"{target.name} answered {check.status_code}: {check.text[:300]}")


def _busiest_share(used: dict[int, float], supervisor: int) -> float | None:
    workers = [cpu for pid, cpu in used.items() if pid != supervisor]
    total = sum(workers)
    return round(max(workers) / total, 2) if total > 0 else None


def verdict(results: list[LoadResult]) -> dict[str, Any]:
    """Service against bare on one worker: the issue's HTTP targets, judged only when the
    bare server, not the load client, set the pace."""
    by_key = {(r.target, r.workers): r for r in results if r.chart == "typical"}
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
