"""Where one worker's CPU goes under load: `python -m bench.worker_profile`.

Serves the service as `plp-cds serve` runs it (one worker, default settings), loads it with
wrk (typical patient-view, 8 connections), samples the worker with py-spy meanwhile
(`pip install py-spy`; non-blocking, every thread), and splits the server CPU per request,
read from /proc over the same run, into slices by what each sample was doing. The slices
are those of issue 15, so a change can be judged by the slice it was meant to shrink.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson

from bench.patients import MissingPatients, chart, hook_request
from bench.servers import server
from bench.targets import service

# A frame anywhere in the stack that belongs to one of these makes the sample theirs: what
# logging, metrics, recording or uuid generation call is their cost, whatever it is.
OWNERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("logging", ("logging/__init__.py", "cds/ops/logging.py", "uvicorn/logging.py")),
    ("metrics", ("prometheus_client/", "cds/ops/metrics.py")),
    ("card recording", ("cds/storage/", "sqlalchemy/", "aiosqlite/", "sqlite3/")),
    ("uuid4 (card uuids)", ("/uuid.py", "(uuid.py")),
)
# Otherwise the innermost frame that names a part decides; library code below it (pydantic,
# json, re, …) is charged to the part that called it.
PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("orjson parse", ("parse_json_object ",)),
    ("response body (orjson)", ("cds/api/responses.py",)),
    ("cards and response model", ("cards/",)),
    ("request model and checks", ("cds/api/models.py", "parse_hook_request ", "cds/api/limits.py")),
    ("resource index and prefetch checks", ("fhir_mappings/resources.py", "cds/fhir/")),
    ("facts and guideline", ("fhir_mappings/", "guideline/", "cds/api/hooks.py")),
    (
        "thread hops (sync dependencies)",
        ("anyio/", "concurrent/futures", "threading.py", "queue.py"),
    ),
    (
        "uvicorn (HTTP parsing), event loop",
        ("uvicorn/", "httptools", "h11", "asyncio/", "uvloop", "cds/ops/server.py"),
    ),
    ("FastAPI/Starlette routing, middleware", ("fastapi/", "starlette/", "cds/")),
)
OTHER = "other"
_FRAME = re.compile(r"^(?P<function>\S+) \((?P<where>[^)]*)\)$")


@dataclass(frozen=True, slots=True)
class Slice:
    name: str
    share: float
    ms_per_request: float


def classify(stack: list[str]) -> str:
    """The slice of one sample; `stack` runs from the outermost frame to the innermost."""
    for name, needles in OWNERS:
        if any(needle in frame for frame in stack for needle in needles):
            return name
    for frame in reversed(stack):
        for name, needles in PARTS:
            if any(needle in frame for needle in needles):
                return name
    return OTHER


def parse_raw(lines: Iterable[str]) -> Counter[str]:
    """py-spy's raw (collapsed) output, `thread (id): name;frame;…;frame count`, by slice."""
    slices: Counter[str] = Counter()
    for line in lines:
        line = line.rstrip()
        if not line:
            continue
        stack_text, _, count = line.rpartition(" ")
        frames = stack_text.split(";")
        if frames and frames[0].startswith("thread ("):
            frames = frames[1:]
        slices[classify(frames)] += int(count)
    return slices


def split(slices: Counter[str], cpu_ms_per_request: float) -> list[Slice]:
    total = sum(slices.values())
    return [
        Slice(name, count / total, cpu_ms_per_request * count / total)
        for name, count in slices.most_common()
    ]


def profile(seconds: float, size: str, rate: int) -> tuple[float, int, list[Slice]]:
    body = orjson.dumps(hook_request(chart(size), "patient-view"))
    target = service()
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as scratch:
        work = Path(scratch)
        (work / "body.json").write_bytes(body)
        (work / "post.lua").write_text(
            'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
            f'local f = assert(io.open("{work / "body.json"}", "rb"))\n'
            "wrk.body = f:read('*a')\nf:close()\n"
        )
        env = dict(target.env) | {"DATABASE_URL": f"sqlite:///{work}/bench.db"}
        with server(target.command(1), env=env, ready_path=target.ready_path) as running:
            url = running.base + target.path
            wrk = subprocess.Popen(
                [
                    *("wrk", "-t1", "-c8", f"-d{round(seconds) + 4}s", "--timeout", "30s"),
                    *("-s", str(work / "post.lua"), url),
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            time.sleep(2)  # past start-up and the first calls
            requests_before = _served(running.base)
            cpu_before = running.cpu_seconds()
            raw = Path(os.environ.get("BENCH_PROFILE_RAW") or work / "raw.txt")
            subprocess.run(
                [
                    *("py-spy", "record", "--pid", str(running.pid)),
                    *("--duration", str(round(seconds)), "--rate", str(rate)),
                    # Only the thread holding the GIL: py-spy cannot tell an idle thread
                    # here (the thread pool's waits read as busy), the GIL holder is busy.
                    *("--format", "raw", "--threads", "--gil", "--output", str(raw)),
                ],
                check=True,
                capture_output=True,
            )
            cpu = running.cpu_seconds() - cpu_before
            requests = _served(running.base) - requests_before
            wrk.communicate()
            slices = parse_raw(raw.read_text().splitlines())
    cpu_ms = cpu * 1000 / requests
    return cpu_ms, requests, split(slices, cpu_ms)


def _served(base: str) -> int:
    """Hook calls answered so far, from the service's own /metrics (the CPU is read over the
    same window, so the two divide)."""
    text = httpx.get(base + "/metrics", timeout=10.0).text
    return round(
        sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("cds_hook_duration_seconds_count")
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.worker_profile", description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0, help="default: %(default)s")
    parser.add_argument("--chart", choices=("typical", "large"), default="typical")
    parser.add_argument("--rate", type=int, default=100, help="samples/s (default: %(default)s)")
    args = parser.parse_args(argv)
    missing = [tool for tool in ("py-spy", "wrk") if shutil.which(tool) is None]
    if missing:
        print(f"{parser.prog}: needs {' and '.join(missing)} (pip install py-spy; apt-get "
              "install wrk)", file=sys.stderr)  # fmt: skip
        return 2
    try:
        cpu_ms, requests, slices = profile(args.seconds, args.chart, args.rate)
    except MissingPatients as error:
        print(f"{parser.prog}: {error}", file=sys.stderr)
        return 2
    print(
        f"{args.chart} patient-view, one worker, {requests} requests in {args.seconds:g} s "
        f"sampled; server CPU {cpu_ms:.3f} ms/request (load average "
        f"{os.getloadavg()[0]:.2f}):\n"
    )
    print("| slice | share | ms/request |\n| --- | --- | --- |")
    for s in slices:
        print(f"| {s.name} | {s.share:.0%} | {s.ms_per_request:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
