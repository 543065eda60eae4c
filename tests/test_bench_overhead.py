"""The benchmark's HTTP comparison: the parse-only yardstick, the CPU ratios, the peers.

Only shapes and arithmetic are checked: speed is never asserted in unit tests.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import orjson
import pytest

from bench.asgi import post
from bench.floors import parse_only as parse_only_app
from bench.http_load import LoadResult
from bench.overhead import overheads, verdict
from bench.patients import SYNTHEA, build_chart, hook_request
from bench.peer_targets import PEERS, find
from bench.report import http_section
from tests.conftest import TESTDATA


@pytest.fixture(autouse=True)
def synthea_bundles(monkeypatch: pytest.MonkeyPatch) -> None:
    if not any(SYNTHEA.glob("*.json")):
        monkeypatch.setattr("bench.patients.SYNTHEA", TESTDATA / "synthea-r4-bundles")


def run(target: str, cpu_ms: float, chart: str = "typical", workers: int = 1) -> LoadResult:
    return LoadResult(
        target=target,
        workers=workers,
        tool="wrk",
        concurrency=8,
        duration_s=10.0,
        requests=1000,
        errors=0,
        throughput_rps=100.0,
        p50_ms=1.0,
        p95_ms=2.0,
        p99_ms=3.0,
        server_cpu_ms=cpu_ms,
        chart=chart,
    )


def test_parse_only_parses_the_body_and_answers_no_cards() -> None:
    body = orjson.dumps(hook_request(build_chart("typical", 20, 50), "patient-view"))
    status, answer = asyncio.run(post(parse_only_app, "/anything", body))
    assert (status, orjson.loads(answer)) == (200, {"cards": []})
    # It really parses: a body that is not JSON does not get the answer.
    with pytest.raises(orjson.JSONDecodeError):
        asyncio.run(post(parse_only_app, "/anything", b"{not json"))


def test_each_target_is_divided_by_parse_only_of_its_own_chart_and_workers() -> None:
    runs = [
        run("service", 1.2),
        run("parse-only", 0.4),
        run("HealthChain", 20.0),
        run("service", 10.0, chart="large"),
        run("parse-only", 5.0, chart="large"),
        run("service", 1.5, workers=2),  # no parse-only at 2 workers: no ratio
    ]
    rows = {(r.chart, r.workers, r.target): r for r in overheads(runs)}
    assert set(rows) == {
        ("typical", 1, "service"),
        ("typical", 1, "HealthChain"),
        ("large", 1, "service"),
    }
    assert rows["typical", 1, "service"].ratio == pytest.approx(3.0)
    assert rows["typical", 1, "service"].times_service is None
    assert rows["typical", 1, "HealthChain"].ratio == pytest.approx(50.0)
    assert rows["typical", 1, "HealthChain"].times_service == pytest.approx(20.0 / 1.2)
    assert rows["large", 1, "service"].ratio == pytest.approx(2.0)
    judged = verdict(list(rows.values()))
    assert judged == {
        "measured": True,
        "chart": "typical",
        "ratio": 3.0,
        "target_ratio": 2.0,
        "meets_target": False,
    }
    assert verdict(overheads([run("service", 0.7), run("parse-only", 0.4)]))["meets_target"]
    assert verdict([]) == {"measured": False}


def test_the_report_leads_with_the_ratios() -> None:
    runs = [run("service", 0.7), run("parse-only", 0.4), run("bare", 0.1)]
    rows = overheads(runs)
    http = {
        "runs": [r.to_json() for r in runs],
        "verdict": {"measured": False},
        "overhead": [r.to_json() for r in rows],
        "overhead_verdict": verdict(rows),
        "peers": {"versions": {}, "skipped": "peers skipped: HealthChain not installed (…)"},
    }
    text = "\n".join(http_section(http))
    assert "| typical | 1 | service | 0.700 | 0.400 | 1.75 | – |" in text
    assert "one worker: 1.75 × parse-only (target ≤ 2): target met: yes." in text
    assert "peers skipped: HealthChain not installed" in text
    assert text.index("parse-only ms/req") < text.index("Every run:")


def test_a_peer_missing_everywhere_is_skipped_with_one_line(tmp_path: Path) -> None:
    found = find(tmp_path / "no-such-venv")
    names = {peer.name for peer in PEERS}
    assert {t.name for t in found.targets} | set(found.skipped) == names
    assert not {t.name for t in found.targets} & set(found.skipped)
    assert set(found.versions) == {t.name for t in found.targets}
    line = found.skip_line()
    if found.skipped:
        assert line is not None and "\n" not in line
        assert "pip install -e '.[peers]'" in line and "--peers-venv" in line
    else:
        assert line is None
    for target in found.targets:
        assert target.peer
        assert target.command(1)(8123)[0] == sys.executable


def test_the_fhir_resources_peer_validates_and_decides() -> None:
    from fastapi.testclient import TestClient

    from bench.peers.fhir_resources_service import PATH, app

    request = hook_request(build_chart("typical", 20, 50), "patient-view")
    with TestClient(app) as client:
        answer = client.post(PATH, json=request)
        assert answer.status_code == 200
        assert [c["indicator"] for c in answer.json()["cards"]] == ["info"]
        # Without the phantom limb pain Condition the peer stays silent.
        entries = request["prefetch"]["conditions"]["entry"]
        request["prefetch"]["conditions"]["entry"] = [
            e for e in entries if "G54.6" not in orjson.dumps(e["resource"]).decode()
        ]
        assert client.post(PATH, json=request).json() == {"cards": []}
        # It validates: a Condition without its required subject is refused.
        del request["prefetch"]["conditions"]["entry"][0]["resource"]["subject"]
        with pytest.raises(ValueError):
            client.post(PATH, json=request)


def test_rounds_add_up_to_one_result_per_target() -> None:
    from bench.http_load import _Tally, rounds_for

    assert [rounds_for(s) for s in (1.0, 3.0, 4.0, 10.0, 60.0)] == [1, 1, 2, 5, 5]
    tally = _Tally("service")
    first = run("service", 0.0)
    second = run("service", 0.0)
    tally.add(first, {100: 0.1, 101: 0.9}, log_lines=2000)
    tally.add(second.__class__(**{**second.to_json(), "p50_ms": 3.0, "p99_ms": 9.0}),
              {100: 0.0, 101: 0.4, 102: 0.6}, log_lines=2000)  # fmt: skip
    result = tally.result("typical", workers=2, supervisor=100)
    assert result.requests == 2000
    assert result.duration_s == 20.0
    assert result.throughput_rps == 100.0
    assert result.server_cpu_ms == pytest.approx(1.0)  # 2.0 s of CPU over 2,000 requests
    assert result.p50_ms == 2.0  # the median of the rounds' p50s (1.0, 3.0)
    assert result.p99_ms == 9.0  # the worst round's tail
    assert result.busiest_worker_share == pytest.approx(0.68)  # 1.3 of 1.9 s, not the supervisor
    assert result.log_lines_per_request == 2.0
