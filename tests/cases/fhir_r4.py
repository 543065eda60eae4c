"""FHIR R4 resources shaped the way EHRs send them, and the CDS Hooks requests that carry them.

Real charts carry more than the service reads: categories, several codings per concept
(ICD-10-CM beside SNOMED CT, an EHR's own drug codes beside RxNorm), displays, free text, sigs
in words next to structured timing, fullUrls and search modes. The builders add those, so a
case fails when the service trips over ordinary noise, not only when a code is missing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

Resource = dict[str, Any]
Coding = dict[str, str]

SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
# Codes an EHR keeps for itself (Epic's ERX drug records, IMO problem-list terms): a service
# cannot know them and must read their displays and text.
EHR_DRUG = "urn:oid:1.2.840.114350.1.13.0.1.7.2.698288"
EHR_PROBLEM = "http://www.imohealth.com/codes/problemit"

CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
ALLERGY_VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
MEDREQ_CATEGORY = "http://terminology.hl7.org/CodeSystem/medicationrequest-category"
TIMING_ABBREVIATION = "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation"

FHIR_BASE = "https://fhir.example-ehr.org/r4"
PATIENT_ID = "pat-1"
SUBJECT = {"reference": f"Patient/{PATIENT_ID}"}

ROUTES: dict[str, tuple[str, str]] = {
    "oral": ("26643006", "Oral route"),
    "sublingual": ("37839007", "Sublingual route"),
    "transdermal": ("45890007", "Transdermal route"),
    "topical": ("6064005", "Topical route"),
    "subcutaneous": ("34206005", "Subcutaneous route"),
}
# How EHRs show a UCUM dose-form annotation to people.
UNIT_NAMES = {"{capsule}": "capsule", "{tbl}": "tablet", "{tablet}": "tablet", "{patch}": "patch"}


def day(offset: int) -> str:
    """A date relative to today, as FHIR writes it (the service judges recency from today)."""
    return (date.today() + timedelta(days=offset)).isoformat()


def moment(offset: int) -> str:
    """A dateTime relative to today, with the clinic's UTC offset, as EHRs send it."""
    return f"{day(offset)}T09:30:00-05:00"


# -- codings --------------------------------------------------------------------------------


def icd(code: str, display: str) -> Coding:
    return {"system": ICD10CM, "code": code, "display": display}


def who(code: str, display: str) -> Coding:
    return {"system": ICD10, "code": code, "display": display}


def sct(code: str, display: str) -> Coding:
    return {"system": SNOMED, "code": code, "display": display}


def imo(code: str, display: str) -> Coding:
    return {"system": EHR_PROBLEM, "code": code, "display": display}


def rxnorm(code: str, display: str) -> Coding:
    return {"system": RXNORM, "code": code, "display": display}


def ehr_drug(code: str, display: str) -> Coding:
    return {"system": EHR_DRUG, "code": code, "display": display}


def atc(code: str, display: str) -> Coding:
    return {"system": ATC, "code": code, "display": display}


def concept(*codings: Coding, text: str | None = None) -> Resource:
    result: Resource = {}
    if codings:
        result["coding"] = list(codings)
    if text is not None:
        result["text"] = text
    return result


# -- conditions -----------------------------------------------------------------------------


def condition(
    id: str,
    *codings: Coding,
    text: str | None = None,
    clinical: str | None = "active",
    verification: str | None = "confirmed",
    category: str = "problem-list-item",
    onset: str | None = None,
    recorded: str | None = None,
    **extra: Any,
) -> Resource:
    """A Condition; `extra` carries abatement[x] and anything else as FHIR names it."""
    resource: Resource = {
        "resourceType": "Condition",
        "id": id,
        "meta": {"lastUpdated": moment(-3)},
        "category": [
            {
                "coding": [
                    {
                        "system": CONDITION_CATEGORY,
                        "code": category,
                        "display": category.replace("-", " ").title(),
                    }
                ]
            }
        ],
        "code": concept(*codings, text=text),
        "subject": SUBJECT,
    }
    if clinical is not None:
        resource["clinicalStatus"] = {
            "coding": [
                {"system": CONDITION_CLINICAL, "code": clinical, "display": clinical.title()}
            ]
        }
    if verification is not None:
        resource["verificationStatus"] = {
            "coding": [
                {
                    "system": CONDITION_VERIFICATION,
                    "code": verification,
                    "display": verification.title(),
                }
            ]
        }
    if onset is not None:
        resource["onsetDateTime"] = onset
    if recorded is not None:
        resource["recordedDate"] = recorded
    resource.update(extra)
    return resource


