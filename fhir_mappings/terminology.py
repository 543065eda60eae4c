"""The terminology: which codes, names and phrases mean what for the guideline.

The knowledge is data, in `fhir_mappings/data/` (one row per code or synonym, each with its
source and how far it is verified; `docs/terminology.md` explains the files), loaded once
and checked: a malformed, duplicate or contradictory row stops loading with one line naming
the file and line. A site file (setting `CDS_SITE_TERMINOLOGY_FILE`) adds local codes and
synonyms to the same tables; it may not redefine a code the built-in tables already know.

`builtin()` is the service's own tables; `load_terminology(site_file)` adds a site's. Both
are immutable, so one object can be shared by every request and used as a cache key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

from facts.classes import Amine, ConditionClass, TherapyClass
from fhir_mappings.code_tables import (
    ATC,
    FAMILY_MARK,
    ICD10,
    ICD10CM,
    ICD_SYSTEMS,
    RXNORM,
    SNOMED,
    CodeTable,
    build_code_table,
    normalise,
    parse_system,
)
from fhir_mappings.measures import DOSE_UNIT_FILE, PAIN_SCORE_FILE, dose_units, pain_score_codes
from fhir_mappings.tables import (
    CODE_COLUMNS,
    SITE_COLUMNS,
    Row,
    TerminologyError,
    Where,
    builtin_label,
    builtin_rows,
    check_verified,
    read_table,
)
from fhir_mappings.text_rules import (
    EXCLUSION_PREFIX,
    TEXT_SYSTEM,
    Negation,
    TextMatcher,
    TextRule,
    compile_pattern,
)

__all__ = [
    "ATC",
    "ICD10",
    "ICD10CM",
    "ICD_SYSTEMS",
    "RXNORM",
    "SNOMED",
    "ClinicalDrug",
    "Form",
    "Ingredient",
    "Terminology",
    "TerminologyError",
    "builtin",
    "load_terminology",
]

# Concepts of the condition table beyond the ConditionClass values.
REMISSION = "remission"
# Concepts of the medication table beyond ingredient keys.
CLASS_PREFIX = "class:"
TOPICAL = "topical"  # applied to the skin for a local effect
TRANSDERMAL = "transdermal"  # through the skin into the body: systemic
PATCH = "patch"  # topical for lidocaine, transdermal for anything else
OAT_PRODUCT = "oat-product"  # a buprenorphine product for opioid use disorder
PAIN_PRODUCT = "pain-product"  # a buprenorphine product for pain (Belbuca, Buprenex)
PRODUCT_WORDS = frozenset({TOPICAL, TRANSDERMAL, PATCH, OAT_PRODUCT, PAIN_PRODUCT})
# Concepts of the order table.
SPLINT = "splint"
RESIDUAL_LIMB = "residual-limb"
# Concepts of the language table.
NEGATION_BEFORE = "negation-before"
NEGATION_AFTER = "negation-after"


class Form(StrEnum):
    UNIT_DOSE = "unit-dose"  # tablet or capsule: a count of them times the strength is a dose
    SOLUTION = "solution"
    TOPICAL_PATCH = "topical-patch"
    TRANSDERMAL = "transdermal"  # systemic absorption through the skin (fentanyl, buprenorphine)
    SUBLINGUAL = "sublingual"


class AgonistTreatment(StrEnum):
    """Whether an agent's products are opioid agonist treatment products (GUIDELINE §2)."""

    NEVER = "never"
    ALWAYS = "always"  # methadone
    BY_PRODUCT = "by-product"  # buprenorphine: sublingual, with naloxone, ER injection


@dataclass(frozen=True, slots=True)
class Ingredient:
    key: str
    therapy_class: TherapyClass
    amine: Amine | None = None
    agonist_treatment: AgonistTreatment = AgonistTreatment.NEVER


@dataclass(frozen=True, slots=True)
class ClinicalDrug:
    """An RxNorm SCD/SBD: its ingredients with their strength in mg per unit, and its form."""

    rxcui: str
    display: str
    strengths_mg: tuple[tuple[str, float], ...]
    form: Form

    @property
    def ingredients(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.strengths_mg)


