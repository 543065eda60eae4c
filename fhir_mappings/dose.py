"""Daily dose in mg from Dosage (GUIDELINE §4), with the arithmetic written out.

Per dosage line: amount per administration × administrations per day. The amount is
`doseAndRate.doseQuantity` (or the high end of `doseRange`) in mg, g or mcg, or a count of
tablets/capsules times the product strength. Administrations per day come from
`timing.repeat` (frequencyMax over frequency, per period/periodUnit) or `timing.code`.

An as-needed line's worst day is bounded by its `maxDosePerPeriod`, or else by
`maxDosePerAdministration` × the most frequent timing; the larger of that maximum and the
scheduled day is the line's dose (GUIDELINE §4), and the arithmetic says which it is.

Lines are summed when they are taken on the same day. Lines with different `sequence`s
follow one another (a titration), and so do lines whose `timing.repeat.boundsPeriod`s do
not overlap (a taper written as dated steps): the dose is then the largest day, not the
sum of the steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from facts.dose import DailyDose, DoseGap, UnknownDose, fmt
from fhir_mappings import fhir_dates
from fhir_mappings.durations import DAYS_PER_UNIT, unit_days
from fhir_mappings.json_access import JsonObject, number, obj, objs, text
from fhir_mappings.measures import dose_units


def _shown_unit(unit: str) -> str:
    """A unit the service cannot read, as text: a UCUM annotation without its braces."""
    stripped = unit.strip()
    if stripped.startswith("{") and stripped.endswith("}"):
        return stripped[1:-1].strip() or "none"
    return stripped


# HL7 TimingAbbreviation (R4) and the common order-entry abbreviations: times per day.
TIMING_CODES: dict[str, float] = {
    "QD": 1,
    "QAM": 1,
    "QPM": 1,
    "AM": 1,
    "PM": 1,
    "HS": 1,
    "QHS": 1,
    "BED": 1,
    "BID": 2,
    "TID": 3,
    "QID": 4,
    "Q1H": 24,
    "Q2H": 12,
    "Q3H": 8,
    "Q4H": 6,
    "Q6H": 4,
    "Q8H": 3,
    "Q12H": 2,
    "Q24H": 1,
    "QOD": 0.5,
    "WK": 1 / 7,
    "MO": 1 / 30,
}


def _mg(value: float) -> float:
    # Binary fractions (1 / (8 h in days)) must not put exactly 100 mg/day a hair below 100.
    return round(value, 6)


@dataclass(frozen=True, slots=True)
class _Line:
    """One dosage line's day and when it is taken (None: not bounded on that side)."""

    dose: DailyDose
    start: datetime | None
    end: datetime | None

    def taken_at(self, moment: datetime | None) -> bool:
        """Is the line in use at `moment` (None: before every dated start)?"""
        if moment is None:
            return self.start is None
        started = self.start is None or self.start <= moment
        return started and (self.end is None or moment < self.end)


def daily_dose(dosage: Any, strength_mg: float | None) -> DailyDose | UnknownDose:
    lines = list(objs(dosage))
    if not lines:
        return UnknownDose("no dosage instructions", DoseGap.NOT_WRITTEN)
    if len(lines) == 1:
        return line_dose(lines[0], strength_mg)
    by_sequence: dict[int | None, list[_Line]] = {}
    for number_, line in enumerate(lines, start=1):
        per_line = line_dose(line, strength_mg)
        if isinstance(per_line, UnknownDose):
            return UnknownDose(
                f"dosage line {number_} of {len(lines)}: {per_line.reason}", per_line.gap
            )
        sequence = line.get("sequence")
        key = sequence if isinstance(sequence, int) and not isinstance(sequence, bool) else None
        start, end = _bounds(line)
        by_sequence.setdefault(key, []).append(_Line(per_line, start, end))
    days = [day for step in by_sequence.values() for day in _days(step)]
    largest = max(days, key=lambda day: sum(line.dose.mg_per_day for line in day))
    total = _sum([line.dose for line in largest])
    if len(largest) == len(lines):
        return total
    return DailyDose(
        total.mg_per_day,
        f"{total.arithmetic} (the largest day: dosage lines taken one after another, "
        "by sequence or by non-overlapping timing.repeat.boundsPeriod, are not added)",
        as_needed_maximum=total.as_needed_maximum,
    )


def _days(lines: list[_Line]) -> list[list[_Line]]:
    """The sets of lines in use together. Intervals that overlap pairwise share a point,
    and every such point can be moved to one of their starts: checking each start (and the
    time before all of them) finds the largest day."""
    moments: list[datetime | None] = [None, *(line.start for line in lines if line.start)]
    return [day for moment in moments if (day := [ln for ln in lines if ln.taken_at(moment)])]