def plp(id: str = "plp") -> Resource:
    """Phantom limb pain as a US problem list carries it: ICD-10-CM, SNOMED CT and text."""
    return condition(
        id,
        icd("G54.6", "Phantom limb syndrome with pain"),
        sct("5771000119106", "Phantom limb syndrome with pain (disorder)"),
        text="Phantom limb pain, left below-knee amputation",
        onset=day(-420),
        recorded=day(-400),
    )


# -- medication orders ----------------------------------------------------------------------


def drug(*codings: Coding, text: str | None = None) -> Resource:
    """The medication[x] of an order named by codes and/or text."""
    return {"medicationCodeableConcept": concept(*codings, text=text)}


def sig(
    text: str | None = None,
    *,
    dose: tuple[float, str] | None = None,
    dose_range: tuple[float, float, str] | None = None,
    frequency: int | None = None,
    frequency_max: int | None = None,
    period: float = 1,
    period_unit: str = "d",
    timing_code: str | None = None,
    as_needed: bool = False,
    max_per_period: tuple[float, str, float, str] | None = None,
    max_per_administration: tuple[float, str] | None = None,
    bounds: tuple[str, str] | None = None,
    route: str = "oral",
    sequence: int | None = None,
) -> Resource:
    """One dosageInstruction line, structured the way EHRs send it beside the sig text."""
    dosage: Resource = {}
    if sequence is not None:
        dosage["sequence"] = sequence
    if text is not None:
        dosage["text"] = text
    timing: Resource = {}
    repeat: Resource = {}
    if frequency is not None:
        repeat.update(frequency=frequency, period=period, periodUnit=period_unit)
    if frequency_max is not None:
        repeat["frequencyMax"] = frequency_max
    if bounds is not None:
        repeat["boundsPeriod"] = {"start": bounds[0], "end": bounds[1]}
    if repeat:
        timing["repeat"] = repeat
    if timing_code is not None:
        timing["code"] = {"coding": [{"system": TIMING_ABBREVIATION, "code": timing_code}]}
    if timing:
        dosage["timing"] = timing
    if as_needed:
        dosage["asNeededBoolean"] = True
    route_code, route_display = ROUTES[route]
    dosage["route"] = concept(sct(route_code, route_display), text=route_display)
    if dose is not None:
        dosage["doseAndRate"] = [{"doseQuantity": quantity(*dose)}]
    elif dose_range is not None:
        low, high, unit = dose_range
        dosage["doseAndRate"] = [
            {"doseRange": {"low": quantity(low, unit), "high": quantity(high, unit)}}
        ]
    if max_per_period is not None:
        num, num_unit, den, den_unit = max_per_period
        dosage["maxDosePerPeriod"] = {
            "numerator": quantity(num, num_unit),
            "denominator": quantity(den, den_unit),
        }
    if max_per_administration is not None:
        dosage["maxDosePerAdministration"] = quantity(*max_per_administration)
    return dosage


def quantity(value: float, code: str) -> Resource:
    return {"value": value, "unit": UNIT_NAMES.get(code, code), "system": UCUM, "code": code}


