"""The main HTTP figure: server CPU per request of each target over the parse-only
endpoint's, for the same request under the same uvicorn in the same run.

CPU per request is read from /proc, not derived from req/s, so it holds on a machine whose
CPUs are shared with the load client and with other work.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bench.http_load import LoadResult
from bench.targets import BARE, PARSE_ONLY, PARSE_ONLY_H11, SERVICE

# Issue 15: the service, with its default settings, at most 2× parse-only on the typical chart.
TARGET_RATIO = 2.0
TARGET_CHART = "typical"


@dataclass(frozen=True, slots=True)
class Overhead:
    chart: str
    workers: int
    target: str
    cpu_ms: float
    parse_only_cpu_ms: float
    # The service's CPU on the same chart, for a peer: how far behind the peer is.
    service_cpu_ms: float | None

    @property
    def ratio(self) -> float:
        return self.cpu_ms / self.parse_only_cpu_ms

    @property
    def times_service(self) -> float | None:
        return None if self.service_cpu_ms is None else self.cpu_ms / self.service_cpu_ms

    def to_json(self) -> dict[str, Any]:
        times = self.times_service
        return asdict(self) | {
            "ratio": round(self.ratio, 2),
            "times_service": None if times is None else round(times, 1),
        }


def overheads(runs: list[LoadResult]) -> list[Overhead]:
    """Every target beside a parse-only run of the same chart and worker count."""
    by_key = {(r.chart, r.workers, r.target): r for r in runs}
    rows = []
    for run in runs:
        if run.target == PARSE_ONLY or run.server_cpu_ms is None:
            continue
        floor = by_key.get((run.chart, run.workers, PARSE_ONLY))
        if floor is None or not floor.server_cpu_ms:
            continue
        service = by_key.get((run.chart, run.workers, SERVICE))
        rows.append(
            Overhead(
                run.chart,
                run.workers,
                run.target,
                run.server_cpu_ms,
                floor.server_cpu_ms,
                None
                if run.target in (SERVICE, BARE, PARSE_ONLY_H11) or service is None
                else service.server_cpu_ms,
            )
        )
    return rows


def verdict(rows: list[Overhead]) -> dict[str, Any]:
    """The service on the typical chart, one worker: at most TARGET_RATIO × parse-only."""
    row = next(
        (r for r in rows if (r.chart, r.workers, r.target) == (TARGET_CHART, 1, SERVICE)), None
    )
    if row is None:
        return {"measured": False}
    return {
        "measured": True,
        "chart": TARGET_CHART,
        "ratio": round(row.ratio, 2),
        "target_ratio": TARGET_RATIO,
        "meets_target": row.ratio <= TARGET_RATIO,
    }
