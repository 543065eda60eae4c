"""Clinical contract v2 through the HTTP API: FHIR in, cards out, recognition included.

The rules themselves are unit-tested on plain facts (test_ladder, test_precautions,
test_cards); these tests show that real FHIR reaches them. Dates are set relative to today,
so each case stays what it says (a score 120 days old is stale whenever the test runs).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.calls import post, sign
from tests.conformance import assert_conformant
from tests.fhir import PATIENT_ID, bundle, condition, dosage, hook_request, med, plp

NORTRIPTYLINE_25 = "317136"
GABAPENTIN_300 = "310431"
DULOXETINE_30 = "596930"
OXYCODONE_5 = "1049621"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"


def days_ago(days: int) -> str:
    return (datetime.now(UTC).date() - timedelta(days=days)).isoformat()


def allergy(text: str, *, id: str = "a1", status: str = "active") -> dict[str, Any]:
    return {
        "resourceType": "AllergyIntolerance",
        "id": id,
        "clinicalStatus": {"coding": [{"system": ALLERGY_CLINICAL, "code": status}]},
        "code": {"text": text},
        "patient": {"reference": f"Patient/{PATIENT_ID}"},
    }


def pain_score(value: float, when: str, *, id: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": id,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "72514-3"}]},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value},
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
    }


def view(
    client: TestClient,
    conditions: tuple[dict[str, Any], ...] = (),
    medications: tuple[dict[str, Any], ...] = (),
    **prefetch: Any,
) -> list[dict[str, Any]]:
    body = hook_request(conditions=bundle(plp(), *conditions), medications=bundle(*medications))
    body["prefetch"] |= prefetch
    return post(client, "patient-view", body)


def topic(cards: list[dict[str, Any]], code: str) -> dict[str, Any]:
    [card] = [c for c in cards if c["source"]["topic"]["code"] == code]
    return card


def labels(card: dict[str, Any]) -> list[str]:
    return [s["label"] for s in card.get("suggestions", [])]


ONE_A_DAY = [dosage(1, "{capsule}")]


@pytest.mark.parametrize(
    ("heart", "indicator"),
    [
        (condition("I45.81"), "critical"),  # long QT
        (condition("I44.7"), "critical"),  # left bundle branch block
        (condition("I44.2"), "critical"),  # complete AV block
        (condition("I47.2"), "critical"),  # ventricular tachycardia
        (condition("I21.9"), "critical"),  # acute MI, live, no date
        (condition("I44.0"), "warning"),  # first-degree AV block
        (condition("I44.1"), "warning"),  # second-degree, not specified as Mobitz II
        (condition("I48.0"), "warning"),  # paroxysmal atrial fibrillation
        (condition("I50.9"), "warning"),  # heart failure
        (condition(text="Congestive heart failure (HFrEF, EF 30%)"), "warning"),
    ],
)
def test_tca_and_the_heart_severity(
    client: TestClient, heart: dict[str, Any], indicator: str
) -> None:
    cards = sign(
        client, [med(NORTRIPTYLINE_25, id="d1", status="draft", dosages=ONE_A_DAY)], (heart,)
    )
    assert topic(cards, "tca-heart")["indicator"] == indicator


@pytest.mark.parametrize(("onset", "indicator"), [(5, "critical"), (400, "warning")])
def test_a_myocardial_infarction_is_graded_by_its_onset(
    client: TestClient, onset: int, indicator: str
) -> None:
    mi = condition("I21.9") | {"onsetDateTime": days_ago(onset)}
    cards = sign(client, [med(NORTRIPTYLINE_25, id="d1", status="draft", dosages=ONE_A_DAY)], (mi,))
    assert topic(cards, "tca-heart")["indicator"] == indicator


class TestAllergies:
    def test_allergy_to_one_snri_leaves_the_other(self, client: TestClient) -> None:
        [card] = view(
            client,
            medications=(med(GABAPENTIN_300),),
            allergies=bundle(allergy("Duloxetine", id="dulox")),
        )
        assert "Duloxetine" not in labels(card) and "Venlafaxine" in labels(card)
        assert "duloxetine: allergy or intolerance recorded" in card["detail"]
        assert "AllergyIntolerance/dulox" in card["detail"]

    def test_a_class_level_tca_allergy(self, client: TestClient) -> None:
        [card] = view(
            client,
            medications=(med(GABAPENTIN_300),),
            allergies=bundle(allergy("Tricyclic antidepressants")),
        )
        assert labels(card)[:2] == ["Duloxetine", "Venlafaxine"]
        assert not {"Nortriptyline", "Desipramine"} & set(labels(card))

    def test_a_resolved_allergy_is_ignored(self, client: TestClient) -> None:
        [card] = view(
            client,
            medications=(med(GABAPENTIN_300),),
            allergies=bundle(allergy("Duloxetine", status="resolved")),
        )
        assert "Duloxetine" in labels(card)

    def test_gabapentin_intolerance_moves_the_ladder_and_leaves_pregabalin(
        self, client: TestClient
    ) -> None:
        [card] = view(client, allergies=bundle(allergy("Neurontin")))
        assert card["summary"] == "Phantom limb pain: consider pregabalin, the first-line start"
        assert labels(card)[0] == "Pregabalin" and "Gabapentin" not in labels(card)

    def test_an_agent_intolerance_is_its_class_tried_but_leaves_the_class_s_other_agents(
        self, client: TestClient
    ) -> None:
        # GUIDELINE §3: an intolerance to an agent means that agent was tried and not
        # tolerated, and "intolerance is per agent unless the record names the class". So
        # imipramine (Tofranil) not tolerated counts as a TCA tried (listed as not tolerated),
        # but rules out imipramine only: nortriptyline and desipramine, the TCAs the guideline
        # suggests, are still offered after gabapentin. (Imipramine, a tertiary amine, is
        # never suggested anyway, so no "left out" line names it.)
        [card] = view(
            client,
            medications=(med(GABAPENTIN_300, status="completed", id="gaba"),),
            allergies=bundle(allergy("Tofranil - dry mouth, urinary retention", id="imi")),
        )
        assert card["summary"] == (
            "Phantom limb pain, step 1: if relief is insufficient, add or switch to a TCA or SNRI"
        )
        assert labels(card) == [
            "Nortriptyline",
            "Desipramine",
            "Duloxetine",
            "Venlafaxine",
            "Lidocaine 5% patch to the residual limb",
        ]
        assert (
            "**Not tolerated** (an allergy or intolerance is recorded; counted as tried):\n"
            "- Tofranil - dry mouth, urinary retention (AllergyIntolerance/imi)"
        ) in card["detail"]

    def test_an_agent_intolerance_alone_is_a_first_line_class_tried(
        self, client: TestClient
    ) -> None:
        # The imipramine intolerance is a TCA tried (§3): the patient is past step 1's start,
        # so the TCAs and SNRIs stand beside the gabapentinoids no order has tried yet.
        [card] = view(client, allergies=bundle(allergy("Imipramine", id="imi")))
        assert labels(card) == [
            "Gabapentin",
            "Pregabalin",
            "Nortriptyline",
            "Desipramine",
            "Duloxetine",
            "Venlafaxine",
            "Lidocaine 5% patch to the residual limb",
        ]
        assert "- Imipramine (AllergyIntolerance/imi)" in card["detail"]


class TestOpioidUseDisorder:
    OUD = condition("F11.20", id="oud")
    SUBOXONE = "Suboxone 8 mg/2 mg sublingual film"

    def test_buprenorphine_for_oud_is_not_an_opioid_for_pain(self, client: TestClient) -> None:
        bup = med(text=self.SUBOXONE, id="bup", status="draft")
        assert sign(client, [bup], (self.OUD,)) == []

    def test_another_opioid_still_gets_the_caution(self, client: TestClient) -> None:
        active = med(text=self.SUBOXONE, id="bup")
        cards = sign(client, [med(OXYCODONE_5, id="oxy", status="draft")], (self.OUD,), (active,))
        card = topic(cards, "opioid")
        assert "MedicationRequest/oxy" in card["detail"].split("**Opioid agonist treatment**")[0]

    def test_no_short_term_opioid_option_on_agonist_treatment(self, client: TestClient) -> None:
        meds = (med(text=self.SUBOXONE, id="bup"), med(GABAPENTIN_300), med(DULOXETINE_30))
        [card] = view(client, (self.OUD,), meds)
        assert "step 2" in card["summary"]
        assert "is not offered: the patient is on opioid agonist treatment" in card["detail"]


@pytest.mark.parametrize(("started", "warned"), [(30, False), (730, True)])
def test_long_term_opioid_on_patient_view(client: TestClient, started: int, warned: bool) -> None:
    oxycodone = med(OXYCODONE_5, id="oxy", authored=days_ago(started))
    cards = view(client, medications=(oxycodone,))
    topics = [c["source"]["topic"]["code"] for c in cards]
    assert ("long-term-opioid" in topics) is warned


def test_a_planned_order_is_not_a_trial(client: TestClient) -> None:
    [card] = view(client, medications=(med(GABAPENTIN_300, intent="plan"),))
    assert card["summary"] == "Phantom limb pain: guideline starts with gabapentin or pregabalin"


class TestPainScores:
    def test_recent_scores_in_date_order(self, client: TestClient) -> None:
        scores = bundle(
            pain_score(7, days_ago(60), id="older"), pain_score(4, days_ago(10), id="recent")
        )
        [card] = view(client, medications=(med(GABAPENTIN_300),), painScores=scores)
        detail = card["detail"]
        assert detail.index("Observation/recent") < detail.index("Observation/older")
        assert f"Pain last scored on {days_ago(10)} (within 90 days)." in detail

    def test_a_stale_score_prompts_reassessment(self, client: TestClient) -> None:
        [card] = view(client, painScores=bundle(pain_score(6, days_ago(120), id="old")))
        assert (
            "**Pain and quality of life are due for reassessment:** no pain score in the last "
            f"90 days; last scored on {days_ago(120)}."
        ) in card["detail"]

    def test_no_score_recorded_and_scores_not_available(self, client: TestClient) -> None:
        [none] = view(client, painScores=bundle())
        [unavailable] = view(client)
        assert "no pain score is recorded" in none["detail"]
        assert "**Pain scores were not available**" in unavailable["detail"]


def test_the_readme_allergy_and_pain_scores_example_gets_the_card_it_shows(
    client: TestClient,
) -> None:
    from tests.conftest import ROOT
    from tests.examples import CATALOG, replay

    # Replayed as of the day the example is written for: its scores stay recent.
    [example] = [e for e in CATALOG if e.path == "patient-view-allergy-pain.json"]
    status, body = replay(client, example)
    assert status == 200
    assert_conformant(body)
    [card] = body["cards"]
    assert card["summary"] == (
        "Phantom limb pain, step 1: if relief is insufficient, add or switch to a TCA or SNRI"
    )
    assert labels(card) == [
        "Nortriptyline",
        "Desipramine",
        "Venlafaxine",
        "Lidocaine 5% patch to the residual limb",
    ]
    readme = (ROOT / "README.md").read_text()
    shown = readme.split("Its detail reads, in\npart:\n\n```text\n", 1)[1].split("```", 1)[0]
    for paragraph in shown.strip().split("\n\n"):
        if "…" in paragraph:
            paragraph = paragraph.split("…")[0].strip()
        assert " ".join(paragraph.split()) in " ".join(card["detail"].split()), paragraph
