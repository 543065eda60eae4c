"""The suggestion catalogue (cards/suggestions.json): checked and validated once at start."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cards.catalog import DATA, CatalogError, catalog, load
from guideline.therapies import Therapy as T
from tests.conformance import assert_valid_fhir

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"


def rows() -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = json.loads(DATA.read_text())["rows"]
    return loaded


def write(tmp_path: Path, rows_: list[dict[str, Any]]) -> Path:
    path = tmp_path / "suggestions.json"
    path.write_text(json.dumps({"rows": rows_}))
    return path


@pytest.mark.parametrize(
    ("therapy", "expected"),
    [
        (
            T.GABAPENTIN,
            {
                "coding": [
                    {
                        "system": RXNORM,
                        "code": "310430",
                        "display": "gabapentin 100 MG Oral Capsule",
                    }
                ],
                "text": "gabapentin 100 MG Oral Capsule",
            },
        ),
        (
            T.DULOXETINE,
            {
                "coding": [
                    {
                        "system": RXNORM,
                        "code": "596926",
                        "display": "duloxetine 20 MG Delayed Release Oral Capsule",
                    }
                ],
                "text": "duloxetine 20 MG Delayed Release Oral Capsule",
            },
        ),
        # The patch's RxNorm display is unverified: its code goes out without one.
        (
            T.LIDOCAINE_PATCH,
            {
                "coding": [{"system": RXNORM, "code": "1745091"}],
                "text": "lidocaine 5% topical patch",
            },
        ),
    ],
)
def test_drug_suggestions_carry_the_verified_codes(therapy: T, expected: dict[str, Any]) -> None:
    resource = catalog().resource(therapy, "pat-1", "Condition/plp")
    assert resource["medicationCodeableConcept"] == expected
    assert resource["status"] == "draft" and resource["intent"] == "order"
    assert resource["subject"] == {"reference": "Patient/pat-1"}
    assert resource["reasonReference"] == [{"reference": "Condition/plp"}]


def test_a_service_suggestion() -> None:
    resource = catalog().resource(T.EXERCISE_THERAPY, "pat-1", None)
    assert resource["resourceType"] == "ServiceRequest"
    assert resource["code"] == {
        "coding": [
            {"system": SNOMED, "code": "229065009", "display": "Exercise therapy (regime/therapy)"}
        ],
        "text": "Exercise therapy, at least 30 minutes twice weekly",
    }
    assert "reasonReference" not in resource


def test_every_therapy_has_a_valid_resource() -> None:
    for therapy in T:
        assert_valid_fhir(catalog().resource(therapy, "pat-1", "Condition/plp"))


def test_each_request_gets_a_fresh_copy() -> None:
    first = catalog().resource(T.GABAPENTIN, "a", None)
    first["medicationCodeableConcept"]["text"] = "changed"
    assert catalog().resource(T.GABAPENTIN, "b", None)["medicationCodeableConcept"]["text"] == (
        "gabapentin 100 MG Oral Capsule"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r[0].pop("label"), "suggestions.json row 1: label: Field required"),
        (lambda r: r[2].update(therapy="aspirin"), "suggestions.json row 3: therapy"),
        (lambda r: r.append(dict(r[0])), "suggestions.json row 14: gabapentin appears twice"),
        (lambda r: r[2].update(display="Lidoderm"), "row 3: .*partially verified"),
        (lambda r: r[0].update(verified="UNVERIFIED"), "row 1: verified"),
        (lambda r: r[0].update(code="310 430 "), "row 1: not a valid FHIR R4B MedicationRequest"),
        (lambda r: r.pop(), "no row for multidisciplinary-psychological"),
    ],
)
def test_a_faulty_catalogue_stops_with_a_line_naming_the_row(
    tmp_path: Path, change: Any, message: str
) -> None:
    edited = rows()
    change(edited)
    with pytest.raises(CatalogError, match=message):
        load(write(tmp_path, edited))


def test_a_catalogue_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "suggestions.json"
    path.write_text("{")
    with pytest.raises(CatalogError, match=r"suggestions\.json: not a readable catalogue"):
        load(path)
