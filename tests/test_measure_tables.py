"""The measure tables as data: pain-score codes (terminology.md §3d) and dose units (GUIDELINE
§4), read from fhir_mappings/data/ and checked row by row like the terminology tables."""

from __future__ import annotations

import pytest

from cds.api.services import PAIN_SCORES
from fhir_mappings.measures import (
    DOSE_UNIT_COLUMNS,
    PAIN_SCORE_COLUMNS,
    PainScoreCode,
    count_form,
    dose_unit_table,
    dose_units,
    pain_score_codes,
    pain_score_table,
)
from fhir_mappings.tables import TerminologyError, read_table

LOINC = "http://loinc.org"


def test_the_pain_scores_are_the_three_verified_loinc_codes_of_terminology_3d() -> None:
    assert list(pain_score_codes().values()) == [
        PainScoreCode(
            LOINC,
            "72514-3",
            "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
            "Pain severity 0-10 (reported)",
        ),
        PainScoreCode(LOINC, "38208-5", "Pain severity - Reported", "Pain severity (reported)"),
        PainScoreCode(
            LOINC,
            "38214-3",
            "Pain severity [Score] Visual analog score",
            "Pain severity, visual analogue score",
        ),
    ]


def test_the_prefetch_template_asks_for_the_codes_the_mapping_reads() -> None:
    asked = PAIN_SCORES.template.split("&code=")[1].split("&")[0].split(",")
    assert [tuple(a.split("|")) for a in asked] == list(pain_score_codes())


def test_the_dose_units() -> None:
    units = dose_units()
    assert dict(units.mg_per_unit) == {"mg": 1, "g": 1000, "ug": 0.001, "µg": 0.001, "mcg": 0.001}
    assert units.counts == {
        "tbl", "tablet", "tablets", "tab", "tabs", "caplet", "caplets", "cap", "caps",
        "capsule", "capsules", "pill", "pills", "1", "unit", "units", "each", "ea",
    }  # fmt: skip
    assert (units.mg("MG"), units.mg("mL"), units.mg("tablet")) == (1, None, None)


@pytest.mark.parametrize(
    ("written", "compared"),
    [
        ("{tbl}", "tbl"),
        ("{Tablet}", "tablet"),
        ("tablet(s)", "tablet"),
        ("TABLET, FILM COATED", "tablet"),
        (" { capsule } ", "capsule"),
        ("{puff}", "puff"),
    ],
)
def test_how_a_count_unit_is_compared(written: str, compared: str) -> None:
    assert count_form(written) == compared


def units_error(rows: str) -> str:
    table = read_table(",".join(DOSE_UNIT_COLUMNS) + "\n" + rows, "UNITS", DOSE_UNIT_COLUMNS)
    with pytest.raises(TerminologyError) as error:
        dose_unit_table(table)
    return str(error.value)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("mg,mass,,,UCUM,yes,\n", "UNITS line 2: the mg column is empty"),
        ("mg,mass,a lot,,UCUM,yes,\n", "UNITS line 2: mg 'a lot' is not a number"),
        ("mg,mass,0,,UCUM,yes,\n", "UNITS line 2: mg '0' is not a positive amount"),
        ("mg,weight,1,,UCUM,yes,\n", "UNITS line 2: kind 'weight' is not one of mass, count"),
        (
            "{tbl},count,,tablet,UCUM,yes,\n",
            "UNITS line 2: count unit '{tbl}' is compared as 'tbl': write it in that form",
        ),
        (
            "tbl,count,25,tablet,UCUM,yes,\n",
            "UNITS line 2: a count unit has no mg: its mg is the product strength",
        ),
        ("tbl,count,,,UCUM,yes,\n", "UNITS line 2: the shown column is empty"),
        (
            "mg,mass,1,milligram,UCUM,yes,\n",
            "UNITS line 2: a mass unit is shown as written: leave shown empty",
        ),
        ("mg,mass,1,,UCUM,yes,\nMG,mass,1,,x,yes,\n", "UNITS line 3: unit 'MG' is already "),
        ("tab,count,,tablet,x,yes,\ntab,mass,1,,x,yes,\n", "UNITS line 3: unit 'tab' is already "),
        ("tab,count,,tablet,x,partial,\n", "UNITS line 2: verified is partial but the note column"),
        ("tab,count,,tablet,,yes,\n", "UNITS line 2: the source column is empty"),
    ],
)
def test_a_bad_dose_unit_row_is_one_line_naming_the_file_and_line(rows: str, message: str) -> None:
    assert units_error(rows).startswith(message)


def scores_error(rows: str) -> str:
    header = ",".join(PAIN_SCORE_COLUMNS) + "\n"
    table = read_table(header + rows, "SCORES", PAIN_SCORE_COLUMNS)
    with pytest.raises(TerminologyError) as error:
        pain_score_table(table)
    return str(error.value)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (f"{LOINC},72514-3,d,,VSAC,yes,\n", "SCORES line 2: the label column is empty"),
        (f"{LOINC},,d,l,VSAC,yes,\n", "SCORES line 2: the code column is empty"),
        ("loinc,72514-3,d,l,VSAC,yes,\n", "SCORES line 2: system 'loinc' is neither `text`"),
        ("text,pain,d,l,VSAC,yes,\n", "SCORES line 2: a pain score is read by its code"),
        (
            f"{LOINC},72514-3,d,l,VSAC,yes,\n{LOINC},72514-3,d,l,VSAC,yes,\n",
            f"SCORES line 3: {LOINC} 72514-3 is already defined in SCORES line 2",
        ),
        (f"{LOINC},72514-3,d,l,VSAC,no,\n", "SCORES line 2: verified is no but the note"),
    ],
)
def test_a_bad_pain_score_row_is_one_line_naming_the_file_and_line(rows: str, message: str) -> None:
    assert scores_error(rows).startswith(message)


@pytest.mark.parametrize(
    ("value", "unit", "words"),
    [
        (1, "{tbl}", "1 tablet"),
        (2, "TABLET, FILM COATED", "2 tablets"),
        (1, "{capsule}", "1 capsule"),
        (1, "{pill}", "1 tablet/capsule"),
        (3, "{pill}", "3 tablets/capsules"),
        (2, "each", "2 units"),
        (0.5, "tab", "0.5 tablets"),
    ],
)
def test_a_count_is_shown_in_words_never_as_a_ucum_annotation(
    value: float, unit: str, words: str
) -> None:
    assert dose_units().counted(value, unit) == words


def test_every_count_unit_has_its_words() -> None:
    units = dose_units()
    assert set(units.shown) == set(units.counts)
    assert set(units.shown.values()) == {"tablet", "capsule", "tablet/capsule", "unit"}