@dataclass(frozen=True, slots=True, eq=False)
class Terminology:
    condition_codes: CodeTable
    condition_text: TextMatcher
    drug_codes: CodeTable
    # An order names what it orders: its text is read without negation. An allergy's text is
    # read with it ("no known allergy to codeine").
    drug_text: TextMatcher
    allergen_text: TextMatcher
    ingredients: Mapping[str, Ingredient]
    clinical_drugs: Mapping[str, ClinicalDrug]
    order_text: TextMatcher
    # The files read, built-in first.
    files: tuple[str, ...]


E = TypeVar("E", bound=StrEnum)

# The built-in tables, each with the table name a site file uses for it.
CODE_FILES = {
    "conditions": "conditions.csv",
    "medications": "medications.csv",
    "orders": "orders.csv",
    "language": "language.csv",
}
INGREDIENT_FILE = "ingredients.csv"
INGREDIENT_COLUMNS = (
    "ingredient",
    "therapy_class",
    "amine",
    "agonist_treatment",
    "source",
    "verified",
    "note",
)
CLINICAL_DRUG_FILE = "clinical_drugs.csv"
CLINICAL_DRUG_COLUMNS = ("rxcui", "display", "form", "strengths", "source", "verified", "note")


@lru_cache(maxsize=1)
def builtin() -> Terminology:
    """The service's own tables, read once per process."""
    return _build(())


def load_terminology(site_file: str | Path | None) -> Terminology:
    """The built-in tables, plus a site's rows when `site_file` is given.

    A site row may add a code or a synonym, never change what a built-in row says: a code
    the built-in tables already recognise (by itself or through its family) is refused as a
    duplicate or a contradiction, naming the built-in row.
    """
    if site_file is None:
        return builtin()
    base = builtin()
    site = _site_rows(Path(site_file))
    terminology = _build(site, str(site_file))
    _only_new_codes(site, base)
    return terminology


def _build(site_rows: Iterable[Row], site_label: str | None = None) -> Terminology:
    ingredients = _ingredients(builtin_rows(INGREDIENT_FILE, INGREDIENT_COLUMNS))
    drugs = _clinical_drugs(builtin_rows(CLINICAL_DRUG_FILE, CLINICAL_DRUG_COLUMNS), ingredients)
    by_table: dict[str, list[Row]] = {
        table: list(builtin_rows(name, CODE_COLUMNS)) for table, name in CODE_FILES.items()
    }
    names = [builtin_label(n) for n in (INGREDIENT_FILE, CLINICAL_DRUG_FILE)]
    names += [builtin_label(n) for n in CODE_FILES.values()]
    # The measure tables are not a site's to extend, but are checked with the rest at start-up.
    pain_score_codes()
    dose_units()
    names += [builtin_label(n) for n in (PAIN_SCORE_FILE, DOSE_UNIT_FILE)]
    for row in site_rows:
        by_table[row["table"]].append(row)
    if site_label is not None:
        names.append(site_label)
    vocabulary = _Vocabulary(ingredients)
    condition_rows = [_parse(row, vocabulary.conditions) for row in by_table["conditions"]]
    drug_rows = [_parse(row, vocabulary.medications) for row in by_table["medications"]]
    order_rows = [_parse(row, vocabulary.orders) for row in by_table["orders"]]
    language_rows = [_parse(row, vocabulary.language) for row in by_table["language"]]
    for rows in (order_rows, language_rows):
        for row, system, _ in rows:
            if system != TEXT_SYSTEM:
                raise row.where.error("this table holds text patterns only (system `text`)")
    negation = _negation(language_rows)
    drug_code_rows = [r for r in drug_rows if r[1] != TEXT_SYSTEM]
    drug_rules = _text_rules(drug_rows)
    _no_clinical_drug_clash(drug_code_rows, drugs)
    return Terminology(
        condition_codes=_codes(condition_rows),
        condition_text=TextMatcher(_text_rules(condition_rows), negation),
        drug_codes=build_code_table(drug_code_rows),
        drug_text=TextMatcher(drug_rules),
        allergen_text=TextMatcher(drug_rules, negation),
        ingredients=ingredients,
        clinical_drugs=drugs,
        order_text=TextMatcher(_text_rules(order_rows), negation),
        files=tuple(names),
    )


