"""The benchmark's results as a printed table and as JSON, with the machine they came from."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson

from bench.patients import REPO

RESULTS = REPO / "bench" / "results"
PACKAGES = ("fastapi", "starlette", "pydantic", "uvicorn", "orjson", "httpx")


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        # The machine is shared: the load at the start says how noisy the numbers may be.
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "packages": versions,
        "commit": _git("rev-parse", "--short", "HEAD"),
        "dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "when_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _git(*args: str) -> str:
    try:
        run = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return run.stdout.strip()


def write_json(results: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    return path


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [_row(header), _row(["---"] * len(header)), *(_row(r) for r in rows)]


def _ok(flag: Any) -> str:
    return "yes" if flag is True else "NO" if flag is False else "–"


def _ms(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def markdown(results: dict[str, Any]) -> str:
    """The whole result as Markdown tables: printed, and pasted into docs/benchmark.md."""
    m = results["machine"]
    lines = [
        f"Machine: {m['nproc']} CPUs, {m['cpu']}, Python {m['python']}, load average "
        f"{' / '.join(str(x) for x in m['loadavg'])} at start; commit {m['commit']}"
        f"{' (dirty)' if m['dirty'] else ''}; {m['when_utc']}.",
        f"Settings: {results['config']}",
        "",
        "### In-process, per hook call (ms; ratio = hook / floor, wall-clock medians and CPU "
        "means; targets on the CPU ratio: typical ≤ 3, large ≤ 2)",
        "",
    ]
    lines += _table(
        ["chart", "hook", "resources", "request KB", "status", "cards", "hook p50",
         "hook p99", "floor p50", "floor p99", "ratio", "hook CPU", "floor CPU", "CPU ratio",
         "target", "met"],
        [
            [r["chart"], r["hook"], str(r["resources"]), f"{r['request_bytes'] / 1024:.0f}",
             str(r["status"]), str(r["cards"]), _ms(r["hook_median_ms"], 3),
             _ms(r["hook_p99_ms"], 3), _ms(r["floor_median_ms"], 3), _ms(r["floor_p99_ms"], 3),
             f"{r['ratio']:.2f}", _ms(r.get("hook_cpu_ms"), 3), _ms(r.get("floor_cpu_ms"), 3),
             _ms(r.get("cpu_ratio")), _target(r.get("target_ratio")), _ok(r["meets_target"])]
            for r in results["inprocess"]
        ],
    )  # fmt: skip
    lines += ["", "### Growth, typical → large (µs per resource, target factor ≤ 1.3)", ""]
    lines += _table(
        ["hook", "typical", "large", "factor", "≤ 1.3"],
        [
            [g["hook"], f"{g['typical_per_resource_us']:.2f}", f"{g['large_per_resource_us']:.2f}",
             f"{g['factor']:.2f}", _ok(g["meets_target"])]
            for g in results["growth"]
        ],
    )  # fmt: skip
    lines += http_section(results.get("http"))
    lines += _fallback(results.get("fallback"))
    lines += _profiles(results.get("profile"))
    return "\n".join(lines) + "\n"


def http_section(http: dict[str, Any] | None) -> list[str]:
    lines = ["", "### HTTP, uvicorn on 127.0.0.1, patient-view", ""]
    if not http or "runs" not in http:
        return [*lines, (http or {}).get("outcome", "skipped")]
    lines += _overhead(http)
    lines += ["", "Every run:", ""]
    lines += _table(
        ["chart", "target", "workers", "load tool", "concurrency", "seconds", "requests",
         "errors", "req/s", "p50 ms", "p95 ms", "p99 ms", "server CPU ms/req", "busiest worker",
         "log lines/req", "client CPU"],
        [
            [r.get("chart", "typical"), r["target"], str(r["workers"]), r["tool"],
             str(r["concurrency"]), f"{r['duration_s']:.1f}", str(r["requests"]),
             str(r["errors"]), f"{r['throughput_rps']:.0f}", _ms(r["p50_ms"]), _ms(r["p95_ms"]),
             _ms(r["p99_ms"]), _ms(r.get("server_cpu_ms"), 3),
             _share(r.get("busiest_worker_share")), _ms(r.get("log_lines_per_request")),
             _share(r.get("client_cpu_share"))]
            for r in http["runs"]
        ],
    )  # fmt: skip
    for failure in http.get("failures", []):
        lines += ["", f"Failed: {failure}"]
    v = http["verdict"]
    if v.get("measured") and v.get("judged") is False:
        lines += [
            "",
            "Throughput against bare, one worker: no verdict. Against the bare endpoint the "
            f"server was busy {_share(v['server_busy_share_on_bare'])} of the time and the load "
            f"client used {_share(v['client_cpu_share_on_bare'])} of a CPU: the client (or a "
            "busy machine), not the server, set the pace. Use wrk, on a quiet machine.",
        ]
    elif v.get("measured"):
        lines += [
            "",
            f"Throughput against bare, one worker: service throughput = "
            f"{v['throughput_share_of_bare']:.3f} × bare "
            f"(target ≥ {v['target_share']}), p99 {v['service_p99_ms']:.1f} ms "
            f"(target < {v['target_p99_ms']:.0f} ms): target met: {_ok(v['meets_target'])}.",
        ]
    return lines


def _overhead(http: dict[str, Any]) -> list[str]:
    """The main figure: server CPU per request over parse-only's, and the peers'."""
    rows = http.get("overhead")
    if not rows:
        return []
    lines = [
        "Server CPU per request (user + system, from /proc) over the parse-only endpoint's, "
        "same request, same uvicorn, same run:",
        "",
    ]
    lines += _table(
        ["chart", "workers", "target", "CPU ms/req", "parse-only ms/req", "ratio",
         "× service"],
        [
            [r["chart"], str(r["workers"]), r["target"], _ms(r["cpu_ms"], 3),
             _ms(r["parse_only_cpu_ms"], 3), f"{r['ratio']:.2f}",
             "–" if r["times_service"] is None else f"{r['times_service']:.1f}"]
            for r in rows
        ],
    )  # fmt: skip
    v = http.get("overhead_verdict", {})
    if v.get("measured"):
        lines += [
            "",
            f"Service, {v['chart']} chart, one worker: {v['ratio']:.2f} × parse-only "
            f"(target ≤ {v['target_ratio']:.0f}): target met: {_ok(v['meets_target'])}.",
        ]
    peers = http.get("peers") or {}
    if peers.get("versions") or peers.get("skipped"):
        lines.append("")
    for name, versions in (peers.get("versions") or {}).items():
        ran_on = ", ".join(f"{k} {v}" for k, v in versions.items() if v)
        lines.append(f"Peer {name} ran on {ran_on}.  ")
    if peers.get("skipped"):
        lines.append(str(peers["skipped"]))
    return lines


def _target(value: float | None) -> str:
    return "–" if value is None else f"≤ {value:g}"


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _fallback(fallback: dict[str, Any] | None) -> list[str]:
    lines = ["", "### FHIR-server fallback (prefetch without conditions and medications)", ""]
    if not fallback:
        return [*lines, "skipped"]
    if fallback["outcome"] != "measured":
        latency = fallback.get("latency_ms")
        suffix = f" (stub latency {latency} ms)" if latency is not None else ""
        return [*lines, f"{fallback['outcome']}{suffix}"]
    lines += _table(
        ["stub latency ms", "calls", "median ms", "p99 ms", "median / latency",
         "FHIR requests/call", "max in flight", "bearer sent", "cards", "parallel"],
        [[f"{fallback['latency_ms']:.0f}", str(fallback["iterations"]),
          _ms(fallback["median_ms"]), _ms(fallback["p99_ms"]),
          f"{fallback['latencies_per_call']:.2f}",
          f"{fallback['fhir_requests_per_call']:.1f}", str(fallback["max_in_flight"]),
          f"{fallback['bearer_share']:.0%}", str(fallback["cards"]), _ok(fallback["parallel"])]],
    )  # fmt: skip
    return lines


def _profiles(profiles: list[dict[str, Any]] | None) -> list[str]:
    lines = ["", "### Profile (pyinstrument): top functions by self time", ""]
    if not profiles:
        return [*lines, "skipped"]
    for p in profiles:
        if p.get("outcome") != "measured":
            lines += [p.get("outcome", "skipped"), ""]
            continue
        packages = ", ".join(f"{name} {share:.0%}" for name, share in p["by_package"].items())
        lines += [
            f"{p['chart']} {p['hook']}, {p['iterations']} calls, {p['profiled_s']} s; "
            f"self time by package: {packages}",
            "",
        ]
        lines += _table(
            ["function", "where", "% self"],
            [[h["function"], h["where"], f"{h['share']:.1%}"] for h in p["self_time"]],
        )
        lines += ["", "Inclusive time, this repo's code (nested rows overlap):", ""]
        lines += _table(
            ["function", "where", "% incl."],
            [[h["function"], h["where"], f"{h['share']:.1%}"] for h in p["inclusive_time"][:12]],
        )
        lines.append("")
    return lines
