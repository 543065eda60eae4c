"""Benchmark patients: Synthea charts plus phantom limb pain and the guideline's drugs.

The Synthea bundles are transaction Bundles with `urn:uuid:` references; an EHR would answer
prefetch with searchset Bundles and `Type/id` references, so the builder rewrites them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
# BENCH_SYNTHEA names another folder of bundles, e.g. for a work tree not beside shared/.
SYNTHEA = Path(os.environ.get("BENCH_SYNTHEA") or SHARED / "testdata" / "synthea-r4-bundles")
# Where a reader without the shared folder gets the charts the benchmark is built on.
SYNTHEA_SOURCE = "https://github.com/smart-on-fhir/generated-sample-data (R4/SYNTHEA/*.json)"
BASE_PATIENT = "Fletcher_Hyatt"  # the bundle with the most MedicationRequests
EHR_BASE = "http://ehr.example.org/fhir"

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"

# (conditions, medication requests) per chart size, guideline resources included.
SIZES: dict[str, tuple[int, int]] = {"typical": (20, 50), "large": (500, 500)}

HOOK_PATHS: dict[str, str] = {
    "patient-view": "/cds-services/phantom-limb-pain-patient-view",
    "order-select": "/cds-services/phantom-limb-pain-order-select",
    "order-sign": "/cds-services/phantom-limb-pain-order-sign",
}

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Chart:
    name: str
    patient: Json
    conditions: list[Json] = field(repr=False)
    medications: list[Json] = field(repr=False)

    @property
    def patient_id(self) -> str:
        return str(self.patient["id"])

    @property
    def resource_count(self) -> int:
        return len(self.conditions) + len(self.medications)


def _copy(value: Json) -> Json:
    # orjson round trip: a deep copy that is also guaranteed to be plain JSON.
    return orjson.loads(orjson.dumps(value))


def _rewrite(value: Any, urns: dict[str, str]) -> Any:
    """Replace `urn:uuid:` references with `Type/id`, the form prefetch carries."""
    if isinstance(value, dict):
        return {
            k: urns.get(v, v) if k == "reference" and isinstance(v, str) else _rewrite(v, urns)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_rewrite(v, urns) for v in value]
    return value


@lru_cache(maxsize=64)
def _load_bundle(path: Path) -> tuple[Json, ...]:
    bundle = orjson.loads(path.read_bytes())
    entries = [e for e in bundle.get("entry", []) if isinstance(e.get("resource"), dict)]
    urns = {
        e["fullUrl"]: f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in entries
        if str(e.get("fullUrl", "")).startswith("urn:uuid:") and "id" in e["resource"]
    }
    return tuple(_rewrite(e["resource"], urns) for e in entries)


class MissingPatients(Exception):
    """The Synthea bundles the benchmark pads its charts with are not on this machine."""


def bundle_paths() -> list[Path]:
    """The base patient's bundle first, then the others in name order (a stable pad pool)."""
    paths = sorted(SYNTHEA.glob("*.json"))
    if not paths:
        raise MissingPatients(
            f"no Synthea bundles in {SYNTHEA}: put Synthea R4 bundles there, "
            f"e.g. from {SYNTHEA_SOURCE}"
        )
    return sorted(paths, key=lambda p: not p.name.startswith(BASE_PATIENT))


def _pool(resource_type: str) -> Iterator[Json]:
    """Resources of one type from every bundle, repeated with new ids once exhausted."""
    resources = [
        r for p in bundle_paths() for r in _load_bundle(p) if r["resourceType"] == resource_type
    ]
    if not resources:
        raise ValueError(f"no {resource_type} in the Synthea bundles")
    round_ = 0
    while True:
        for resource in resources:
            copy = _copy(resource)
            if round_:
                copy["id"] = f"{copy['id']}-r{round_}"
            yield copy
        round_ += 1


def _take(resource_type: str, count: int, patient_ref: str) -> list[Json]:
    taken = []
    for resource, _ in zip(_pool(resource_type), range(count), strict=False):
        resource["subject"] = {"reference": patient_ref}
        taken.append(resource)
    return taken


def guideline_conditions(patient_ref: str) -> list[Json]:
    def condition(rid: str, system: str, code: str, display: str) -> Json:
        return {
            "resourceType": "Condition",
            "id": rid,
            "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "active"}]},
            "verificationStatus": {"coding": [{"system": VERIFICATION, "code": "confirmed"}]},
            "code": {"coding": [{"system": system, "code": code, "display": display}]},
            "subject": {"reference": patient_ref},
            "onsetDateTime": "2025-02-10",
        }

    return [
        condition("bench-plp", ICD10CM, "G54.6", "Phantom limb syndrome with pain"),
        condition("bench-hf", SNOMED, "84114007", "Heart failure (disorder)"),
    ]


