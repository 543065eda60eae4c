"""GUIDELINE §4, long-term opioid: opioids for pain in continuous use for more than 90 days.

Continuous use is the union of the opioid orders' periods of use, renewals with gaps under
30 days joined (CDC's definition of long-term opioid therapy). An order still running is in
use until today; an order whose start is not known cannot be measured and is left out, as
the service says nothing it cannot show. "In continuous use" is read as use that goes on: a
span counts when it holds a current order or ended less than 30 days ago (a renewal may
still come); a course that ended long ago is history, not use.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from facts.classes import TherapyClass
from facts.medications import MedicationFact

LONG_TERM_DAYS = 90  # "more than 90 days"
JOINED_GAP_DAYS = 30  # "renewals with gaps under 30 days joined"


@dataclass(frozen=True, slots=True)
class Span:
    start: date
    end: date
    orders: tuple[MedicationFact, ...]

    @property
    def days(self) -> int:
        return (self.end - self.start).days


def opioids_for_pain(medications: tuple[MedicationFact, ...]) -> tuple[MedicationFact, ...]:
    """Opioid orders that were in use (`medications` holds no opioid agonist treatment)."""
    return tuple(m for m in medications if TherapyClass.OPIOID in m.classes and m.tried)


def continuous_spans(orders: tuple[MedicationFact, ...], today: date) -> list[Span]:
    periods = []
    for order in orders:
        if order.in_use is None or order.in_use.start is None:
            continue
        end = order.in_use.end or today
        periods.append((order.in_use.start, max(end, order.in_use.start), order))
    periods.sort(key=lambda p: (p[0], p[1]))
    spans: list[Span] = []
    for start, end, order in periods:
        if spans and (start - spans[-1].end).days < JOINED_GAP_DAYS:
            last = spans[-1]
            spans[-1] = Span(last.start, max(last.end, end), (*last.orders, order))
        else:
            spans.append(Span(start, end, (order,)))
    return spans


def long_term_use(medications: tuple[MedicationFact, ...], today: date) -> Span | None:
    """The span of continuous opioid use going on today, when it is more than 90 days."""
    for span in continuous_spans(opioids_for_pain(medications), today):
        going_on = any(o.current for o in span.orders) or (today - span.end).days < JOINED_GAP_DAYS
        if going_on and span.days > LONG_TERM_DAYS:
            return span
    return None
