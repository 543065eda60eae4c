"""`python -m bench.faults` (or `python -m bench --faults`): database outages and killed
workers under steady load, and the cards returned against the cards recorded.

`plp-cds serve --workers 2` runs against a scratch PostgreSQL database reached through a TCP
proxy (`bench/tcp_proxy.py`), which stops the database as the service sees it (connections
cut, new ones refused) or freezes it (no byte moves), since the server itself may be shared.
A steady open-loop load (each call on a connection of its own, so calls spread over both
workers) keeps the uuid of every card answered; after each scenario the database must hold
every one of them, once.

Scenarios, each on the same server:

- outage: the database stopped for `--outage-seconds` under load, then started again;
- kill: one worker killed with SIGKILL under load (uvicorn starts a new one);
- outage+kill: the database stopped, a worker killed while its journal holds the records
  of the outage, the database started again: the new worker replays the dead one's journal;
- freeze: the database frozen; hook calls go on, feedback is refused within its deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy.engine import make_url

from bench.load import OpenLoop
from bench.patients import HOOK_PATHS, REPO
from bench.report import RESULTS, write_json
from bench.scratch import DEFAULT_POSTGRES, recorded_uuids, scrape, scratch_database, total
from bench.servers import LOOPBACK, Server, plp_cds_server, worker_pids
from bench.tcp_proxy import TcpProxy

REQUEST = REPO / "examples" / "order-sign.json"
FEEDBACK_PATH = "/cds-services/phantom-limb-pain-order-sign/feedback"


@dataclass(slots=True)
class ScenarioResult:
    scenario: str
    seconds: float
    calls: int
    failed_calls: int
    cards_returned: int
    cards_recorded: int = 0
    missing: int = 0
    write_failures: int = 0
    lost: int = 0
    recorded_all_after_s: float | None = None
    most_in_journal: int = 0
    taken_over: int = 0  # cards replayed from the journal of a killed worker
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Faults:
    def __init__(
        self, server: Server, proxy: TcpProxy, database_url: str, rate: float, log: Path
    ) -> None:
        self.server = server
        self.log = log
        self.proxy = proxy
        self.database_url = database_url
        self.rate = rate
        self.port = int(server.base.rsplit(":", 1)[1])
        self.body = REQUEST.read_bytes()

    async def run(
        self, name: str, seconds: float, steps: list[tuple[float, str, Callable[[], Any]]]
    ) -> ScenarioResult:
        _say(f"{name}: {seconds:g} s at {self.rate:g} calls/s")
        before = scrape(self.server.base)
        log_from = self.log.stat().st_size
        load = OpenLoop(LOOPBACK, self.port, HOOK_PATHS["order-sign"], self.body, self.rate)
        started = time.monotonic()
        load.start()
        most = 0

        async def watch() -> None:
            nonlocal most
            async with httpx.AsyncClient(base_url=self.server.base, timeout=30) as client:
                while True:
                    await asyncio.sleep(1.0)
                    with contextlib.suppress(httpx.HTTPError):
                        text = (await client.get("/metrics")).text
                        for line in text.splitlines():
                            if line.startswith("cds_card_journal_cards "):
                                most = max(most, int(float(line.split()[1])))

        watcher = asyncio.create_task(watch())
        notes = []
        for at, what, action in steps:
            await asyncio.sleep(max(0.0, started + at - time.monotonic()))
            _say(f"  t={at:g} s: {what}")
            note = await asyncio.to_thread(action)
            if note:
                notes.append(str(note))
        await asyncio.sleep(max(0.0, started + seconds - time.monotonic()))
        outcome = await load.stop()
        ended = time.monotonic()
        watcher.cancel()
        returned = set(outcome.card_uuids)
        recorded_after = await asyncio.to_thread(self._wait_recorded, returned, 120.0)
        after = scrape(self.server.base)
        recorded = returned & set(await asyncio.to_thread(recorded_uuids, self.database_url))
        return ScenarioResult(
            scenario=name,
            seconds=round(ended - started, 1),
            calls=outcome.calls + outcome.not_started,
            failed_calls=outcome.failed + outcome.not_started,
            cards_returned=len(returned),
            cards_recorded=len(recorded),
            missing=len(returned - recorded),
            write_failures=int(
                total(after, "cds_card_write_failures_total")
                - total(before, "cds_card_write_failures_total")
            ),
            lost=int(total(after, "cds_cards_lost_total") - total(before, "cds_cards_lost_total")),
            recorded_all_after_s=None if recorded_after is None else round(recorded_after, 1),
            most_in_journal=most,
            taken_over=self._taken_over(log_from),
            notes=notes,
        )

    def _taken_over(self, log_from: int) -> int:
        """Cards the workers took over from ended workers' journals, by their log lines."""
        with self.log.open("rb") as lines:
            lines.seek(log_from)
            taken = 0
            for line in lines:
                with contextlib.suppress(ValueError):
                    entry = orjson.loads(line)
                    if str(entry.get("message", "")).startswith("took over "):
                        taken += int(entry.get("cards", 0))
        return taken

    def _wait_recorded(self, returned: set[str], timeout_s: float) -> float | None:
        """Seconds after the load until every returned card is on record; None if never."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            if returned <= set(recorded_uuids(self.database_url)):
                return time.monotonic() - started
            time.sleep(0.5)
        return None

    def kill_a_worker(self) -> str:
        workers = worker_pids(self.server)
        os.kill(workers[0], signal.SIGKILL)
        return f"killed worker {workers[0]} (of {len(workers)})"

    def frozen_feedback(self, seconds: float) -> str:
        """Feedback sent while the database is frozen: every answer's status and time."""
        self.proxy.freeze()
        answers: list[tuple[int, float]] = []
        until = time.monotonic() + seconds
        try:
            with httpx.Client(base_url=self.server.base, timeout=60) as client:
                while time.monotonic() < until:
                    sent = time.monotonic()
                    report = {
                        "card": "bench-card",
                        "outcome": "overridden",
                        "outcomeTimestamp": "2026-11-24T10:00:00Z",
                    }
                    response = client.post(FEEDBACK_PATH, json={"feedback": [report]})
                    answers.append((response.status_code, time.monotonic() - sent))
                    time.sleep(0.5)
        finally:
            self.proxy.thaw()
        statuses = sorted({status for status, _ in answers})
        slowest = max(elapsed for _, elapsed in answers)
        return (
            f"{len(answers)} feedback calls during the freeze: status {statuses}, "
            f"slowest answer {slowest:.2f} s"
        )


