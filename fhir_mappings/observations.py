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
from fhir_mappings.fhir_dates import exact_day
from fhir_mappings.json_access import JsonObject, codings, number, obj, reference_of, text
from fhir_mappings.measures import pain_score_codes

log = logging.getLogger(__name__)

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
    # The codes are those of fhir_mappings/data/pain_scores.csv (terminology.md §3d).
    known = pain_score_codes()
    code = next(
        (known[key] for key in codings(observation.get("code")) if key in known),
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
        label=code.label,
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
    # A score is shown with its day: a partial date gives none, and the score is left out.
    return (
        exact_day(observation.get("effectiveDateTime"))
        or exact_day(obj(observation.get("effectivePeriod")).get("start"))
        or exact_day(observation.get("effectiveInstant"))
        or exact_day(observation.get("issued"))
    )