def medication_request(
    rid: str,
    patient_ref: str,
    rxcui: str,
    display: str,
    *,
    units: float,
    per_day: int,
    status: str = "active",
    timing_code: str | None = None,
) -> Json:
    timing: Json = {"repeat": {"frequency": per_day, "period": 1, "periodUnit": "d"}}
    if timing_code:
        timing["code"] = {"text": timing_code}
    return {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": status,
        "intent": "order",
        "medicationCodeableConcept": {
            "coding": [{"system": RXNORM, "code": rxcui, "display": display}],
            "text": display,
        },
        "subject": {"reference": patient_ref},
        "authoredOn": "2026-09-01",
        "dosageInstruction": [
            {
                "text": f"{units:g} by mouth {per_day} times a day",
                "timing": timing,
                "doseAndRate": [
                    {
                        "doseQuantity": {
                            "value": units,
                            "unit": "capsule",
                            "system": "http://unitsofmeasure.org",
                            "code": "{capsule}",
                        }
                    }
                ],
            }
        ],
    }


def guideline_medications(patient_ref: str) -> list[Json]:
    # Gabapentin plus nortriptyline 150 mg/day with heart failure: the patient-view card, a
    # TCA-and-heart warning and a TCA dose warning, so the whole card path runs.
    return [
        medication_request(
            "bench-gabapentin",
            patient_ref,
            "310431",
            "gabapentin 300 MG Oral Capsule",
            units=1,
            per_day=3,
        ),
        medication_request(
            "bench-nortriptyline",
            patient_ref,
            "317136",
            "nortriptyline 25 MG Oral Capsule",
            units=2,
            per_day=3,
            timing_code="TID",
        ),
    ]


def build_chart(name: str, n_conditions: int, n_medications: int) -> Chart:
    """A chart with exactly the requested counts, guideline resources included."""
    if n_conditions < 2 or n_medications < 2:
        raise ValueError("a chart needs room for the 2 guideline conditions and 2 drugs")
    base = next(r for r in _load_bundle(bundle_paths()[0]) if r["resourceType"] == "Patient")
    patient = {k: v for k, v in _copy(base).items() if k not in ("text", "extension")}
    ref = f"Patient/{patient['id']}"
    conditions = _take("Condition", n_conditions - 2, ref) + guideline_conditions(ref)
    medications = _take("MedicationRequest", n_medications - 2, ref) + guideline_medications(ref)
    return Chart(name, patient, conditions, medications)


def chart(size: str) -> Chart:
    n_conditions, n_medications = SIZES[size]
    return build_chart(size, n_conditions, n_medications)


def release_bundles() -> None:
    """Drop the parsed Synthea bundles (millions of objects) once the charts are built."""
    _load_bundle.cache_clear()


def searchset(resources: list[Json]) -> Json:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [
            {
                "fullUrl": f"{EHR_BASE}/{r['resourceType']}/{r['id']}",
                "resource": r,
                "search": {"mode": "match"},
            }
            for r in resources
        ],
    }


def draft_orders(patient_ref: str) -> Json:
    """Drafts the prescriber is acting on: a tertiary-amine TCA, an opioid and an SNRI."""
    drafts = [
        medication_request(
            "draft-amitriptyline",
            patient_ref,
            "856834",
            "amitriptyline hydrochloride 25 MG Oral Tablet",
            units=1,
            per_day=1,
            status="draft",
        ),
        medication_request(
            "draft-oxycodone",
            patient_ref,
            "1049621",
            "oxycodone hydrochloride 5 MG Oral Tablet",
            units=1,
            per_day=4,
            status="draft",
        ),
        medication_request(
            "draft-duloxetine",
            patient_ref,
            "596930",
            "duloxetine 30 MG Delayed Release Oral Capsule",
            units=1,
            per_day=1,
            status="draft",
        ),
    ]
    entries = [{"resource": d} for d in drafts]
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def hook_request(
    chart_: Chart,
    hook: str,
    *,
    prefetch_keys: tuple[str, ...] | None = None,
    fhir_server: str | None = None,
) -> Json:
    """A CDS Hooks request for one hook, with every prefetch key its service declares (no
    allergies and no pain scores on file: empty searchsets, as an EHR sends them); prefetch
    may be trimmed to force the fallback."""
    if prefetch_keys is None:
        prefetch_keys = ("patient", "conditions", "medications", "allergies")
        if hook == "patient-view":
            prefetch_keys += ("painScores",)
    ref = f"Patient/{chart_.patient_id}"
    context: Json = {"userId": "Practitioner/bench", "patientId": chart_.patient_id}
    if hook in ("order-select", "order-sign"):
        context["draftOrders"] = draft_orders(ref)
    if hook == "order-select":
        context["selections"] = ["MedicationRequest/draft-amitriptyline"]
    values = {
        "patient": chart_.patient,
        "conditions": searchset(chart_.conditions),
        "medications": searchset(chart_.medications),
        "allergies": searchset([]),
        "painScores": searchset([]),
    }
    request: Json = {
        "hook": hook,
        "hookInstance": f"bench-{hook}-{chart_.name}",
        "context": context,
        "prefetch": {k: values[k] for k in prefetch_keys},
    }
    if fhir_server is not None:
        request["fhirServer"] = fhir_server
        request["fhirAuthorization"] = {
            "access_token": "bench-token",
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/Condition.read patient/MedicationRequest.read",
            "subject": "bench",
        }
    return request
