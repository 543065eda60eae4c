"""`python -m bench`: run the speed benchmark, print the table, write bench/results/latest.json."""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from bench import fallback, hotspots, http_load, inprocess
from bench.patients import (
    HOOK_PATHS,
    SIZES,
    Chart,
    MissingPatients,
    chart,
    hook_request,
    release_bundles,
)
from bench.report import RESULTS, machine, markdown, write_json

SECTIONS = ("inprocess", "http", "peers", "fallback", "profile")
# Benchmarks of their own, reached through `python -m bench --faults …` too.
OTHER_BENCHMARKS = {"--faults": "bench.faults", "--saturation": "bench.saturation"}


def parse_args(argv: list[str] | None, prog: str = "python -m bench") -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=__doc__,
        epilog="Reliability: `--faults [options]` runs the fault benchmark (python -m "
        "bench.faults), `--saturation [options]` the recording-at-saturation benchmark "
        "(python -m bench.saturation); each has its own --help.",
    )
    parser.add_argument("--quick", action="store_true", help="short run, about a minute")
    parser.add_argument(
        "--iterations", type=int, help="timed calls per hook (default: 200; 30 with --quick)"
    )
    parser.add_argument(
        "--warmup", type=int, help="untimed calls first (default: 20; 5 with --quick)"
    )
    parser.add_argument(
        "--http-seconds",
        type=float,
        help="seconds of load per HTTP run (default: 10; 3 with --quick)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=8, help="HTTP connections (default: %(default)s)"
    )
    parser.add_argument(
        "--workers", default="1,2", help="uvicorn worker counts to try (default: %(default)s)"
    )
    parser.add_argument(
        "--load-tool",
        choices=("auto", "wrk", "httpx"),
        default="auto",
        help="HTTP load client; auto takes wrk when installed (default: %(default)s)",
    )
    parser.add_argument(
        "--peers-venv",
        type=Path,
        metavar="DIR",
        help="a venv to run the peers from when this interpreter lacks them; created with "
        "bench/peers/requirements.txt if missing (default: none)",
    )
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=50.0,
        help="latency of the stub FHIR server (default: %(default)s)",
    )
    parser.add_argument(
        "--skip",
        default="",
        help=f"comma-separated sections to leave out, of {', '.join(SECTIONS)} (default: none)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=RESULTS / "latest.json",
        help="where to write the results as JSON (default: bench/results/latest.json)",
    )
    args = parser.parse_args(argv)
    quick = args.quick
    args.iterations = args.iterations or (30 if quick else 200)
    args.warmup = args.warmup if args.warmup is not None else (5 if quick else 20)
    args.http_seconds = args.http_seconds or (3.0 if quick else 10.0)
    args.fallback_calls = 5 if quick else 20
    args.profile_calls = 10 if quick else 50
    args.skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    unknown = args.skip - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) to skip: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None, prog: str = "python -m bench") -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] and argv[0] in OTHER_BENCHMARKS:
        import importlib

        other = importlib.import_module(OTHER_BENCHMARKS[argv[0]])
        code: int = other.main(argv[1:], prog=f"{prog} {argv[0]}")
        return code
    args = parse_args(argv, prog)
    started = time.monotonic()
    try:
        charts = {size: chart(size) for size in SIZES}
    except MissingPatients as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return 2
    with _scratch_database():
        return _run(args, charts, started)


def _run(args: argparse.Namespace, charts: dict[str, Chart], started: float) -> int:
    # Imported only now, so `--help`, a bad flag and missing patients answer at once.
    from cds.app import create_app
    from cds.ops.lifespan import tune_collector

    app = create_app()
    release_bundles()
    # The benchmark's own long-lived objects (charts, app, imports) are moved out of the
    # collector's reach, as a server's would be after start-up: otherwise every full
    # collection scans the bench's heap and charges it to whichever call triggered it. The
    # collector is then tuned as `plp-cds serve` tunes it, for the hook and the floor alike.
    gc.collect()
    gc.freeze()
    tune_collector()
    results: dict[str, Any] = {
        "machine": machine(),
        "config": {
            "iterations": args.iterations,
            "warmup": args.warmup,
            "http_seconds": args.http_seconds,
            "concurrency": args.concurrency,
            "quick": args.quick,
        },
    }
    measurements = []
    for size, patient in charts.items():
        for hook in HOOK_PATHS if "inprocess" not in args.skip else ():
            _say(f"in-process {size} {hook}")
            measurements.append(inprocess.measure(app, patient, hook, args.iterations, args.warmup))
    results["inprocess"] = [m.to_json() for m in measurements]
    results["growth"] = [g.to_json() for g in inprocess.growth(measurements)]
    if "http" not in args.skip:
        results["http"] = _guarded(lambda: _http(args, charts, app))
    if "fallback" not in args.skip:
        _say("fallback")
        results["fallback"] = _guarded(
            lambda: fallback.run(charts["typical"], args.latency_ms, args.fallback_calls).to_json()
        )
    if "profile" not in args.skip:
        _say("profile")
        # The large chart shows what grows with the chart; the typical patient-view is the
        # call closest to its ratio target.
        profiled = (("large", "patient-view"), ("large", "order-sign"), ("typical", "patient-view"))
        results["profile"] = [
            _guarded(
                partial(
                    hotspots.profile,
                    app,
                    charts[size],
                    hook,
                    args.profile_calls * (10 if size == "typical" else 1),
                )
            )
            for size, hook in profiled
        ]
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    path = write_json(results, args.out)
    print(markdown(results))
    print(f"written: {path} ({results['elapsed_s']} s)")
    return 0