def _bounds(line: JsonObject) -> tuple[datetime | None, datetime | None]:
    bounds = obj(obj(obj(line.get("timing")).get("repeat")).get("boundsPeriod"))
    # A partial date places no step in time: the step is summed with the others (fhir_dates).
    start, end = fhir_dates.moment(bounds.get("start")), fhir_dates.moment(bounds.get("end"))
    if end is not None and len(str(bounds.get("end"))) == 10:
        # A Period's end includes the whole of its last date: 1-8 Jan and 8-15 Jan overlap.
        end += timedelta(days=1)
    if start is not None and end is not None and end <= start:
        return start, None  # not a usable period: the line is taken as in use from its start
    return start, end


def _sum(doses: list[DailyDose]) -> DailyDose:
    if len(doses) == 1:
        return doses[0]
    total = _mg(sum(d.mg_per_day for d in doses))
    return DailyDose(
        total,
        " + ".join(f"({d.arithmetic})" for d in doses) + f" = {fmt(total)} mg/day",
        as_needed_maximum=any(d.as_needed_maximum for d in doses),
    )


def as_needed(line: JsonObject) -> bool:
    # R4: asNeededBoolean, or asNeededCodeableConcept (which implies as needed); R5: asNeeded.
    return (
        line.get("asNeededBoolean") is True
        or line.get("asNeeded") is True
        or bool(obj(line.get("asNeededCodeableConcept")))
        or any(True for _ in objs(line.get("asNeededFor")))
    )


def line_dose(line: JsonObject, strength_mg: float | None) -> DailyDose | UnknownDose:
    scheduled = scheduled_dose(line, strength_mg)
    if not as_needed(line):
        return scheduled
    maximum = maximum_dose(line, strength_mg)
    if isinstance(maximum, UnknownDose):
        return maximum
    if maximum is None:
        if isinstance(scheduled, UnknownDose):
            return UnknownDose(
                f"as needed with no maximum dose stated, and {scheduled.reason}", scheduled.gap
            )
        return DailyDose(
            scheduled.mg_per_day, f"as needed, no maximum stated: {scheduled.arithmetic}"
        )
    if isinstance(scheduled, UnknownDose):
        return DailyDose(
            maximum.mg_per_day,
            f"as needed, at most {maximum.arithmetic} (the maximum is counted)",
            as_needed_maximum=True,
        )
    if maximum.mg_per_day > scheduled.mg_per_day:
        return DailyDose(
            maximum.mg_per_day,
            f"as needed: scheduled {scheduled.arithmetic}; maximum {maximum.arithmetic}; "
            "the larger, the maximum, is counted",
            as_needed_maximum=True,
        )
    return DailyDose(
        scheduled.mg_per_day,
        f"as needed: scheduled {scheduled.arithmetic}; maximum {maximum.arithmetic}; "
        "the larger, the schedule, is counted",
    )


def scheduled_dose(line: JsonObject, strength_mg: float | None) -> DailyDose | UnknownDose:
    amount = amount_mg(line, strength_mg)
    if isinstance(amount, UnknownDose):
        return amount
    per_day = times_per_day(obj(line.get("timing")))
    if isinstance(per_day, UnknownDose):
        return per_day
    mg, amount_text = amount
    times, times_text = per_day
    total = _mg(mg * times)
    return DailyDose(total, f"{amount_text} × {times_text} = {fmt(total)} mg/day")


def maximum_dose(line: JsonObject, strength_mg: float | None) -> DailyDose | UnknownDose | None:
    """The most an as-needed line allows in a day; None when it states no maximum."""
    per_period = line.get("maxDosePerPeriod")
    # R4 has one Ratio; R5 allows several, and every one of them applies.
    ratios = [r for r in ([per_period] if isinstance(per_period, dict) else objs(per_period)) if r]
    if ratios:
        bounds = [_per_period(ratio, strength_mg) for ratio in ratios]
        for bound in bounds:
            if isinstance(bound, UnknownDose):
                return bound
        return min((b for b in bounds if isinstance(b, DailyDose)), key=lambda b: b.mg_per_day)
    per_administration = obj(line.get("maxDosePerAdministration"))
    if not per_administration:
        return None
    amount = quantity_mg(per_administration, strength_mg, "maxDosePerAdministration")
    if isinstance(amount, UnknownDose):
        return amount
    per_day = times_per_day(obj(line.get("timing")))
    if isinstance(per_day, UnknownDose):
        return UnknownDose(
            "as needed with a maximum per administration but no statement of how often "
            "it may be taken, so the most in a day is not known",
            DoseGap.NOT_WRITTEN,
        )
    mg, amount_text = amount
    times, times_text = per_day
    total = _mg(mg * times)
    return DailyDose(total, f"{amount_text} per dose × {times_text} = {fmt(total)} mg/day")


