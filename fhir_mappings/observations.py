"""Observation → PainScore (GUIDELINE §3 "Response").

Pain scores are recognised by their LOINC code, never by category: EHRs file the same
score under `survey` or `vital-signs`. Statuses `final`, `amended` and `corrected` count;
`preliminary` is kept and marked as such; every other status (`entered-in-error`,
`cancelled`, `registered` with no result yet, `unknown`) is left out.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import date

from facts.observations import PainScore
from fhir_mappings.json_access import JsonObject, codings, number, obj, reference_of, text
from fhir_mappings.periods import fhir_date

log = logging.getLogger(__name__)

LOINC = "http://loinc.org"

# terminology.md §3d, every row verified: members of the VSAC Standardized Pain Assessment
# Tool value set (2.16.840.1.113883.3.526.2.1073, LOINC 2.76). The labels are ours.
PAIN_SCORE_CODES: dict[str, str] = {
    "72514-3": "Pain severity 0-10 (reported)",
    "38208-5": "Pain severity (reported)",
    "38214-3": "Pain severity, visual analogue score",
}

COUNTED_STATUSES = frozenset({"final", "amended", "corrected"})
PRELIMINARY = "preliminary"

_NUMBER = re.compile(r"\s*(\d+(?:\.\d+)?)\s*")


def pain_scores(observations: Iterable[JsonObject]) -> tuple[PainScore, ...]:
    """The pain scores among `observations`, most recent first."""
    scores = []
    for observation in observations:
        try:
            score = pain_score(observation)
        except (TypeError, ValueError, AttributeError, KeyError) as error:
            log.warning("skipped malformed Observation: %s", type(error).__name__)
            continue
        if score is not None:
            scores.append(score)
    # Stable: scores of the same day keep the order the EHR sent (newest first by _sort).
    return tuple(sorted(scores, key=lambda s: s.when, reverse=True))


def pain_score(observation: JsonObject) -> PainScore | None:
    """The score one Observation records, or None when it is not a pain score the guideline
    reads (another code, a status that does not count, no numeric value, no date)."""
    code = next(
        (
            code
            for system, code in codings(observation.get("code"))
            if system == LOINC and code in PAIN_SCORE_CODES
        ),
        None,
    )
    if code is None:
        return None
    status = text(observation.get("status"))
    if status not in COUNTED_STATUSES and status != PRELIMINARY:
        return None
    value = _value(observation)
    when = _when(observation)
    if value is None or when is None:
        return None
    amount, unit = value
    return PainScore(
        reference=reference_of(observation),
        label=PAIN_SCORE_CODES[code],
        value=amount,
        unit=unit,
        when=when,
        preliminary=status == PRELIMINARY,
    )


def _value(observation: JsonObject) -> tuple[float, str | None] | None:
    quantity = obj(observation.get("valueQuantity"))
    if quantity:
        amount = number(quantity.get("value"))
        if amount is None:
            return None
        return amount, _unit(text(quantity.get("unit")) or text(quantity.get("code")))
    integer = observation.get("valueInteger")
    if isinstance(integer, int) and not isinstance(integer, bool):
        return float(integer), None
    written = text(observation.get("valueString"))
    if written and (match := _NUMBER.fullmatch(written)):
        return float(match.group(1)), None
    return None


def _unit(unit: str | None) -> str | None:
    # "{score}" and "1" say only that the value is a number on the scale: no unit to show.
    if unit is None or unit == "1" or (unit.startswith("{") and unit.endswith("}")):
        return None
    return unit


def _when(observation: JsonObject) -> date | None:
    return (
        fhir_date(observation.get("effectiveDateTime"))
        or fhir_date(obj(observation.get("effectivePeriod")).get("start"))
        or fhir_date(observation.get("effectiveInstant"))
        or fhir_date(observation.get("issued"))
    )
