"""`python -m bench.saturation`: one worker at full load for a minute, on SQLite and on
PostgreSQL, and the question whether every card it returned was recorded.

`plp-cds serve` (one worker, default settings, its JSON log to a file) answers a closed loop
of keep-alive connections as fast as it can. The client keeps the uuid of every card in every
answer; afterwards the database must hold exactly those. Printed besides: how busy the
server was (its CPU time over the wall time: near 1 means saturated), how the card writer
kept up (writes, cards per write, time per write, the most cards waiting in the journal at
any scrape), how long after the load the last card reached the database, and how long the
server took to stop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.load import closed_loop
from bench.patients import HOOK_PATHS, REPO
from bench.report import RESULTS, write_json
from bench.scratch import (
    DEFAULT_POSTGRES,
    histogram_quantile,
    recorded_uuids,
    scrape,
    scratch_database,
    total,
)
from bench.servers import LOOPBACK, plp_cds_server
from bench.stats import percentile

EXAMPLES = {
    "order-sign": REPO / "examples" / "order-sign.json",
    "patient-view": REPO / "examples" / "patient-view.json",
}


@dataclass(frozen=True, slots=True)
class SaturationResult:
    database: str
    request: str
    seconds: float
    concurrency: int
    calls: int
    failed_calls: int
    calls_per_s: float
    p99_ms: float
    server_busy: float  # server CPU seconds per wall second (1.0: one core, all the time)
    cards_returned: int
    cards_recorded: int
    missing: int
    duplicated: int
    writes: int
    cards_per_write: float
    write_ms_mean: float
    write_ms_p99_bucket: float | None
    most_in_journal: int
    write_failures: int
    lost: int
    drained_after_s: float
    shutdown_s: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def run_one(
    kind: str, request: str, seconds: float, concurrency: int, postgres_url: str
) -> SaturationResult:
    body = EXAMPLES[request].read_bytes()
    path = HOOK_PATHS[request]
    with (
        tempfile.TemporaryDirectory(prefix="plp-cds-saturation-") as tmp,
        scratch_database(kind, Path(tmp), postgres_url) as database_url,
    ):
        env = {"DATABASE_URL": database_url, "CDS_STATE_DIR": f"{tmp}/state"}
        server_cm = plp_cds_server(env=env)
        server = server_cm.__enter__()
        stopped = False
        try:
            port = int(server.base.rsplit(":", 1)[1])
            check = httpx.post(server.base + path, content=body, timeout=30)
            check.raise_for_status()
            warm = [c["uuid"] for c in check.json()["cards"]]
            cpu_before, wall_before = server.cpu_seconds(), time.monotonic()
            outcome, most = asyncio.run(
                _load_and_watch(server.base, port, path, body, concurrency, seconds)
            )
            busy = (server.cpu_seconds() - cpu_before) / (time.monotonic() - wall_before)
            returned = warm + outcome.card_uuids
            load_ended = time.monotonic()
            drained = _wait_drained(server.base, len(returned), timeout_s=120)
            drained_after = time.monotonic() - load_ended
            samples = scrape(server.base)
            stopping = time.monotonic()
            server_cm.__exit__(None, None, None)
            stopped = True
            shutdown_s = time.monotonic() - stopping
            recorded = recorded_uuids(database_url)
        finally:
            if not stopped:
                server_cm.__exit__(*sys.exc_info())
    writes = int(samples.get(("cds_card_write_seconds_count", frozenset()), 0))
    write_sum = samples.get(("cds_card_write_seconds_sum", frozenset()), 0.0)
    p99_bucket = histogram_quantile(samples, "cds_card_write_seconds", 0.99)
    return SaturationResult(
        database=kind,
        request=request,
        seconds=round(outcome.seconds, 1),
        concurrency=concurrency,
        calls=outcome.calls,
        failed_calls=outcome.failed,
        calls_per_s=round(outcome.calls / outcome.seconds, 1),
        p99_ms=round(percentile(outcome.latencies_ms, 99), 1),
        server_busy=round(busy, 2),
        cards_returned=len(returned),
        cards_recorded=len(recorded),
        missing=len(set(returned) - set(recorded)),
        duplicated=len(recorded) - len(set(recorded)),
        writes=writes,
        cards_per_write=round(len(recorded) / writes, 1) if writes else 0.0,
        write_ms_mean=round(write_sum / writes * 1000, 1) if writes else 0.0,
        write_ms_p99_bucket=None if p99_bucket is None else p99_bucket * 1000,
        most_in_journal=most,
        write_failures=int(total(samples, "cds_card_write_failures_total")),
        lost=int(total(samples, "cds_cards_lost_total")),
        drained_after_s=round(drained_after, 2) if drained else -1.0,
        shutdown_s=round(shutdown_s, 2),
    )


async def _load_and_watch(
    base: str, port: int, path: str, body: bytes, concurrency: int, seconds: float
) -> tuple[Any, int]:
    """The load, and the most cards seen waiting in the journal, scraped every 2 s."""
    most = 0
    done = asyncio.Event()

    async def watch() -> None:
        nonlocal most
        async with httpx.AsyncClient(timeout=30) as client:
            while not done.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(done.wait(), 2.0)
                text = (await client.get(f"{base}/metrics")).text
                for line in text.splitlines():
                    if line.startswith("cds_card_journal_cards "):
                        most = max(most, int(float(line.split()[1])))

    watcher = asyncio.create_task(watch())
    outcome = await closed_loop(
        LOOPBACK, port, path, body, concurrency=concurrency, seconds=seconds
    )
    done.set()
    await watcher
    return outcome, most


def _wait_drained(base: str, returned: int, timeout_s: float) -> bool:
    """Until the service says every card it returned is recorded, or `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        samples = scrape(base)
        if total(samples, "cds_cards_recorded_total") >= returned and not total(
            samples, "cds_card_journal_cards"
        ):
            return True
        time.sleep(0.2)
    return False


def markdown(results: list[SaturationResult]) -> str:
    head = (
        "| database | request | seconds | calls | calls/s | p99 ms | server busy | cards returned "
        "| cards recorded | missing | duplicated | writes | cards/write | ms/write (mean) "
        "| most in journal | recorded all after | shutdown s |"
    )
    rows = [head, "|" + " --- |" * 17]
    for r in results:
        rows.append(
            f"| {r.database} | {r.request} | {r.seconds:g} | {r.calls} | {r.calls_per_s:g} "
            f"| {r.p99_ms:g} | {r.server_busy:.2f} | {r.cards_returned} | {r.cards_recorded} "
            f"| {r.missing} | {r.duplicated} | {r.writes} | {r.cards_per_write:g} "
            f"| {r.write_ms_mean:g} | {r.most_in_journal} | {r.drained_after_s:g} s "
            f"| {r.shutdown_s:g} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None, prog: str = "python -m bench.saturation") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0, help="load per run (default: 60)")
    parser.add_argument(
        "--databases",
        default="sqlite,postgresql",
        help="comma-separated, of sqlite and postgresql (default: %(default)s)",
    )
    parser.add_argument(
        "--request",
        choices=sorted(EXAMPLES),
        default="order-sign",
        help="the example request sent (default: %(default)s, four cards per call)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=32, help="keep-alive connections (default: 32)"
    )
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES,
        help="a PostgreSQL server to create the scratch database on "
        "(default: BENCH_POSTGRES_URL, else %(default)s)",
    )
    parser.add_argument(
        "--out", type=Path, default=RESULTS / "saturation.json", help="results as JSON"
    )
    args = parser.parse_args(argv)
    kinds = [k.strip() for k in args.databases.split(",") if k.strip()]
    unknown = set(kinds) - {"sqlite", "postgresql"}
    if unknown:
        parser.error(f"unknown database(s): {', '.join(sorted(unknown))}")
    results = []
    for kind in kinds:
        print(f"… {kind}: {args.seconds:g} s at full load", file=sys.stderr, flush=True)
        results.append(
            run_one(kind, args.request, args.seconds, args.concurrency, args.postgres_url)
        )
    write_json({"saturation": [r.to_json() for r in results]}, args.out)
    print(markdown(results))
    return 0 if all(r.missing == 0 and r.duplicated == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
