"""No reader raises on a resource of odd shape, so no resource is ever skipped as unreadable.

`patient_facts` skips (and logs) a resource whose reader raises: advice would then be given
without it, which could hide a TCA or heart disease. The readers are meant never to raise
on JSON; this checks it on every path of a full resource of each kind, with each value in
turn replaced by one of another JSON type or of a wrong form (seeded, so a failure repeats).
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import orjson
import pytest

from fhir_mappings.allergies import allergy_fact
from fhir_mappings.conditions import condition_fact
from fhir_mappings.medications import medication_fact
from fhir_mappings.observations import pain_scores
from fhir_mappings.orders import splint_order
from tests.fhir import ICD10CM, RXNORM, SNOMED, dosage, med

Path = tuple[str | int, ...]

CONDITION: dict[str, Any] = {
    "resourceType": "Condition",
    "id": "c1",
    "clinicalStatus": {"coding": [{"code": "active"}]},
    "verificationStatus": {"coding": [{"code": "confirmed"}]},
    "code": {"coding": [{"system": ICD10CM, "code": "I50.9", "display": "Heart failure"}]},
    "onsetDateTime": "2020-01-01",
    "abatementDateTime": "2030-01-01",
}
ORDER = med("317136", id="m1", dosages=[dosage(2, "{capsule}", frequency=3)]) | {
    "dispenseRequest": {"validityPeriod": {"start": "2025-01-01"}, "quantity": {"value": 90}},
    "authoredOn": "2025-01-01",
    "priorPrescription": {"reference": "MedicationRequest/m0"},
}
CONTAINED = {key: value for key, value in ORDER.items() if key != "medicationCodeableConcept"} | {
    "medicationReference": {"reference": "#x", "display": "nortriptyline"},
    "contained": [
        {
            "resourceType": "Medication",
            "id": "x",
            "code": {"text": "nortriptyline 25 mg"},
            "ingredient": [
                {
                    "itemCodeableConcept": {"text": "nortriptyline"},
                    "strength": {"numerator": {"value": 25, "unit": "mg"}},
                }
            ],
        }
    ],
}
ALLERGY: dict[str, Any] = {
    "resourceType": "AllergyIntolerance",
    "id": "a1",
    "clinicalStatus": {"coding": [{"code": "active"}]},
    "code": {"coding": [{"system": RXNORM, "code": "72625"}], "text": "duloxetine"},
    "reaction": [{"substance": {"text": "Neurontin"}, "manifestation": [{"text": "nausea"}]}],
}
SCORE: dict[str, Any] = {
    "resourceType": "Observation",
    "id": "o1",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "72514-3"}]},
    "effectiveDateTime": "2025-01-01",
    "valueQuantity": {"value": 7},
}
SPLINT: dict[str, Any] = {
    "resourceType": "ServiceRequest",
    "id": "s1",
    "status": "draft",
    "intent": "order",
    "code": {"coding": [{"system": SNOMED, "code": "1"}], "text": "below-knee splint"},
}

READERS: dict[str, tuple[dict[str, Any], Callable[[dict[str, Any]], object]]] = {
    "Condition": (CONDITION, lambda r: condition_fact(r, today=date(2026, 11, 25))),
    "MedicationRequest": (ORDER, lambda r: medication_fact(r, {})),
    "MedicationRequest with a status": (ORDER, lambda r: medication_fact(r, {}, "active")),
    "MedicationRequest naming a contained Medication": (
        CONTAINED,
        lambda r: medication_fact(r, {}),
    ),
    "AllergyIntolerance": (ALLERGY, allergy_fact),
    "Observation": (SCORE, lambda r: pain_scores([r])),
    "ServiceRequest": (SPLINT, splint_order),
}
ODD: list[Any] = [
    None,
    0,
    -1,
    1.5,
    2**63,
    True,
    "",
    "x",
    "2025-13-45",
    "#x",
    "MedicationRequest/",
    [],
    [None],
    [[]],
    {},
    {"coding": "x"},
    {"coding": [None]},
    {"value": "x"},
    {"numerator": "x"},
    {"repeat": []},
]


def paths(value: Any, path: Path = ()) -> Iterator[Path]:
    if path:
        yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*path, index))


def replaced(resource: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    """The resource with the value at `path` replaced, as JSON (a path through a value an
    earlier replacement changed becomes a key of its own)."""
    copied = copy.deepcopy(resource)
    parent: Any = copied
    for step in path[:-1]:
        parent = parent[step] if _has(parent, step) else None
        if parent is None:
            return copied
    if isinstance(parent, dict):
        parent[str(path[-1])] = copy.deepcopy(value)
    elif isinstance(parent, list) and isinstance(path[-1], int) and path[-1] < len(parent):
        parent[path[-1]] = copy.deepcopy(value)
    made: dict[str, Any] = orjson.loads(orjson.dumps(copied))
    return made


def _has(parent: Any, step: str | int) -> bool:
    if isinstance(parent, dict):
        return step in parent
    return isinstance(parent, list) and isinstance(step, int) and step < len(parent)


@pytest.mark.parametrize("kind", READERS)
def test_every_value_replaced_by_an_odd_one_is_read_without_raising(kind: str) -> None:
    base, read = READERS[kind]
    every = list(paths(base))
    for path in every:
        for value in ODD:
            read(replaced(base, path, value))


@pytest.mark.parametrize("kind", READERS)
def test_several_odd_values_at_once_are_read_without_raising(kind: str) -> None:
    base, read = READERS[kind]
    every = list(paths(base))
    chance = random.Random(kind)
    for _ in range(1500):
        resource = base
        for _ in range(chance.randint(2, 4)):
            resource = replaced(resource, chance.choice(every), chance.choice(ODD))
        read(resource)
