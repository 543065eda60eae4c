"""Daily dose in mg from Dosage (GUIDELINE §4), with the arithmetic written out.

Per dosage line: amount per administration × administrations per day. The amount is
`doseAndRate.doseQuantity` (or the high end of `doseRange`) in mg, g or mcg, or a count of
tablets/capsules times the product strength. Administrations per day come from
`timing.repeat` (frequencyMax over frequency, per period/periodUnit) or `timing.code`.

Lines that share a `sequence` (or have none) are taken together and summed; lines with
different sequences follow one another (a titration), so the day's dose is the largest
sequence's sum.
"""

from __future__ import annotations

from typing import Any

from facts.dose import DailyDose, UnknownDose, fmt
from fhir_mappings.json_access import JsonObject, number, obj, objs, text

MG_PER_UNIT: dict[str, float] = {"mg": 1.0, "g": 1000.0, "mcg": 0.001, "ug": 0.001, "µg": 0.001}

# Units that count whole dose units: UCUM annotations such as {tbl} or the sandbox's {pill}
# (compared without their braces), HL7 orderable-drug-form codes (TAB, CAP) and the words
# EHRs send, singular, plural or "tablet(s)".
UNIT_DOSE_UNITS = frozenset(
    {
        "tbl",
        "tab",
        "tabs",
        "tablet",
        "tablets",
        "cap",
        "caps",
        "capsule",
        "capsules",
        "pill",
        "pills",
        "1",
        "unit",
        "units",
        "each",
        "ea",
    }
)


def counts_dose_units(unit: str) -> bool:
    word = unit.strip().lower().removeprefix("{").removesuffix("}").strip()
    return word.removesuffix("(s)") in UNIT_DOSE_UNITS


DAYS_PER_UNIT: dict[str, float] = {
    "s": 1 / 86400,
    "min": 1 / 1440,
    "h": 1 / 24,
    "d": 1.0,
    "wk": 7.0,
    "mo": 30.0,  # UCUM's calendar month is not a fixed length; 30 days errs toward a higher dose
    "a": 365.0,
}

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


def daily_dose(dosage: Any, strength_mg: float | None) -> DailyDose | UnknownDose:
    lines = list(objs(dosage))
    if not lines:
        return UnknownDose("no dosage instructions")
    by_sequence: dict[Any, list[DailyDose]] = {}
    for line in lines:
        per_line = line_dose(line, strength_mg)
        if isinstance(per_line, UnknownDose):
            return per_line
        sequence = line.get("sequence") if isinstance(line.get("sequence"), int) else None
        by_sequence.setdefault(sequence, []).append(per_line)
    totals = [_sum(doses) for doses in by_sequence.values()]
    return max(totals, key=lambda d: d.mg_per_day)


def _sum(doses: list[DailyDose]) -> DailyDose:
    if len(doses) == 1:
        return doses[0]
    total = sum(d.mg_per_day for d in doses)
    return DailyDose(
        total, " + ".join(f"({d.arithmetic})" for d in doses) + f" = {fmt(total)} mg/day"
    )


def line_dose(line: JsonObject, strength_mg: float | None) -> DailyDose | UnknownDose:
    amount = amount_mg(line, strength_mg)
    if isinstance(amount, UnknownDose):
        return amount
    per_day = times_per_day(obj(line.get("timing")))
    if isinstance(per_day, UnknownDose):
        return per_day
    mg, amount_text = amount
    times, times_text = per_day
    total = mg * times
    return DailyDose(total, f"{amount_text} × {times_text} = {fmt(total)} mg/day")


def amount_mg(line: JsonObject, strength_mg: float | None) -> tuple[float, str] | UnknownDose:
    quantity = None
    for dose_and_rate in objs(line.get("doseAndRate")):
        quantity = obj(dose_and_rate.get("doseQuantity")) or obj(
            obj(dose_and_rate.get("doseRange")).get("high")
        )
        if quantity:
            break
    if not quantity:
        return UnknownDose("no dose quantity")
    value = number(quantity.get("value"))
    if value is None or value < 0:
        return UnknownDose("dose quantity has no value")
    unit = (text(quantity.get("code")) or text(quantity.get("unit")) or "").strip()
    factor = MG_PER_UNIT.get(unit) or MG_PER_UNIT.get(unit.lower())
    if factor is not None:
        mg = value * factor
        shown = f"{fmt(value)} {unit}" if unit == "mg" else f"{fmt(value)} {unit} ({fmt(mg)} mg)"
        return mg, shown
    if counts_dose_units(unit):
        if strength_mg is None:
            return UnknownDose(f"dose is {fmt(value)} {unit} and the product strength is unknown")
        mg = value * strength_mg
        return mg, f"{fmt(value)} × {fmt(strength_mg)} mg"
    return UnknownDose(f"dose unit '{unit or 'none'}' is not a mass or a tablet/capsule count")


def times_per_day(timing: JsonObject) -> tuple[float, str] | UnknownDose:
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
    return UnknownDose("how often the dose is taken is not stated")


def _timing_code(concept: Any) -> str | None:
    concept = obj(concept)
    candidates = [text(c.get("code")) for c in objs(concept.get("coding"))]
    candidates.append(text(concept.get("text")))
    for candidate in candidates:
        if candidate and candidate.strip().upper() in TIMING_CODES:
            return candidate.strip().upper()
    return None
