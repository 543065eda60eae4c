"""The HTTP verdict of the benchmark: it judges the service only when the server set the pace."""

from __future__ import annotations

from bench.http_load import LoadResult, verdict
from bench.report import http_section


def run(
    target: str, rps: float, client_cpu_share: float | None, server_cpu_ms: float | None
) -> LoadResult:
    return LoadResult(
        target=target,
        workers=1,
        tool="httpx",
        concurrency=8,
        duration_s=3.0,
        requests=int(rps * 3),
        errors=0,
        throughput_rps=rps,
        p50_ms=2.0,
        p95_ms=4.0,
        p99_ms=5.0,
        server_cpu_ms=server_cpu_ms,
        client_cpu_share=client_cpu_share,
    )


def test_a_saturated_load_client_gets_no_verdict() -> None:
    # httpx sends ~1,000 req/s from one core: the bare endpoint's rate is the client's, and
    # 0.9 of it would read as "target met" for the wrong reason.
    runs = [run("service", 900.0, 0.97, 1.0), run("bare", 1000.0, 0.98, 0.4)]
    result = verdict(runs)
    assert result["judged"] is False
    assert result["meets_target"] is None
    assert result["client_cpu_share_on_bare"] == 0.98
    assert result["server_busy_share_on_bare"] == 0.4
    text = markdown_http(runs, result)
    assert "no verdict" in text
    assert "the server was busy 40% of the time and the load client used 98% of a CPU" in text
    assert "target met" not in text


def test_an_idle_bare_server_gets_no_verdict_whatever_the_client_used() -> None:
    # A busy machine: neither the client (49%) nor the bare server (8%) got the CPU it could
    # use, so the bare rate is not the server's limit.
    runs = [run("service", 273.0, 0.21, 1.9), run("bare", 646.0, 0.49, 0.129)]
    result = verdict(runs)
    assert result["judged"] is False
    assert result["server_busy_share_on_bare"] == 0.08
    assert result["meets_target"] is None


def test_a_busy_bare_server_gets_the_verdict() -> None:
    # The README's run: wrk, bare server busy 99% of the time.
    runs = [run("service", 840.0, 0.30, 1.21), run("bare", 13_578.0, 0.45, 0.073)]
    result = verdict(runs)
    assert result["judged"] is True
    assert result["server_busy_share_on_bare"] == 0.99
    assert result["throughput_share_of_bare"] == 0.062
    assert result["meets_target"] is False
    assert "target met: NO" in markdown_http(runs, result)


def markdown_http(runs: list[LoadResult], result: dict[str, object]) -> str:
    return "\n".join(http_section({"runs": [r.to_json() for r in runs], "verdict": result}))