def medication_request(
    id: str,
    medication: Resource,
    *,
    status: str = "active",
    intent: str = "order",
    dosage: Sequence[Resource] = (),
    authored: str | None = None,
    validity: tuple[str, str] | None = None,
    supply_days: int | None = None,
    contained: Sequence[Resource] = (),
    **extra: Any,
) -> Resource:
    resource: Resource = {"resourceType": "MedicationRequest", "id": id}
    if contained:
        resource["contained"] = list(contained)
    resource.update(
        {
            "status": status,
            "intent": intent,
            "category": [
                {
                    "coding": [
                        {"system": MEDREQ_CATEGORY, "code": "outpatient", "display": "Outpatient"}
                    ]
                }
            ],
            **medication,
            "subject": SUBJECT,
            "authoredOn": authored or moment(-30),
            "requester": {"reference": "Practitioner/prac-7", "display": "Dr. A. Rivera"},
        }
    )
    if dosage:
        resource["dosageInstruction"] = list(dosage)
    dispense: Resource = {}
    if validity is not None:
        dispense["validityPeriod"] = {"start": validity[0], "end": validity[1]}
        dispense["numberOfRepeatsAllowed"] = 0
    if supply_days is not None:
        # Many EHRs state only the days' supply of each fill, not when the order ends.
        dispense["expectedSupplyDuration"] = {
            "value": supply_days,
            "unit": "days",
            "system": UCUM,
            "code": "d",
        }
    if dispense:
        resource["dispenseRequest"] = dispense
    resource.update(extra)
    return resource


def draft(id: str, medication: Resource, **kwargs: Any) -> Resource:
    """A MedicationRequest the prescriber is writing (context.draftOrders)."""
    kwargs.setdefault("authored", moment(0))
    return medication_request(id, medication, status="draft", **kwargs)


def medication_statement(
    id: str,
    medication: Resource,
    *,
    status: str = "active",
    dosage: Sequence[Resource] = (),
    since: str | None = None,
    contained: Sequence[Resource] = (),
) -> Resource:
    resource: Resource = {"resourceType": "MedicationStatement", "id": id}
    if contained:
        resource["contained"] = list(contained)
    resource.update(
        {
            "status": status,
            **medication,
            "subject": SUBJECT,
            "effectivePeriod": {"start": since or day(-60)},
            "dateAsserted": day(-2),
            "informationSource": {"reference": f"Patient/{PATIENT_ID}"},
        }
    )
    if dosage:
        resource["dosage"] = list(dosage)
    return resource


def medication(
    id: str, *codings: Coding, text: str | None = None, form: str | None = None
) -> Resource:
    """A Medication resource, contained (`#id`) or bundled (`Medication/id`)."""
    resource: Resource = {
        "resourceType": "Medication",
        "id": id,
        "code": concept(*codings, text=text),
    }
    if form is not None:
        resource["form"] = {"text": form}
    return resource


# -- allergies and pain scores --------------------------------------------------------------


def allergy(
    id: str,
    *codings: Coding,
    text: str | None = None,
    clinical: str | None = "active",
    verification: str | None = "confirmed",
    type: str = "allergy",
    reaction: str | None = None,
) -> Resource:
    resource: Resource = {"resourceType": "AllergyIntolerance", "id": id}
    if clinical is not None:
        resource["clinicalStatus"] = {
            "coding": [{"system": ALLERGY_CLINICAL, "code": clinical, "display": clinical.title()}]
        }
    if verification is not None:
        resource["verificationStatus"] = {
            "coding": [
                {
                    "system": ALLERGY_VERIFICATION,
                    "code": verification,
                    "display": verification.title(),
                }
            ]
        }
    resource.update(
        {
            "type": type,
            "category": ["medication"],
            "criticality": "low",
            "code": concept(*codings, text=text),
            "patient": SUBJECT,
            "recordedDate": day(-200),
        }
    )
    if reaction is not None:
        resource["reaction"] = [{"manifestation": [{"text": reaction}], "severity": "moderate"}]
    return resource


PAIN_CODES = {
    "72514-3": "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
    "38208-5": "Pain severity - Reported",
    "38214-3": "Pain severity [Score] Visual analog score",
}


def pain_score(
    id: str,
    value: int,
    offset_days: int,
    *,
    loinc: str = "72514-3",
    status: str = "final",
    category: str = "survey",
    integer: bool = False,
) -> Resource:
    resource: Resource = {
        "resourceType": "Observation",
        "id": id,
        "status": status,
        "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": category}]}],
        "code": concept(
            {"system": LOINC, "code": loinc, "display": PAIN_CODES[loinc]}, text="Pain score"
        ),
        "subject": SUBJECT,
        "effectiveDateTime": moment(offset_days),
        "issued": f"{day(offset_days)}T14:30:00Z",
    }
    if integer:
        resource["valueInteger"] = value
    else:
        resource["valueQuantity"] = {
            "value": value,
            "unit": "{score}",
            "system": UCUM,
            "code": "{score}",
        }
    return resource


