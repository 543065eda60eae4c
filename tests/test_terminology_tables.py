"""The knowledge tables as data: loading, checking, and a site's own rows.

A malformed, duplicate or contradictory row stops loading with one line naming the file and
line; a site file (CDS_SITE_TERMINOLOGY_FILE) adds local codes and synonyms, and a bad one
stops `plp-cds serve` with one line.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cds.app import create_app
from cds.cli import main
from cds.security.trusted_issuers import StartupError
from cds.settings import Settings, get_settings
from facts.classes import ConditionClass, TherapyClass
from fhir_mappings.conditions import condition_fact, recognise
from fhir_mappings.facts import patient_facts
from fhir_mappings.medications import identify, medication_fact
from fhir_mappings.resources import collect
from fhir_mappings.tables import TerminologyError
from fhir_mappings.terminology import builtin, load_terminology
from tests.conftest import ROOT
from tests.fhir import ICD10CM, bundle, condition, dosage, hook_request, med, plp

HEADER = "table,concept,system,code,display,source,verified,note\n"
FORMULARY = "http://hospital.example.org/fhir/formulary"
PROBLEM_LIST = "http://hospital.example.org/fhir/problem-list"


def readme_site_file() -> str:
    """The example site file of the README (Local codes and synonyms), as a reader copies it."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Local codes and synonyms\n") :]
    return section[section.index("```csv\n") + len("```csv\n") : section.index("```\n\n```sh")]


README_SITE = readme_site_file()


def site_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "site-terminology.csv"
    path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str) -> str:
    path = site_file(tmp_path, text)
    with pytest.raises(TerminologyError) as error:
        load_terminology(path)
    message = str(error.value)
    assert "\n" not in message
    return message.replace(str(path), "SITE")


# --- the built-in tables -------------------------------------------------------------------


def test_the_built_in_tables_load_once_and_hold_every_kind_of_row() -> None:
    tables = builtin()
    assert tables is builtin() is load_terminology(None)
    assert tables.files == (
        "fhir_mappings/data/ingredients.csv",
        "fhir_mappings/data/clinical_drugs.csv",
        "fhir_mappings/data/conditions.csv",
        "fhir_mappings/data/medications.csv",
        "fhir_mappings/data/orders.csv",
        "fhir_mappings/data/language.csv",
        "fhir_mappings/data/pain_scores.csv",
        "fhir_mappings/data/dose_units.csv",
    )
    assert tables.ingredients["nortriptyline"].therapy_class is TherapyClass.TCA
    assert tables.clinical_drugs["317136"].strengths_mg == (("nortriptyline", 25.0),)
    assert tables.condition_codes.lookup(ICD10CM, "I50.9") is not None


def test_what_the_tables_hold_cannot_be_changed() -> None:
    tables = builtin()
    with pytest.raises(TypeError):
        tables.ingredients["aspirin"] = tables.ingredients["morphine"]  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        tables.files = ()  # type: ignore[misc]


def test_cached_answers_are_immutable() -> None:
    # The caches share one answer among every request: nothing may change it.
    recognised = recognise({"coding": [{"system": ICD10CM, "code": "I50.9"}]})
    assert isinstance(recognised.classes, frozenset)
    with pytest.raises(dataclasses.FrozenInstanceError):
        recognised.remission = True  # type: ignore[misc]
    identity = identify({"text": "Pamelor 25 mg"}, {}, None, builtin())
    assert identity.ingredients == ("nortriptyline",)
    with pytest.raises(dataclasses.FrozenInstanceError):
        identity.ingredients = ()  # type: ignore[misc]


# --- a site file ---------------------------------------------------------------------------


def test_the_readme_site_file_adds_a_formulary_code_and_a_problem_list_term(
    tmp_path: Path,
) -> None:
    tables = load_terminology(site_file(tmp_path, README_SITE))
    order = med("NTP25", FORMULARY)
    assert medication_fact(order, {}) is None  # the built-in tables do not know it
    found = medication_fact(order, {}, terminology=tables)
    assert found is not None
    assert (found.ingredients, found.classes) == (("nortriptyline",), {TherapyClass.TCA})
    for local in (condition("PL-0042", PROBLEM_LIST), condition(text="Pump failure, NYHA II")):
        assert condition_fact(local) is None
        fact = condition_fact(local, tables)
        assert fact is not None and fact.classes == {ConditionClass.HEART_FAILURE}
    # The built-in rows are all still there.
    assert tables.condition_codes.lookup(ICD10CM, "I50.9") is not None
    assert tables.files[-1] == str(tmp_path / "site-terminology.csv")


