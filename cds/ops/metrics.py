"""Prometheus metrics, served at /metrics. Labels take only bounded values (service ids,
rule codes, outcomes, reasons), never anything from a patient or a request body.

With several worker processes each keeps its own values; `plp-cds serve --workers N` runs
prometheus-client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR, a directory per run) so
that /metrics, whichever worker answers it, reports all of them together.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Any, Self

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, multiprocess
from prometheus_client.metrics import MetricWrapperBase

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


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
FHIR_OUTCOMES = (
    "ok",
    "timeout",
    "pool_exhausted",
    "http_error",
    "network_error",
    "invalid_response",
    "refused",
)
AUTH_FAILURES = CachedCounter(
    "cds_auth_failures_total", "Client JWTs refused (answered 401), by reason.", ["reason"]
)

# The card recorder (cds.storage.recorder): every card a hook returned is journaled, then
# written; only a full or broken journal loses one.
CARDS_RECORDED = Counter(
    "cds_cards_recorded_total",
    "Cards written to the database (a card rewritten after a lost acknowledgement counts once).",
)
CARDS_LOST = CachedCounter(
    "cds_cards_lost_total",
    "Cards returned whose record was dropped, by reason (journal_full, journal_error, "
    "queue_full, unreadable).",
    ["reason"],
)
LOSS_REASONS = ("journal_full", "journal_error", "queue_full", "unreadable")
CARD_WRITE_FAILURES = Counter(
    "cds_card_write_failures_total",
    "Database writes of card records that failed or passed their deadline; the cards stay "
    "in the journal and are written again.",
)
CARD_WRITE_SECONDS = Histogram(
    "cds_card_write_seconds",
    "Time of one successful database write of a batch of card records.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0),
)
JOURNAL_CARDS = Gauge(
    "cds_card_journal_cards",
    "Cards in the journal waiting for the database (all workers together).",
    multiprocess_mode="livesum",
)

# Known label values start at zero so a dashboard sees the series before the first event.
for _outcome in ("accepted", "overridden"):
    FEEDBACK.labels(outcome=_outcome)
for _outcome in FHIR_OUTCOMES:
    FHIR_CALLS.labels(outcome=_outcome)
for _reason in LOSS_REASONS:
    CARDS_LOST.labels(reason=_reason)


def multiprocess_dir() -> Path | None:
    """The directory of multiprocess mode, when this process runs in it."""
    directory = os.environ.get(MULTIPROCESS_ENV)
    return Path(directory) if directory else None


def registry() -> CollectorRegistry:
    """What /metrics reports: every worker's values in multiprocess mode, else this
    process's."""
    directory = multiprocess_dir()
    if directory is None:
        return REGISTRY
    collected = CollectorRegistry()
    multiprocess.MultiProcessCollector(collected, path=str(directory))  # type: ignore[no-untyped-call]
    return collected


_LIVE_FILE = re.compile(r"^gauge_live\w*_(\d+)\.db$")


def forget_ended_workers() -> None:
    """Drop the live gauges of worker processes that have ended (killed workers too), so a
    restarted worker's journal is not counted twice."""
    directory = multiprocess_dir()
    if directory is None or not directory.is_dir():
        return
    for path in directory.iterdir():
        match = _LIVE_FILE.match(path.name)
        if match and not _alive(int(match.group(1))):
            with contextlib.suppress(FileNotFoundError):
                multiprocess.mark_process_dead(int(match.group(1)), str(directory))  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
