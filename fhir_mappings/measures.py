"""The tables of what is measured: pain-score codes (LOINC) and the units of a dose.

Data, like the terminology: `fhir_mappings/data/pain_scores.csv` and `dose_units.csv`, one row
per code or unit with its source and how far it is verified, read once and checked (a bad row
is one line naming the file and line). They are the service's own: a site file does not
extend them, since the pain-score codes are also the `painScores` prefetch template the
service announces in discovery.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from types import MappingProxyType

from facts.dose import fmt
from fhir_mappings.code_tables import parse_system
from fhir_mappings.tables import Row, Where, builtin_rows, check_verified

PAIN_SCORE_FILE = "pain_scores.csv"
PAIN_SCORE_COLUMNS = ("system", "code", "display", "label", "source", "verified", "note")
DOSE_UNIT_FILE = "dose_units.csv"
DOSE_UNIT_COLUMNS = ("unit", "kind", "mg", "shown", "source", "verified", "note")


@dataclass(frozen=True, slots=True)
class PainScoreCode:
    system: str
    code: str
    display: str  # as the code system gives it
    label: str  # the shorter words a card shows


class UnitKind(StrEnum):
    MASS = "mass"
    COUNT = "count"  # of dose units (tablets, capsules): count × product strength


@dataclass(frozen=True, slots=True)
class DoseUnits:
    mg_per_unit: Mapping[str, float]
    counts: frozenset[str]
    # The word a card shows for one of each count unit ("tablet" for {tbl}).
    shown: Mapping[str, str] = field(default_factory=dict)

    def mg(self, unit: str) -> float | None:
        """How many mg one `unit` is, when it is a mass unit."""
        return self.mg_per_unit.get(unit) or self.mg_per_unit.get(unit.lower())

    def counts_dose_units(self, unit: str) -> bool:
        return count_form(unit) in self.counts

    def counted(self, value: float, unit: str) -> str:
        """A count of a count unit in words: "1 tablet", "2 tablets/capsules" for {pill}."""
        one = self.shown.get(count_form(unit), "unit")
        words = one if value == 1 else "/".join(f"{w}s" for w in one.split("/"))
        return f"{fmt(value)} {words}"


def count_form(unit: str) -> str:
    """A unit as count units are compared: "{Tablet}", "tablet(s)" and "TABLET, FILM
    COATED" are all "tablet"."""
    word = unit.strip().lower().removeprefix("{").removesuffix("}").strip()
    return word.split(",")[0].strip().removesuffix("(s)")


@cache
def pain_score_codes() -> Mapping[tuple[str, str], PainScoreCode]:
    """The pain scores by (system, code), in the table's order."""
    return pain_score_table(builtin_rows(PAIN_SCORE_FILE, PAIN_SCORE_COLUMNS))


@cache
def dose_units() -> DoseUnits:
    return dose_unit_table(builtin_rows(DOSE_UNIT_FILE, DOSE_UNIT_COLUMNS))


def pain_score_table(rows: tuple[Row, ...]) -> Mapping[tuple[str, str], PainScoreCode]:
    found: dict[tuple[str, str], PainScoreCode] = {}
    where: dict[tuple[str, str], Where] = {}
    for row in rows:
        check_verified(row)
        system = parse_system(row)
        code = row.required("code")
        if system == "text":
            raise row.where.error("a pain score is read by its code: system `text` is not used")
        key = (system, code)
        if key in found:
            raise row.where.error(f"{system} {code} is already defined in {where[key]}")
        found[key] = PainScoreCode(system, code, row.required("display"), row.required("label"))
        where[key] = row.where
    return MappingProxyType(found)


def dose_unit_table(rows: tuple[Row, ...]) -> DoseUnits:
    mg_per_unit: dict[str, float] = {}
    counts: set[str] = set()
    shown: dict[str, str] = {}
    where: dict[str, Where] = {}
    for row in rows:
        check_verified(row)
        unit = row.required("unit")
        kind = row.required("kind")
        if kind == UnitKind.MASS:
            key = unit.lower()
            mg = _positive(row)
            mg_per_unit[unit] = mg
            if row["shown"]:
                raise row.where.error("a mass unit is shown as written: leave shown empty")
        elif kind == UnitKind.COUNT:
            key = count_form(unit)
            if unit != key:
                raise row.where.error(
                    f"count unit {unit!r} is compared as {key!r}: write it in that form"
                )
            if row["mg"]:
                raise row.where.error("a count unit has no mg: its mg is the product strength")
            counts.add(unit)
            shown[unit] = row.required("shown")
        else:
            raise row.where.error(f"kind {kind!r} is not one of mass, count")
        if key in where:
            raise row.where.error(f"unit {unit!r} is already defined in {where[key]}")
        where[key] = row.where
    return DoseUnits(MappingProxyType(mg_per_unit), frozenset(counts), MappingProxyType(shown))


def _positive(row: Row) -> float:
    cell = row.required("mg")
    try:
        mg = float(cell)
    except ValueError:
        raise row.where.error(f"mg {row['mg']!r} is not a number") from None
    if not mg > 0:
        raise row.where.error(f"mg {row['mg']!r} is not a positive amount")
    return mg