def test_a_site_can_add_brand_names_and_splint_words(tmp_path: Path) -> None:
    tables = load_terminology(
        site_file(
            tmp_path,
            HEADER + "medications,nortriptyline,text,allegron,Allegron (UK brand),BNF,yes,\n"
            "orders,splint,text,gutter\\s+slab,gutter slab,local orthotics,yes,\n",
        )
    )
    found = medication_fact(med(text="Allegron 10 mg"), {}, terminology=tables)
    assert found is not None and found.ingredients == ("nortriptyline",)
    assert tables.order_text.find("Gutter slab to residual limb") == {"splint", "residual-limb"}


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            "",
            "SITE line 1: the file is empty; expected a header line",
        ),
        (
            "table,concept,system,code\n",
            "SITE line 1: the header is table,concept,system,code; expected "
            "table,concept,system,code,display,source,verified,note",
        ),
        (
            HEADER + "medications,nortriptyline,http://x.org,N1,Nortriptyline,formulary,yes\n",
            "SITE line 2: 7 cells where the header has 8 (a cell containing a comma must be in "
            "double quotes)",
        ),
        (
            HEADER + "allergies,nortriptyline,http://x.org,N1,n,formulary,yes,\n",
            "SITE line 2: table 'allergies' is not one a site can extend; use one of "
            "conditions, medications, orders, language",
        ),
        (
            HEADER + "medications,nortryptiline,http://x.org,N1,n,formulary,yes,\n",
            "SITE line 2: unknown concept 'nortryptiline'; this table knows",
        ),
        (
            HEADER + "conditions,heart-failure,http://x.org,,n,problem list,yes,\n",
            "SITE line 2: the code column is empty",
        ),
        (
            HEADER + "conditions,heart-failure,text,pump (failure,n,problem list,yes,\n",
            "SITE line 2: the pattern 'pump (failure' is not a valid regular expression: "
            "missing ), unterminated subpattern at position 5",
        ),
        (
            HEADER + "conditions,heart-failure,text,(?:pump)?,n,problem list,yes,\n",
            "SITE line 2: the pattern '(?:pump)?' matches empty text",
        ),
        (
            HEADER + "conditions,heart-failure,http://x.org,HF,n,problem list,maybe,\n",
            "SITE line 2: verified is 'maybe'; expected one of yes, partial, no",
        ),
        (
            HEADER + "conditions,heart-failure,http://x.org,HF,n,problem list,partial,\n",
            "SITE line 2: verified is partial but the note column does not say why the row is used",
        ),
        (
            HEADER + "conditions,heart-failure,http://snomed.info/sct,8411*,n,x,yes,\n",
            "SITE line 2: 8411*: a code family is allowed only for ICD-10-CM, ICD-10 and ATC "
            "codes; list the codes one by one",
        ),
        (
            HEADER + "conditions,heart-failure,snomed,84114007,n,x,yes,\n",
            "SITE line 2: system 'snomed' is neither `text` nor a code system URI such as "
            "http://snomed.info/sct",
        ),
        (
            HEADER + "orders,splint,http://x.org,S1,splint,x,yes,\n",
            "SITE line 2: this table holds text patterns only (system `text`)",
        ),
        (
            HEADER + "conditions,not:heart-failure,http://x.org,HF,n,x,yes,\n",
            "SITE line 2: concept 'not:heart-failure': an exclusion (not:…) stands alone and "
            "only on a text row",
        ),
        (
            HEADER + "conditions,cardiac-disease,http://x.org,HF,n,x,yes,\n",
            "SITE line 2: unknown concept 'cardiac-disease'",  # version 1's class is retired
        ),
    ],
)
def test_a_malformed_row_is_one_line_naming_the_file_and_line(
    rows: str, message: str, tmp_path: Path
) -> None:
    assert load_error(tmp_path, rows).startswith(message)


def test_a_duplicate_row_in_the_site_file(tmp_path: Path) -> None:
    row = f"medications,nortriptyline,{FORMULARY},NTP25,Nortriptyline 25 mg,formulary,yes,\n"
    assert load_error(tmp_path, HEADER + row + row) == (
        f"SITE line 3: {FORMULARY} NTP25 duplicates SITE line 2"
    )


def test_a_contradictory_row_in_the_site_file(tmp_path: Path) -> None:
    assert load_error(
        tmp_path,
        HEADER + f"medications,nortriptyline,{FORMULARY},X1,n,formulary,yes,\n"
        f"medications,desipramine,{FORMULARY},X1,n,formulary,yes,\n",
    ) == (
        f"SITE line 3: {FORMULARY} X1 means desipramine here but nortriptyline in SITE line 2 "
        "(contradictory rows)"
    )