# -- other orders ---------------------------------------------------------------------------


def service_request(
    id: str, text: str, *, body_site: str | None = None, status: str = "draft"
) -> Resource:
    resource: Resource = {
        "resourceType": "ServiceRequest",
        "id": id,
        "status": status,
        "intent": "order",
        "category": [{"text": "Orthotics"}],
        "code": concept(text=text),
        "subject": SUBJECT,
        "authoredOn": moment(0),
    }
    if body_site is not None:
        resource["bodySite"] = [concept(text=body_site)]
    return resource


def device_request(
    id: str, text: str, *, note: str | None = None, status: str = "draft"
) -> Resource:
    resource: Resource = {
        "resourceType": "DeviceRequest",
        "id": id,
        "status": status,
        "intent": "order",
        "codeCodeableConcept": concept(text=text),
        "subject": SUBJECT,
        "authoredOn": moment(0),
    }
    if note is not None:
        resource["note"] = [{"text": note}]
    return resource


# -- bundles and requests -------------------------------------------------------------------


def searchset(
    resources: Sequence[Resource], *, query: str, next_url: str | None = None
) -> Resource:
    bundle: Resource = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "searchset",
        "link": [{"relation": "self", "url": f"{FHIR_BASE}/{query}"}],
        "entry": [
            {
                "fullUrl": f"{FHIR_BASE}/{r['resourceType']}/{r['id']}",
                "resource": r,
                # Medications come in by _include; they are not matches of the search.
                "search": {"mode": "include" if r["resourceType"] == "Medication" else "match"},
            }
            for r in resources
        ],
    }
    if next_url is not None:
        bundle["link"].append({"relation": "next", "url": next_url})
    else:
        bundle["total"] = sum(r["resourceType"] != "Medication" for r in resources)
    return bundle


QUERIES = {
    "conditions": f"Condition?patient={PATIENT_ID}",
    "medications": f"MedicationRequest?patient={PATIENT_ID}",
    "allergies": f"AllergyIntolerance?patient={PATIENT_ID}",
    "painScores": f"Observation?patient={PATIENT_ID}&code=http://loinc.org|72514-3,"
    "http://loinc.org|38208-5,http://loinc.org|38214-3&_sort=-date&_count=20",
}


def hook_request(
    hook: str,
    *,
    conditions: Sequence[Resource] | Resource = (),
    medications: Sequence[Resource] | Resource = (),
    allergies: Sequence[Resource] | Resource = (),
    pain_scores: Sequence[Resource] | Resource = (),
    drafts: Sequence[Resource] | None = None,
    selections: Sequence[str] | None = None,
    omit: Sequence[str] = (),
    patient: Resource | None = None,
) -> Resource:
    """A hook call as an integrator who followed discovery sends it: every advertised key."""
    values: dict[str, Sequence[Resource] | Resource] = {
        "conditions": conditions,
        "medications": medications,
        "allergies": allergies,
        "painScores": pain_scores,
    }
    prefetch: Resource = {
        "patient": patient
        or {
            "resourceType": "Patient",
            "id": PATIENT_ID,
            "gender": "male",
            "birthDate": "1961-04-12",
        }
    }
    for key, value in values.items():
        # Pain scores are asked for on patient-view only: the order checks do not read them.
        if key in omit or (key == "painScores" and hook != "patient-view"):
            continue
        prefetch[key] = value if isinstance(value, dict) else searchset(value, query=QUERIES[key])
    context: Resource = {"userId": "Practitioner/prac-7", "patientId": PATIENT_ID}
    if hook == "patient-view":
        context["encounterId"] = "enc-88"
    if drafts is not None:
        context["draftOrders"] = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": d} for d in drafts],
        }
    if selections is not None:
        context["selections"] = list(selections)
    return {
        "hook": hook,
        "hookInstance": str(uuid.uuid4()),
        "fhirServer": FHIR_BASE,
        "context": context,
        "prefetch": prefetch,
    }