def _only_new_codes(site_rows: Iterable[Row], base: Terminology) -> None:
    tables = {"conditions": base.condition_codes, "medications": base.drug_codes}
    for row in site_rows:
        table = tables.get(row["table"])
        system = row["system"]
        if table is None or system == TEXT_SYSTEM:
            continue
        code = row["code"].removesuffix(FAMILY_MARK).strip()
        concepts = frozenset(t.strip() for t in row["concept"].split("+"))
        known = [entry for entry in [table.lookup(system, code)] if entry is not None]
        if row["code"].endswith(FAMILY_MARK):
            stem = normalise(system, code)
            known += [
                entry
                for entry_system, entry in table.entries()
                if entry_system == system and normalise(system, entry.code).startswith(stem)
            ]
        for entry in known:
            kind = "duplicates" if entry.concepts == concepts else "contradicts"
            raise row.where.error(
                f"{system} {row['code']} {kind} {entry.where}, which says "
                f"{'+'.join(sorted(entry.concepts))}; a site file adds codes, it does not "
                "redefine them"
            )


def __getattr__(name: str) -> Mapping[str, ClinicalDrug]:
    # `CLINICAL_DRUGS`: the built-in clinical drugs, read on first use rather than on import,
    # so that a broken table is reported by start-up's one-line check, not by an import.
    if name == "CLINICAL_DRUGS":
        return builtin().clinical_drugs
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- reading ------------------------------------------------------------------------------


def _site_rows(path: Path) -> tuple[Row, ...]:
    label = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise TerminologyError(f"{label} cannot be read: {error}") from None
    rows = read_table(text, label, SITE_COLUMNS)
    for row in rows:
        table = row.required("table")
        if table not in CODE_FILES:
            raise row.where.error(
                f"table {table!r} is not one a site can extend; use one of {', '.join(CODE_FILES)}"
            )
    return rows


class _Vocabulary:
    """The concepts each table may name."""

    def __init__(self, ingredients: Mapping[str, Ingredient]) -> None:
        self.conditions = frozenset({c.value for c in ConditionClass} | {REMISSION})
        self.medications = frozenset(
            set(ingredients) | {f"{CLASS_PREFIX}{t.value}" for t in TherapyClass} | PRODUCT_WORDS
        )
        self.orders = frozenset({SPLINT, RESIDUAL_LIMB})
        self.language = frozenset({NEGATION_BEFORE, NEGATION_AFTER})


def _parse(row: Row, vocabulary: frozenset[str]) -> tuple[Row, str, frozenset[str]]:
    """Check a code or synonym row; its system and concepts."""
    system = parse_system(row)
    check_verified(row)
    row.required("code")
    tokens = [t.strip() for t in row.required("concept").split("+")]
    concepts = frozenset(tokens)
    if len(concepts) != len(tokens) or "" in concepts:
        raise row.where.error(f"concept {row['concept']!r}: concepts are joined by single +")
    exclusions = {c for c in concepts if c.startswith(EXCLUSION_PREFIX)}
    if exclusions and (system != TEXT_SYSTEM or len(exclusions) != len(concepts)):
        raise row.where.error(
            f"concept {row['concept']!r}: an exclusion ({EXCLUSION_PREFIX}…) stands alone and "
            "only on a text row"
        )
    for concept in concepts:
        if concept.removeprefix(EXCLUSION_PREFIX) not in vocabulary:
            raise row.where.error(
                f"unknown concept {concept!r}; this table knows {', '.join(sorted(vocabulary))}"
            )
    return row, system, concepts


def _codes(rows: Iterable[tuple[Row, str, frozenset[str]]]) -> CodeTable:
    return build_code_table(r for r in rows if r[1] != TEXT_SYSTEM)


