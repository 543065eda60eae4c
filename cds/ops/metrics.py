"""Prometheus metrics, served at /metrics. Labels take only bounded values (service ids,
rule codes, outcomes), never anything from a patient or a request body."""

from __future__ import annotations

from typing import Any, Self

from prometheus_client import Counter, Histogram
from prometheus_client.metrics import MetricWrapperBase


class _CachedChildren(MetricWrapperBase):
    """`labels()` that remembers its children: prometheus_client checks and converts the
    values and takes a lock on every call (about 2 µs), and a hook call asks for the same
    few children each time. Bounded, since label values are."""

    def labels(self, *values: Any, **named: Any) -> Self:
        key = (values, tuple(named.items()))
        cache: dict[tuple[Any, ...], Self] = self.__dict__.setdefault("_cached_children", {})
        child = cache.get(key)
        if child is None:
            child = cache[key] = super().labels(*values, **named)
        return child


class CachedCounter(_CachedChildren, Counter):
    pass


class CachedHistogram(_CachedChildren, Histogram):
    pass


HOOK_LATENCY = CachedHistogram(
    "cds_hook_duration_seconds",
    "Time to answer a hook call, by service.",
    ["service"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
CARDS = CachedCounter(
    "cds_cards_total", "Cards returned, by rule and indicator.", ["rule", "indicator"]
)
FEEDBACK = CachedCounter(
    "cds_feedback_total",
    "Feedback entries stored, by outcome (repeats of a stored report are not counted).",
    ["outcome"],
)
# For the FHIR fallback client: one increment per call to the EHR's FHIR server, labelled
# "ok" or the kind of failure, e.g. FHIR_CALLS.labels(outcome="timeout").inc().
FHIR_CALLS = CachedCounter(
    "cds_fhir_fallback_calls_total",
    "Calls to the EHR's FHIR server for data prefetch did not supply, by outcome.",
    ["outcome"],
)
FHIR_OUTCOMES = ("ok", "timeout", "http_error", "network_error", "invalid_response", "refused")
CARD_RECORD_FAILURES = Counter(
    "cds_card_record_failures_total",
    "Hook calls whose cards could not be recorded (the hook was still answered).",
)

# Known label values start at zero so a dashboard sees the series before the first event.
for _outcome in ("accepted", "overridden"):
    FEEDBACK.labels(outcome=_outcome)
for _outcome in FHIR_OUTCOMES:
    FHIR_CALLS.labels(outcome=_outcome)