def _http(args: argparse.Namespace, charts: dict[str, Chart], app: Any) -> dict[str, Any]:
    import asyncio

    import orjson

    from bench import overhead, targets
    from bench import peer_targets as peers
    from bench.asgi import Lifespan, post

    path = HOOK_PATHS["patient-view"]
    bodies = {size: orjson.dumps(hook_request(charts[size], "patient-view")) for size in charts}

    async def answer() -> bytes:
        async with Lifespan(app) as lifespan:
            return (await post(app, path, bodies["typical"], lifespan.state))[1]

    found = peers.Found([], {}, [])
    if "peers" not in args.skip:
        if args.peers_venv is not None:
            _say(f"peers' venv {args.peers_venv}")
            peers.ensure_venv(args.peers_venv)
        found = peers.find(args.peers_venv)
        if found.skip_line():
            print(found.skip_line(), file=sys.stderr)
    workers = tuple(int(w) for w in args.workers.split(",") if w.strip())
    with tempfile.TemporaryDirectory(prefix="bench-bare-") as tmp:
        response = Path(tmp) / "response.json"
        response.write_bytes(asyncio.run(answer()))
        ours = [targets.service(), targets.parse_only(), targets.parse_only_h11()]
        # The typical chart at every worker count; the peers and the large chart on one
        # worker, since CPU per request does not depend on the worker count.
        groups = [
            ("typical", n, [*ours, targets.bare(response), *(found.targets if n == 1 else [])])
            for n in workers
        ]
        groups.append(("large", 1, [*ours, *found.targets]))
        rounds = http_load.rounds_for(args.http_seconds)
        runs, failures = [], []
        for chart_name, count, group in groups:
            names = ", ".join(t.name for t in group)
            _say(
                f"http {chart_name}, {count} worker(s): {names}; {rounds} rounds, "
                f"{args.http_seconds} s each in all"
            )
            try:
                measured, failed = http_load.run_group(
                    group,
                    bodies[chart_name],
                    chart=chart_name,
                    workers=count,
                    concurrency=args.concurrency,
                    duration_s=args.http_seconds,
                    max_requests=1_000_000,
                    tool=args.load_tool,
                    rounds=rounds,
                )
            except Exception as error:
                _say(f"{chart_name} ({count}) failed: {type(error).__name__}: {error}")
                failures.append(f"{chart_name} ({count} workers): {error}")
                continue
            runs += measured
            failures += failed
    rows = overhead.overheads(runs)
    return {
        "runs": [r.to_json() for r in runs],
        "verdict": http_load.verdict(runs),
        "overhead": [r.to_json() for r in rows],
        "overhead_verdict": overhead.verdict(rows),
        "peers": {"versions": found.versions, "skipped": found.skip_line()},
        "failures": failures,
    }


@contextmanager
def _scratch_database() -> Iterator[None]:
    """The cards the benchmark's calls record go to a database of their own, deleted at the
    end, never into the service's, and so does their journal: DATABASE_URL and
    CDS_STATE_DIR are what every app and server here reads."""
    names = ("DATABASE_URL", "CDS_STATE_DIR")
    previous = {name: os.environ.get(name) for name in names}
    with tempfile.TemporaryDirectory(prefix="plp-cds-bench-") as scratch:
        os.environ["DATABASE_URL"] = f"sqlite:///{scratch}/bench.db"
        os.environ["CDS_STATE_DIR"] = f"{scratch}/state"
        try:
            yield
        finally:
            for name, value in previous.items():
                if value is None:
                    del os.environ[name]
                else:
                    os.environ[name] = value


def _guarded(section: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one section; a failure is reported in its place instead of losing the others."""
    try:
        return section()
    except Exception as error:
        _say(f"section failed: {type(error).__name__}: {error}")
        return {"outcome": f"error: {type(error).__name__}: {error}"}


def _say(message: str) -> None:
    print(f"… {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