def _text_rules(rows: Iterable[tuple[Row, str, frozenset[str]]]) -> tuple[TextRule, ...]:
    seen: dict[str, tuple[Row, frozenset[str]]] = {}
    rules = []
    for row, system, concepts in rows:
        if system != TEXT_SYSTEM:
            continue
        pattern = row["code"]
        earlier = seen.get(pattern)
        if earlier is not None:
            earlier_row, earlier_concepts = earlier
            if earlier_concepts == concepts:
                raise row.where.error(f"text {pattern!r} duplicates {earlier_row.where}")
            raise row.where.error(
                f"text {pattern!r} means {'+'.join(sorted(concepts))} here but "
                f"{'+'.join(sorted(earlier_concepts))} in {earlier_row.where} "
                "(contradictory rows)"
            )
        seen[pattern] = (row, concepts)
        rules.append(TextRule(concepts, compile_pattern(pattern, row.where), row.where))
    return tuple(rules)


def _negation(rows: Iterable[tuple[Row, str, frozenset[str]]]) -> Negation:
    before: list[str] = []
    after: list[str] = []
    for row, _, concepts in _checked_patterns(rows):
        (before if NEGATION_BEFORE in concepts else after).append(f"(?:{row['code']})")
    return Negation.of(before, after)


def _checked_patterns(
    rows: Iterable[tuple[Row, str, frozenset[str]]],
) -> Iterable[tuple[Row, str, frozenset[str]]]:
    rows = list(rows)
    _text_rules(rows)  # the same checks: valid, no duplicates or contradictions
    for row, system, concepts in rows:
        if len(concepts) != 1:
            raise row.where.error("a negation cue is either negation-before or negation-after")
        yield row, system, concepts


def _ingredients(rows: Iterable[Row]) -> Mapping[str, Ingredient]:
    found: dict[str, Ingredient] = {}
    where: dict[str, Where] = {}
    for row in rows:
        check_verified(row)
        key = row.required("ingredient")
        if key != key.lower() or not key.replace("-", "").replace(" ", "").isalpha():
            raise row.where.error(f"ingredient {key!r}: use the lower-case generic name")
        if key in found:
            raise row.where.error(f"ingredient {key} is already defined in {where[key]}")
        found[key] = Ingredient(
            key,
            _enum(TherapyClass, row, "therapy_class"),
            _enum(Amine, row, "amine") if row["amine"] else None,
            _enum(AgonistTreatment, row, "agonist_treatment")
            if row["agonist_treatment"]
            else AgonistTreatment.NEVER,
        )
        where[key] = row.where
    return MappingProxyType(found)


def _clinical_drugs(
    rows: Iterable[Row], ingredients: Mapping[str, Ingredient]
) -> Mapping[str, ClinicalDrug]:
    found: dict[str, ClinicalDrug] = {}
    where: dict[str, Where] = {}
    for row in rows:
        check_verified(row)
        rxcui = row.required("rxcui")
        if not rxcui.isdigit():
            raise row.where.error(f"rxcui {rxcui!r} is not an RxNorm code (digits)")
        if rxcui in found:
            raise row.where.error(f"rxcui {rxcui} is already defined in {where[rxcui]}")
        strengths = []
        for part in row.required("strengths").split(";"):
            name, _, amount = part.partition("=")
            name = name.strip()
            if name not in ingredients:
                raise row.where.error(f"strengths: {name!r} is not an ingredient of the tables")
            try:
                mg = float(amount)
            except ValueError:
                raise row.where.error(
                    f"strengths: {part.strip()!r} is not ingredient=mg per unit"
                ) from None
            if not mg > 0:
                raise row.where.error(f"strengths: {part.strip()!r} is not a positive amount")
            strengths.append((name, mg))
        found[rxcui] = ClinicalDrug(
            rxcui, row.required("display"), tuple(strengths), _enum(Form, row, "form")
        )
        where[rxcui] = row.where
    return MappingProxyType(found)


def _no_clinical_drug_clash(
    rows: Iterable[tuple[Row, str, frozenset[str]]], drugs: Mapping[str, ClinicalDrug]
) -> None:
    for row, system, _ in rows:
        if system == RXNORM and row["code"] in drugs:
            raise row.where.error(
                f"RxNorm {row['code']} is already a clinical drug of "
                f"{builtin_label(CLINICAL_DRUG_FILE)}; a code is defined once"
            )


def _enum(kind: type[E], row: Row, column: str) -> E:
    value = row.required(column)
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(member.value for member in kind)
        raise row.where.error(f"{column} {value!r} is not one of {choices}") from None