@pytest.mark.parametrize(
    ("row", "message"),
    [
        # The same code and meaning as a built-in row.
        (
            "conditions,heart-failure,http://hl7.org/fhir/sid/icd-10-cm,I50*,Heart failure,x,yes,",
            "SITE line 2: http://hl7.org/fhir/sid/icd-10-cm I50* duplicates "
            "fhir_mappings/data/conditions.csv line",
        ),
        # A code a built-in family already gives another meaning.
        (
            "conditions,other-heart-disease,http://hl7.org/fhir/sid/icd-10-cm,I50.9,n,x,yes,",
            "SITE line 2: http://hl7.org/fhir/sid/icd-10-cm I50.9 contradicts "
            "fhir_mappings/data/conditions.csv line",
        ),
        # A family that takes in built-in codes of another meaning.
        (
            "medications,class:snri,http://www.whocc.no/atc,N06A*,antidepressants,x,yes,",
            "SITE line 2: http://www.whocc.no/atc N06A* contradicts "
            "fhir_mappings/data/medications.csv line",
        ),
        (
            "medications,desipramine,http://www.nlm.nih.gov/research/umls/rxnorm,317136,n,x,yes,",
            "SITE line 2: RxNorm 317136 is already a clinical drug of "
            "fhir_mappings/data/clinical_drugs.csv; a code is defined once",
        ),
        (
            "medications,desipramine,text,pamelor,Pamelor,x,yes,",
            "SITE line 2: text 'pamelor' means desipramine here but nortriptyline in "
            "fhir_mappings/data/medications.csv line",
        ),
    ],
)
def test_a_site_row_cannot_redefine_a_built_in_one(row: str, message: str, tmp_path: Path) -> None:
    assert load_error(tmp_path, HEADER + row + "\n").startswith(message)


def test_a_missing_site_file_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.csv"
    with pytest.raises(TerminologyError) as error:
        load_terminology(missing)
    assert str(error.value).startswith(f"{missing} cannot be read: [Errno 2]")


# --- the service with a site file ----------------------------------------------------------


def test_the_service_reads_the_site_file(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'cds.db'}",
        cds_site_terminology_file=str(site_file(tmp_path, README_SITE)),
    )
    conditions = bundle(plp(), condition("PL-0042", PROBLEM_LIST, id="hf"))
    draft = med("NTP25", FORMULARY, status="draft", id="d1", dosages=[dosage(1, "{capsule}")])
    request = hook_request("order-sign", conditions=conditions, draftOrders=bundle(draft))
    with TestClient(create_app(settings)) as client:
        response = client.post("/cds-services/phantom-limb-pain-order-sign", json=request)
    assert response.status_code == 200
    heart = [c for c in response.json()["cards"] if c["source"]["topic"]["code"] == "tca-heart"]
    assert len(heart) == 1 and "Condition/hf" in heart[0]["detail"]


def test_a_bad_site_file_stops_the_app_with_one_line(tmp_path: Path) -> None:
    path = site_file(tmp_path, HEADER + "conditions,heart-failure,text,pump (,n,x,yes,\n")
    settings = Settings(cds_site_terminology_file=str(path))
    with pytest.raises(StartupError) as error:
        create_app(settings)
    assert str(error.value).startswith(
        f"terminology table (CDS_SITE_TERMINOLOGY_FILE): {path} line 2: the pattern 'pump (' "
    )


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("fresh_settings")
def test_plp_cds_serve_with_a_bad_site_file_prints_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = site_file(tmp_path, HEADER + "medications,nortryptiline,http://x.org,N1,n,f,yes,\n")
    monkeypatch.setenv("CDS_SITE_TERMINOLOGY_FILE", str(path))
    with pytest.raises(SystemExit) as exit_info:
        main(["serve"])
    assert exit_info.value.code == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(
        f"plp-cds serve: terminology table (CDS_SITE_TERMINOLOGY_FILE): {path} line 2: "
        "unknown concept 'nortryptiline'; this table knows "
    )


def test_patient_facts_use_the_terminology_they_are_given(tmp_path: Path) -> None:
    tables = load_terminology(site_file(tmp_path, README_SITE))
    chart = collect([bundle(plp(), condition(text="Pump failure"))])
    assert patient_facts(chart).heart == ()
    assert [c.classes for c in patient_facts(chart, tables).heart] == [
        {ConditionClass.HEART_FAILURE}
    ]
