"""Label children are looked up once and reused; what they count still reaches /metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from cds.ops.metrics import CachedCounter, CachedHistogram


def test_a_cached_child_is_the_registered_one() -> None:
    registry = CollectorRegistry()
    cards = CachedCounter("t_cards_total", "doc", ["rule", "indicator"], registry=registry)
    latency = CachedHistogram("t_hook_seconds", "doc", ["service"], registry=registry)
    first = cards.labels(rule="opioid", indicator="warning")
    assert cards.labels(rule="opioid", indicator="warning") is first
    assert cards.labels("opioid", "warning") is first  # positional names the same child
    first.inc()
    cards.labels(rule="opioid", indicator="warning").inc(2)
    cards.labels(rule="tca-dose", indicator="info").inc()
    latency.labels(service="pv").observe(0.02)
    text = generate_latest(registry).decode()
    assert 't_cards_total{indicator="warning",rule="opioid"} 3.0' in text
    assert 't_cards_total{indicator="info",rule="tca-dose"} 1.0' in text
    assert 't_hook_seconds_count{service="pv"} 1.0' in text
