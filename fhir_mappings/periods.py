"""When a medication order was in use (GUIDELINE §3 "in use together", §4 long-term opioids).

The guideline joins the periods of an agent's orders into spans of continuous use, so each
order's period is read from everything FHIR says about it:

- start: the earliest of `authoredOn`, `dispenseRequest.validityPeriod.start`, a dosage
  line's `timing.repeat.boundsPeriod.start`, and for a MedicationStatement
  `effectivePeriod.start` or `effectiveDateTime`;
- end: the latest of `dispenseRequest.validityPeriod.end`, a dosage line's
  `timing.repeat.boundsPeriod.end` or its start plus `boundsDuration` (the high end of a
  `boundsRange`), and a MedicationStatement's `effectivePeriod.end`. When none of these is
  given, the supply it authorises (`expectedSupplyDuration` × (1 + `numberOfRepeatsAllowed`)
  from the start) stands in: without it, monthly renewals each written with only a date
  would read as single days and never join into continuous use;
- an active or on-hold order is still running: its period has no end.
"""

from __future__ import annotations

from datetime import date, timedelta

from facts.medications import CURRENT_STATUSES, Interval
from fhir_mappings.durations import duration_days
from fhir_mappings.fhir_dates import first_day, last_day
from fhir_mappings.json_access import JsonObject, number, obj, objs


def order_period(order: JsonObject, status: str) -> Interval | None:
    """The order's period of use, or None when nothing places it in time."""
    dispense = obj(order.get("dispenseRequest"))
    validity = obj(dispense.get("validityPeriod"))
    effective = obj(order.get("effectivePeriod"))
    lines = list(objs(order.get("dosageInstruction", order.get("dosage"))))
    # A partial date widens the period: a start is its first day, an end its last (fhir_dates).
    starts = [
        first_day(order.get("authoredOn")),
        first_day(validity.get("start")),
        first_day(effective.get("start")),
        first_day(order.get("effectiveDateTime")),
        *(first_day(_bounds(line).get("start")) for line in lines),
    ]
    start = min((s for s in starts if s is not None), default=None)
    if status in CURRENT_STATUSES:
        return Interval(start, None)
    ends = [last_day(validity.get("end")), last_day(effective.get("end"))]
    ends.extend(_line_end(line, start) for line in lines)
    known = [e for e in ends if e is not None]
    end = max(known) if known else _supply_end(dispense, start)
    if start is None and end is None:
        return None
    if start is not None and (end is None or end < start):
        end = start
    return Interval(start, end)


def _bounds(line: JsonObject) -> JsonObject:
    return obj(obj(obj(line.get("timing")).get("repeat")).get("boundsPeriod"))


def _line_end(line: JsonObject, order_start: date | None) -> date | None:
    bounds = _bounds(line)
    end = last_day(bounds.get("end"))
    if end is not None:
        return end
    repeat = obj(obj(line.get("timing")).get("repeat"))
    days = duration_days(repeat.get("boundsDuration"))
    if days is None:
        days = duration_days(obj(repeat.get("boundsRange")).get("high"))
    start = first_day(bounds.get("start")) or order_start
    if days is None or start is None:
        return None
    return start + timedelta(days=days)


def _supply_end(dispense: JsonObject, start: date | None) -> date | None:
    days = duration_days(dispense.get("expectedSupplyDuration"))
    if days is None or start is None:
        return None
    repeats = number(dispense.get("numberOfRepeatsAllowed")) or 0.0
    return start + timedelta(days=days * (1 + max(repeats, 0.0)))