async def _scenarios(faults: Faults, outage_s: float) -> list[ScenarioResult]:
    proxy = faults.proxy
    lead, tail = 10.0, 15.0
    return [
        await faults.run(
            "outage",
            lead + outage_s + tail,
            [
                (lead, "database stopped", proxy.stop),
                (lead + outage_s, "database started", proxy.start),
            ],
        ),
        await faults.run("kill", 25.0, [(10.0, "SIGKILL a worker", faults.kill_a_worker)]),
        await faults.run(
            "outage+kill",
            lead + outage_s + tail,
            [
                (lead, "database stopped", proxy.stop),
                (lead + outage_s / 2, "SIGKILL a worker", faults.kill_a_worker),
                (lead + outage_s, "database started", proxy.start),
            ],
        ),
        await faults.run(
            "freeze", lead + 10.0 + tail, [(lead, "database frozen for 10 s", _freeze(faults))]
        ),
    ]


def _freeze(faults: Faults) -> Callable[[], str]:
    return lambda: faults.frozen_feedback(10.0)


def markdown(results: list[ScenarioResult]) -> str:
    rows = [
        "| scenario | seconds | hook calls | failed calls | cards returned | cards recorded "
        "| missing | failed writes (retried) | most in journal | taken over from a killed "
        "worker | lost | all recorded after |",
        "|" + " --- |" * 12,
    ]
    for r in results:
        after = "never" if r.recorded_all_after_s is None else f"{r.recorded_all_after_s:g} s"
        rows.append(
            f"| {r.scenario} | {r.seconds:g} | {r.calls} | {r.failed_calls} "
            f"| {r.cards_returned} | {r.cards_recorded} | {r.missing} | {r.write_failures} "
            f"| {r.most_in_journal} | {r.taken_over} | {r.lost} | {after} |"
        )
    notes = [f"- {r.scenario}: {note}" for r in results for note in r.notes]
    return "\n".join(rows + (["", *notes] if notes else []))


def main(argv: list[str] | None = None, prog: str = "python -m bench.faults") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument("--rate", type=float, default=300.0, help="hook calls/s (default: 300)")
    parser.add_argument(
        "--outage-seconds", type=float, default=20.0, help="database down (default: 20)"
    )
    parser.add_argument("--workers", type=int, default=2, help="workers (default: 2)")
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES,
        help="a PostgreSQL server to create the scratch database on "
        "(default: BENCH_POSTGRES_URL, else %(default)s)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "faults.json")
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="plp-cds-faults-") as tmp,
        scratch_database("postgresql", Path(tmp), args.postgres_url) as database_url,
    ):
        url = make_url(database_url)
        with TcpProxy(url.host or LOOPBACK, url.port or 5432) as proxy:
            proxied = url.set(host=proxy.host, port=proxy.port)
            env = {
                "DATABASE_URL": proxied.render_as_string(hide_password=False),
                "CDS_STATE_DIR": f"{tmp}/state",
                "CDS_RECORD_RETRY_MAX_S": "1.0",
            }
            with plp_cds_server(workers=args.workers, env=env) as server:
                assert server.log_path is not None
                faults = Faults(server, proxy, database_url, args.rate, server.log_path)
                results = asyncio.run(_scenarios(faults, args.outage_seconds))
            duplicated = _duplicates(database_url)
    write_json(
        {"faults": [r.to_json() for r in results], "duplicated_records": duplicated}, args.out
    )
    print(markdown(results))
    print(f"\nCards recorded more than once: {duplicated}")
    return 0 if duplicated == 0 and all(r.missing == 0 for r in results) else 1


def _duplicates(database_url: str) -> int:
    recorded = recorded_uuids(database_url)
    return len(recorded) - len(set(recorded))


def _say(message: str) -> None:
    print(f"… {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
