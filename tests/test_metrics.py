"""After traffic, /metrics reports hook latency, cards, feedback and the FHIR counters."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.feedback_requests import PATIENT_VIEW, overridden, send_feedback, show_cards


def samples(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def test_metrics_count_hooks_cards_and_feedback(client: TestClient) -> None:
    before = samples(client)
    cards = show_cards(client)
    assert send_feedback(client, overridden(cards[0])).status_code == 200
    after = samples(client)

    def grew(name: str, **labels: str) -> float:
        key = (name, frozenset(labels.items()))
        return after[key] - before.get(key, 0.0)

    assert grew("cds_hook_duration_seconds_count", service=PATIENT_VIEW) == 1
    rule = cards[0]["source"]["topic"]["code"]
    assert grew("cds_cards_total", rule=rule, indicator=cards[0]["indicator"]) == 1
    assert grew("cds_feedback_total", outcome="overridden") == 1
    assert ("cds_fhir_fallback_calls_total", frozenset({("outcome", "ok")})) in after
    assert ("cds_card_record_failures_total", frozenset()) in after