def _per_period(ratio: JsonObject, strength_mg: float | None) -> DailyDose | UnknownDose:
    amount = quantity_mg(obj(ratio.get("numerator")), strength_mg, "maxDosePerPeriod")
    if isinstance(amount, UnknownDose):
        return amount
    denominator = obj(ratio.get("denominator"))
    value = number(denominator.get("value"))
    unit = text(denominator.get("code")) or text(denominator.get("unit"))
    days_per_unit = unit_days(unit)
    if value is None or value <= 0 or days_per_unit is None:
        return UnknownDose(
            f"maxDosePerPeriod's period ('{fmt(value) if value is not None else '?'} "
            f"{_shown_unit(unit) if unit else 'no unit'}') is not a length of time"
        )
    mg, amount_text = amount
    total = _mg(mg / (value * days_per_unit))
    return DailyDose(total, f"{amount_text} per {fmt(value)} {unit} = {fmt(total)} mg/day")


def amount_mg(line: JsonObject, strength_mg: float | None) -> tuple[float, str] | UnknownDose:
    quantity = None
    for dose_and_rate in objs(line.get("doseAndRate")):
        quantity = obj(dose_and_rate.get("doseQuantity")) or obj(
            obj(dose_and_rate.get("doseRange")).get("high")
        )
        if quantity:
            break
    if not quantity:
        return UnknownDose("no dose quantity", DoseGap.NOT_WRITTEN)
    return quantity_mg(quantity, strength_mg, "dose quantity")


def quantity_mg(
    quantity: JsonObject, strength_mg: float | None, what: str
) -> tuple[float, str] | UnknownDose:
    """A Quantity in mg, and how it was read: a mass, or a count of dose units × strength.

    The UCUM `code` is read first, then the `unit` text: an EHR that codes its units in
    another system (NCI, SNOMED CT) still writes "tablet" beside the code."""
    value = number(quantity.get("value"))
    if value is None or value < 0:
        return UnknownDose(f"{what} has no value", DoseGap.NOT_WRITTEN)
    units = [u.strip() for u in (text(quantity.get("code")), text(quantity.get("unit"))) if u]
    # The units are those of fhir_mappings/data/dose_units.csv.
    table = dose_units()
    for unit in units:
        factor = table.mg(unit)
        if factor is not None:
            mg = value * factor
            shown = f"{fmt(value)} mg" if factor == 1.0 else f"{fmt(value)} {unit} ({fmt(mg)} mg)"
            return mg, shown
    for unit in units:
        if table.counts_dose_units(unit):
            if strength_mg is None:
                return UnknownDose(
                    f"{what} is {table.counted(value, unit)}, and the product's strength could "
                    "not be read",
                    DoseGap.STRENGTH,
                )
            return value * strength_mg, f"{fmt(value)} × {fmt(strength_mg)} mg"
    shown = " / ".join(dict.fromkeys(_shown_unit(u) for u in units)) or "none"
    return UnknownDose(f"{what} unit '{shown}' is not a mass or a tablet/capsule count")


def times_per_day(timing: JsonObject) -> tuple[float, str] | UnknownDose:
    """Administrations per day at the most frequent the timing allows (frequencyMax over
    frequency, period rather than periodMax)."""
    repeat = obj(timing.get("repeat"))
    frequency = number(repeat.get("frequencyMax")) or number(repeat.get("frequency"))
    period = number(repeat.get("period"))
    unit = text(repeat.get("periodUnit"))
    if period is not None and unit in DAYS_PER_UNIT and period > 0:
        frequency = frequency or 1.0
        per_day = frequency / (period * DAYS_PER_UNIT[unit])
        return per_day, f"{fmt(frequency)} per {fmt(period)} {unit} ({fmt(per_day)}/day)"
    when = repeat.get("when")
    if frequency is None and isinstance(when, list) and when:
        return float(len(when)), f"{len(when)}/day ({', '.join(str(w) for w in when)})"
    code = _timing_code(timing.get("code"))
    if code is not None:
        return TIMING_CODES[code], f"{fmt(TIMING_CODES[code])}/day ({code})"
    return UnknownDose("how often the dose is taken is not stated", DoseGap.NOT_WRITTEN)


def _timing_code(concept: Any) -> str | None:
    concept = obj(concept)
    candidates = [text(c.get("code")) for c in objs(concept.get("coding"))]
    candidates.append(text(concept.get("text")))
    for candidate in candidates:
        if candidate and candidate.strip().upper() in TIMING_CODES:
            return candidate.strip().upper()
    return None
