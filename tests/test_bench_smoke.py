"""The benchmark's patient builder and one quick in-process measurement.

Only the shape of the results is checked: speed is never asserted in unit tests.
"""

from __future__ import annotations

import math

import pytest

from bench.inprocess import Measurement, growth, measure
from bench.patients import HOOK_PATHS, SYNTHEA, build_chart, hook_request
from bench.stats import median, percentile
from cds.app import create_app
from cds.settings import Settings
from fhir_mappings.facts import patient_facts
from fhir_mappings.resources import collect
from tests.conftest import TESTDATA


@pytest.fixture(autouse=True)
def synthea_bundles(monkeypatch: pytest.MonkeyPatch) -> None:
    # The benchmark pads its charts from the shared Synthea corpus; a clone without it uses
    # the one bundle the repository carries, which is enough for the shapes checked here.
    if not any(SYNTHEA.glob("*.json")):
        monkeypatch.setattr("bench.patients.SYNTHEA", TESTDATA / "synthea-r4-bundles")


@pytest.mark.parametrize(("n_conditions", "n_medications"), [(20, 50), (300, 300)])
def test_chart_has_the_requested_size_and_is_in_scope(n_conditions: int, n_medications: int):
    chart = build_chart("test", n_conditions, n_medications)
    assert len(chart.conditions) == n_conditions
    assert len(chart.medications) == n_medications
    # Padding past the pool repeats resources under new ids: no id may repeat.
    assert len({c["id"] for c in chart.conditions}) == n_conditions
    assert len({m["id"] for m in chart.medications}) == n_medications
    request = hook_request(chart, "patient-view")
    facts = patient_facts(collect(request["prefetch"].values()))
    assert facts.in_scope
    assert facts.heart
    assert {"bench-gabapentin", "bench-nortriptyline"} <= {
        m.reference.split("/")[1] for m in facts.medications
    }


def test_references_are_rewritten_from_urn_uuid():
    chart = build_chart("test", 20, 50)
    subjects = {r["subject"]["reference"] for r in chart.conditions + chart.medications}
    assert subjects == {f"Patient/{chart.patient_id}"}
    encounters = [r["encounter"]["reference"] for r in chart.conditions if "encounter" in r]
    assert encounters
    assert all(e.startswith("Encounter/") for e in encounters)


def test_order_hook_requests_carry_drafts_and_selections():
    chart = build_chart("test", 20, 50)
    select = hook_request(chart, "order-select")
    sign = hook_request(chart, "order-sign")
    assert select["context"]["draftOrders"]["resourceType"] == "Bundle"
    drafts = {e["resource"]["id"] for e in select["context"]["draftOrders"]["entry"]}
    assert {s.split("/")[1] for s in select["context"]["selections"]} <= drafts
    assert "selections" not in sign["context"]
    trimmed = hook_request(chart, "patient-view", prefetch_keys=("patient",), fhir_server="x")
    assert set(trimmed["prefetch"]) == {"patient"}
    assert trimmed["fhirAuthorization"]["access_token"]


@pytest.mark.parametrize("hook", list(HOOK_PATHS))
def test_one_quick_measurement_is_well_formed(hook: str):
    chart = build_chart("typical", 20, 50)
    result = measure(create_app(Settings()), chart, hook, iterations=3, warmup=1)
    assert isinstance(result, Measurement)
    assert result.status == 200
    assert result.hook == hook
    assert result.resources == 70
    assert result.request_bytes > 0
    assert result.response_bytes > 0
    for value in (
        result.hook_median_ms,
        result.hook_p99_ms,
        result.floor_median_ms,
        result.floor_p99_ms,
    ):
        assert math.isfinite(value)
        assert value > 0
    as_json = result.to_json()
    assert {"ratio", "per_resource_us", "meets_target"} <= set(as_json)
    if hook == "patient-view":
        assert result.cards >= 1


def test_growth_pairs_typical_with_large():
    def fake(chart: str, hook: str, ms: float, resources: int) -> Measurement:
        return Measurement(chart, hook, resources, 1, 1, 200, 0, 1, ms, ms, 0.1, 0.1)

    typical = fake("typical", "order-sign", 1.0, 100)
    rows = growth([typical, fake("large", "order-sign", 12.0, 1000)])
    assert len(rows) == 1
    assert rows[0].factor == pytest.approx(1.2)


def test_stats():
    samples = [float(x) for x in range(1, 101)]
    assert median(samples) == 50.5
    assert percentile(samples, 99) == 99.0
    assert percentile([3.0], 99) == 3.0


def test_plp_cds_bench_hands_its_options_to_the_benchmark(
    capfd: pytest.CaptureFixture[str],
) -> None:
    # The benchmark runs as its own process (it is not part of the installed product).
    from cds.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--help"])
    assert exit_info.value.code == 0
    assert "--quick" in capfd.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["report", "--quick"])
    assert exit_info.value.code == 2
