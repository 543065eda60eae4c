"""cards/ on plain findings and plans: wording, one-click actions and their order, the
patient-view summary agreeing with its detail, and the response section."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest

from cards.actions import Drafting
from cards.arrange import arrange
from cards.catalog import catalog
from cards.models import Action, Card, Suggestion
from cards.orders import order_cards
from cards.patient_view import patient_view_cards
from cards.source import override_reasons, source
from facts.classes import ConditionClass as C
from facts.classes import TherapyClass
from facts.dose import DailyDose, DoseGap, UnknownDose
from facts.medications import MedicationFact
from facts.patient import PatientFacts
from guideline.findings import (
    Alternative,
    Change,
    Exclusion,
    Finding,
    Hook,
    Reason,
    Rule,
    Severity,
)
from guideline.hooks import ChartAdvice, chart_advice, order_findings
from guideline.therapies import Therapy as T
from tests.conformance import assert_conformant
from tests.plain import TODAY, allergy, condition, days_ago, draft, med, patient, score


def original(order: MedicationFact) -> dict[str, Any]:
    kind, _, id_ = order.reference.partition("/")
    return {
        "resourceType": kind,
        "id": id_,
        "meta": {"versionId": "1"},
        "identifier": [{"system": "urn:ehr:placer", "value": id_}],
        "status": order.status,
        "intent": "order",
        "medicationCodeableConcept": {"text": order.label},
        "subject": {"reference": "Patient/pat-1"},
        "dosageInstruction": [{"text": f"{order.label}: as written"}],
    }


def drafting(*orders: MedicationFact) -> Drafting:
    """The EHR's resources for the orders: the chart's, and the request's drafts."""
    chart: Mapping[str, dict[str, Any]] = {
        o.reference: original(o) for o in orders if o.status != "draft"
    }
    drafts: Mapping[str, dict[str, Any]] = {
        o.reference: original(o) for o in orders if o.status == "draft"
    }
    return Drafting(catalog(), "pat-1", "Condition/plp", chart.get, drafts=drafts.get)


def conformant(cards: list[Card]) -> list[dict[str, Any]]:
    payload = {"cards": [c.model_dump(mode="json", exclude_none=True) for c in cards]}
    assert_conformant(payload)
    return payload["cards"]


def chart(facts: PatientFacts, days: int = 90) -> ChartAdvice:
    advice = chart_advice(facts, today=TODAY, reassessment_days=days)
    assert advice is not None
    return advice


def view(facts: PatientFacts, days: int = 90) -> list[dict[str, Any]]:
    return conformant(patient_view_cards(chart(facts, days), drafting(*facts.medications)))


def next_paragraph(detail: str) -> str:
    [paragraph] = [p for p in detail.split("\n\n") if p.startswith("**Next, per the guideline:**")]
    return paragraph


class TestSwitchSuggestions:
    def test_a_switch_creates_the_new_draft_first_then_stops_the_current_order(self) -> None:
        tca = med("nortriptyline", id="nt")
        [summary] = view(patient(tca))
        [switch] = [s for s in summary["suggestions"] if "duloxetine" in s["label"]]
        assert switch["label"] == "Switch from nortriptyline to duloxetine"
        create, update = switch["actions"]
        assert create["type"] == "create"
        assert create["resource"]["medicationCodeableConcept"]["coding"][0]["code"] == "596926"
        assert update["type"] == "update"
        assert update["resourceId"] == "MedicationRequest/nt"
        assert update["resource"] == original(tca) | {"status": "stopped"}
        # Switches of the one current order exclude each other.
        assert summary["selectionBehavior"] == "at-most-one"

    def test_no_snri_is_offered_beside_a_current_tca(self) -> None:
        [summary] = view(patient(med("nortriptyline", id="nt")))
        for suggestion in summary["suggestions"]:
            codes = [
                a["resource"]
                .get("medicationCodeableConcept", {})
                .get("coding", [{}])[0]
                .get("code")
                for a in suggestion["actions"]
                if a["type"] == "create"
            ]
            if "596926" in codes or "313583" in codes:  # duloxetine, venlafaxine
                assert [a["type"] for a in suggestion["actions"]] == ["create", "update"]

    def test_a_switch_whose_order_is_not_at_hand_is_left_out_not_offered_half(self) -> None:
        facts = patient(med("nortriptyline", id="nt"))
        cards = patient_view_cards(
            chart(facts), Drafting(catalog(), "pat-1", None, lambda reference: None)
        )
        labels = [s.label for s in cards[0].suggestions or ()]
        assert labels == ["Gabapentin", "Pregabalin", "Lidocaine 5% patch to the residual limb"]

    def test_a_replacement_at_order_time_creates_then_deletes(self) -> None:
        tca = draft("nortriptyline", id="d1", mg_per_day=25)
        findings = order_findings(
            patient(condition(C.HEART_FAILURE)),
            (tca,),
            (),
            selected=None,
            hook=Hook.ORDER_SIGN,
            today=TODAY,
        )
        [card] = conformant(order_cards(findings, drafting()))
        assert [s["label"] for s in card["suggestions"]] == [
            "Replace with duloxetine",
            "Replace with venlafaxine",
        ]
        assert [a["type"] for a in card["suggestions"][0]["actions"]] == ["create", "delete"]
        assert card["suggestions"][0]["actions"][1]["resourceId"] == "MedicationRequest/d1"

    def test_stacking_at_order_time_offers_the_switch(self) -> None:
        tca, snri = med("nortriptyline", id="nt", mg_per_day=25), draft("duloxetine", id="dx")
        findings = order_findings(
            patient(tca), (snri,), (), selected=None, hook=Hook.ORDER_SIGN, today=TODAY
        )
        [card] = conformant(order_cards(findings, drafting(tca, snri)))
        assert card["indicator"] == "warning"
        assert card["source"]["topic"]["code"] == "tca-snri-stacked"
        [switch] = card["suggestions"]
        assert switch["label"] == "Switch from nortriptyline to duloxetine"
        # The drafted duloxetine is the target: re-created as written first, so a client that
        # applies only the first action keeps duloxetine; then the original draft goes, then
        # the current nortriptyline stops.
        recreate, delete, stop = switch["actions"]
        written = original(snri)
        assert recreate["type"] == "create"
        assert recreate["resource"] == {
            k: v for k, v in written.items() if k not in {"id", "meta", "identifier"}
        }
        assert recreate["resource"]["dosageInstruction"] == written["dosageInstruction"]
        assert (delete["type"], delete["resourceId"]) == ("delete", "MedicationRequest/dx")
        assert (stop["type"], stop["resourceId"], stop["resource"]["status"]) == (
            "update",
            "MedicationRequest/nt",
            "stopped",
        )
        assert "MedicationRequest/nt" in card["detail"] and "MedicationRequest/dx" in card["detail"]

    def test_a_switch_towards_a_draft_not_at_hand_is_left_out_not_started_with_a_stop(
        self,
    ) -> None:
        tca, snri = med("nortriptyline", id="nt", mg_per_day=25), draft("duloxetine", id="dx")
        findings = order_findings(
            patient(tca), (snri,), (), selected=None, hook=Hook.ORDER_SIGN, today=TODAY
        )
        # The chart's nortriptyline is at hand, the duloxetine draft is not.
        [card] = conformant(order_cards(findings, drafting(tca)))
        assert "suggestions" not in card

    @pytest.mark.parametrize(
        ("alternative", "label"),
        [
            (
                Alternative(
                    Change.REMOVE, removes=(draft("nortriptyline"),), keeps=(med("duloxetine"),)
                ),
                "Keep duloxetine: remove the nortriptyline draft",
            ),
            (
                Alternative(
                    Change.STOP_CURRENT, stops=(med("nortriptyline"),), keeps=(med("duloxetine"),)
                ),
                "Stop nortriptyline; continue duloxetine",
            ),
            (
                Alternative(
                    Change.STOP_CURRENT, stops=(med("venlafaxine"),), keeps=(draft("desipramine"),)
                ),
                "Switch from venlafaxine to desipramine",
            ),
            (
                Alternative(Change.REPLACE, T.NORTRIPTYLINE, removes=(draft("amitriptyline"),)),
                "Replace with nortriptyline",
            ),
            (
                Alternative(
                    Change.SWITCH,
                    T.DULOXETINE,
                    removes=(draft("amitriptyline"),),
                    stops=(med("nortriptyline"),),
                ),
                "Switch to duloxetine: remove the amitriptyline draft and stop nortriptyline",
            ),
            (
                Alternative(
                    Change.REMOVE,
                    removes=(draft("amitriptyline"),),
                    stops=(med("nortriptyline"),),
                    keeps=(med("duloxetine"),),
                ),
                "Keep duloxetine: remove the amitriptyline draft and stop nortriptyline",
            ),
        ],
    )
    def test_labels(self, alternative: Alternative, label: str) -> None:
        orders = [
            o
            for o in (*alternative.removes, *alternative.stops, *alternative.keeps)
            if isinstance(o, MedicationFact)
        ]
        built = drafting(*orders).suggestion(alternative)
        assert built is not None and built.label == label


SCENARIOS: dict[str, PatientFacts] = {
    "start": patient(),
    "gabapentin": patient(med("gabapentin")),
    "gabapentin, heart": patient(med("gabapentin"), condition(C.HEART_FAILURE)),
    "gabapentin, risk": patient(med("gabapentin"), condition(C.CV_RISK_FACTOR)),
    "duloxetine stopped": patient(med("duloxetine", status="stopped")),
    "gabapentin intolerance": patient(allergy("gabapentin")),
    "nortriptyline": patient(med("nortriptyline")),
    "duloxetine, heart": patient(med("duloxetine"), condition(C.HEART_FAILURE)),
    "tca, no gabapentinoid left": patient(
        med("nortriptyline"), allergy(classes=(TherapyClass.GABAPENTINOID,))
    ),
    "combination": patient(med("gabapentin"), med("nortriptyline")),
    "combination, ketamine allergy": patient(
        med("gabapentin"), med("nortriptyline"), allergy("ketamine")
    ),
    "combination, oat": patient(
        med("gabapentin"),
        med("duloxetine"),
        condition(C.OPIOID_USE_DISORDER),
        med("buprenorphine", oat_product=True),
    ),
    "combination, nothing in step 3": patient(
        med("gabapentin"),
        med("duloxetine"),
        allergy("ketamine"),
        condition(C.OPIOID_USE_DISORDER),
        med("methadone", oat_product=True),
    ),
    "everything excluded at step 1": patient(
        med("gabapentin", start=days_ago(100)),
        condition(C.HEART_FAILURE),
        allergy("duloxetine"),
        allergy("venlafaxine"),
    ),
    "refractory": patient(med("gabapentin"), med("nortriptyline"), med("ketamine")),
}
# What a summary may name, each with the words the detail uses for it.
NAMED = {
    "gabapentin": "gabapentin",
    "pregabalin": "pregabalin",
    "TCA": "TCA",
    "SNRI": "SNRI",
    "mirror": "mirror therapy",
    "exercise": "exercise therapy",
    "ketamine": "ketamine",
    "topical compound": "topical amitriptyline/ketamine compound",
    "short-term opioids": "short-term opioid",
    "spinal cord stimulation": "spinal cord stimulation",
    "multidisciplinary": "multidisciplinary",
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_the_summary_names_the_next_step_the_detail_explains(name: str) -> None:
    [summary, *_] = view(SCENARIOS[name])
    step = summary["summary"].split(":", 1)[1]
    detail = next_paragraph(summary["detail"])
    named = [word for word in NAMED if re.search(rf"\b{word}\b", step)]
    assert named, summary["summary"]
    for word in named:
        assert NAMED[word] in detail, (summary["summary"], detail)


PLP = "Phantom limb pain"
STEP_1 = "Phantom limb pain, step 1: if relief is insufficient, "
STEP_2 = "Phantom limb pain, step 2: add mirror or exercise therapy; if inadequate, consider "


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("start", f"{PLP}: guideline starts with gabapentin or pregabalin"),
        ("gabapentin", f"{STEP_1}add or switch to a TCA or SNRI"),
        ("gabapentin, heart", f"{STEP_1}add or switch to an SNRI"),
        ("gabapentin intolerance", f"{PLP}: consider pregabalin, the first-line start"),
        ("nortriptyline", f"{STEP_1}add gabapentin or pregabalin, or switch to an SNRI"),
        ("duloxetine, heart", f"{STEP_1}add gabapentin or pregabalin"),
        ("tca, no gabapentinoid left", f"{STEP_1}switch to an SNRI"),
        ("combination", f"{STEP_2}ketamine"),
        ("combination, ketamine allergy", f"{STEP_2}short-term opioids for severe exacerbations"),
        ("combination, nothing in step 3", f"{STEP_2}spinal cord stimulation"),
        (
            "everything excluded at step 1",
            f"{PLP}, step 1: first-line options excluded; add mirror or exercise therapy; "
            "if inadequate, consider ketamine",
        ),
        (
            "refractory",
            f"{PLP}, refractory: consider spinal cord stimulation and a multidisciplinary approach",
        ),
    ],
)
def test_summaries(name: str, expected: str) -> None:
    assert view(SCENARIOS[name])[0]["summary"] == expected


class TestWhatIsLeftOut:
    def test_an_allergy_is_named_with_its_reason(self) -> None:
        facts = patient(med("gabapentin"), allergy("duloxetine", id="a1"))
        [summary] = view(facts)
        assert (
            "duloxetine: allergy or intolerance recorded: "
            "duloxetine intolerance (as recorded) (AllergyIntolerance/a1)" in summary["detail"]
        )
        assert "**Not tolerated**" in summary["detail"]
        assert [s["label"] for s in summary["suggestions"]][:3] == [
            "Nortriptyline",
            "Desipramine",
            "Venlafaxine",
        ]

    def test_every_step_agent_excluded_is_said_with_each_reason(self) -> None:
        [summary] = view(SCENARIOS["everything excluded at step 1"])
        detail = summary["detail"]
        assert "Every TCA and SNRI the guideline suggests is ruled out" in detail
        assert "**Heart:** TCAs are not suggested" in detail
        assert "duloxetine: allergy or intolerance recorded" in detail
        assert "venlafaxine: allergy or intolerance recorded" in detail
        assert [s["label"] for s in summary["suggestions"]] == [
            "Mirror therapy",
            "Exercise therapy",
            "Pain specialist: consider ketamine",
            "Topical amitriptyline/ketamine compound",
            "Lidocaine 5% patch to the residual limb",
        ]

    def test_the_heart_paragraph_prefers_only_an_snri_the_patient_can_take(self) -> None:
        [none_left] = view(SCENARIOS["everything excluded at step 1"])
        heart = next(p for p in none_left["detail"].split("\n\n") if p.startswith("**Heart:**"))
        assert "prefers an SNRI" not in heart
        assert "The guideline's alternative when the heart is a concern, an SNRI, is ruled" in heart
        facts = patient(med("gabapentin"), condition(C.HEART_FAILURE), allergy("venlafaxine"))
        [one_left] = view(facts)
        assert (
            "The guideline prefers an SNRI (duloxetine) when the heart is a concern."
            in one_left["detail"]
        )
        [both] = view(SCENARIOS["gabapentin, heart"])
        assert (
            "The guideline prefers an SNRI (duloxetine or venlafaxine) when the heart is a concern."
            in both["detail"]
        )

    def test_a_patient_on_agonist_treatment_is_told_why_no_short_term_opioid(self) -> None:
        [summary] = view(SCENARIOS["combination, oat"])
        detail = summary["detail"]
        assert "short-term opioid therapy only for severe exacerbations" not in detail
        assert (
            "**Short-term opioid therapy** for severe exacerbations, one of step 3's options, "
            "is not offered: the patient is on opioid agonist treatment for opioid use disorder"
            in detail
        )
        assert (
            "**Opioid agonist treatment** for opioid use disorder (not part of the ladder)"
            in detail
        )

    def test_without_agonist_treatment_the_short_term_opioid_option_is_named(self) -> None:
        [summary] = view(SCENARIOS["combination"])
        assert "short-term opioid therapy only for severe exacerbations" in summary["detail"]


class TestResponse:
    def detail(self, facts: PatientFacts, days: int = 90) -> str:
        text: str = view(facts, days)[0]["detail"]
        return text

    def test_scores_in_date_order_beside_when_the_current_agents_started(self) -> None:
        scores = (
            score(7, days_ago(200), id="old"),
            score(3, days_ago(10), id="new"),
            score(5, days_ago(60), id="mid", preliminary=True),
        )
        detail = self.detail(patient(med("gabapentin", id="g", start=days_ago(90)), scores=scores))
        assert (
            "**Pain scores** (most recent first):\n"
            "- 2026-11-14: 3 — Pain severity 0-10 (reported) (Observation/new)\n"
            "- 2026-09-25: 5 (preliminary) — Pain severity 0-10 (reported) (Observation/mid)\n"
            "- 2026-05-08: 7 — Pain severity 0-10 (reported) (Observation/old)"
        ) in detail
        assert (
            "**Current agents started:**\n"
            "- Gabapentin (as ordered) (MedicationRequest/g, active): 2026-08-26" in detail
        )
        assert "Pain last scored on 2026-11-14 (within 90 days)." in detail
        assert "due for reassessment" not in detail

    def test_a_stale_score_prompts_reassessment(self) -> None:
        detail = self.detail(patient(scores=(score(6, days_ago(120)),)))
        assert (
            "**Pain and quality of life are due for reassessment:** no pain score in the last "
            "90 days; last scored on 2026-07-27."
        ) in detail

    def test_the_interval_is_a_setting(self) -> None:
        detail = self.detail(patient(scores=(score(6, days_ago(120)),)), days=180)
        assert "Pain last scored on 2026-07-27 (within 180 days)." in detail

    def test_a_recent_preliminary_score_does_not_count(self) -> None:
        scores = (score(4, days_ago(5), preliminary=True), score(6, days_ago(120)))
        detail = self.detail(patient(scores=scores))
        assert (
            "due for reassessment:** no pain score in the last 90 days; last scored on 2026-07-27"
            in detail
        )

    def test_no_score_recorded(self) -> None:
        detail = self.detail(patient(scores=()))
        assert (
            "**Pain and quality of life are due for reassessment:** no pain score is recorded."
            in detail
        )
        assert "**Pain scores**" not in detail

    def test_scores_not_available(self) -> None:
        detail = self.detail(patient(scores=None))
        assert "**Pain scores were not available** to the service for this request" in detail
        assert "no pain score is recorded" not in detail

    def test_no_threshold_and_no_response_category(self) -> None:
        detail = self.detail(patient(scores=(score(9, days_ago(1)), score(2, days_ago(40)))))
        for word in ("improv", "respon", "worse", "better", "threshold"):
            assert word not in detail.lower().replace("response section", "")


class TestPrecautionCards:
    def card(self, finding: Finding) -> dict[str, Any]:
        [card] = conformant(order_cards((finding,), drafting(*finding.orders)))
        return card

    @pytest.mark.parametrize("severity", [Severity.WARNING, Severity.CRITICAL])
    def test_the_indicator_is_the_guidelines_severity(self, severity: Severity) -> None:
        finding = Finding(
            Rule.TCA_HEART, severity, (draft("nortriptyline"),), conditions=(condition(C.LONG_QT),)
        )
        assert self.card(finding)["indicator"] == severity.value

    def test_a_critical_heart_card(self) -> None:
        finding = Finding(
            Rule.TCA_HEART,
            Severity.CRITICAL,
            (draft("nortriptyline", id="d1"),),
            conditions=(condition(C.LONG_QT, id="qt"),),
        )
        card = self.card(finding)
        assert (
            card["summary"]
            == "TCA with a high-risk cardiac finding: use with caution; consider an SNRI instead"
        )
        assert "Condition/qt" in card["detail"] and "MedicationRequest/d1" in card["detail"]

    @pytest.mark.parametrize(
        ("rule", "summary"),
        [
            (Rule.TCA_HEART, "TCA with cardiac disease: use with caution; no SNRI can be offered"),
            (Rule.TCA_CV_RISK, "TCA with cardiovascular risk factors: no SNRI can be offered"),
        ],
    )
    def test_with_every_snri_ruled_out_the_card_does_not_advise_one(
        self, rule: Rule, summary: str
    ) -> None:
        intolerance = allergy(classes=(TherapyClass.SNRI,), id="snri")
        finding = Finding(
            rule,
            Severity.WARNING if rule is Rule.TCA_HEART else Severity.INFO,
            (draft("nortriptyline", id="d1"),),
            conditions=(
                condition(C.HEART_FAILURE if rule is Rule.TCA_HEART else C.CV_RISK_FACTOR),
            ),
            left_out=tuple(
                Exclusion(t, Reason.ALLERGY, allergies=(intolerance,))
                for t in (T.DULOXETINE, T.VENLAFAXINE)
            ),
        )
        card = self.card(finding)
        assert card["summary"] == summary
        assert "None can be offered for this patient (below)." in card["detail"]
        assert "duloxetine: allergy or intolerance recorded" in card["detail"]
        assert "suggestions" not in card

    @pytest.mark.parametrize("rule", [Rule.TCA_HEART, Rule.TCA_CV_RISK])
    def test_with_an_snri_offered_the_card_advises_it(self, rule: Rule) -> None:
        order = draft("nortriptyline", id="d1")
        finding = Finding(
            rule,
            Severity.WARNING if rule is Rule.TCA_HEART else Severity.INFO,
            (order,),
            conditions=(
                condition(C.HEART_FAILURE if rule is Rule.TCA_HEART else C.CV_RISK_FACTOR),
            ),
            alternatives=(Alternative(Change.REPLACE, T.DULOXETINE, removes=(order,)),),
        )
        card = self.card(finding)
        assert card["summary"].endswith("consider an SNRI instead")
        assert "None can be offered" not in card["detail"]
        assert [s["label"] for s in card["suggestions"]] == ["Replace with duloxetine"]

    def test_the_dose_card_shows_the_arithmetic(self) -> None:
        order = draft("nortriptyline", mg_per_day=100)
        assert not isinstance(order.dose, str)
        finding = Finding(
            Rule.TCA_DOSE,
            Severity.WARNING,
            (order,),
            doses=((order, order.dose),),  # type: ignore[arg-type]
            total_mg_per_day=100,
        )
        card = self.card(finding)
        assert card["summary"] == "TCA total 100 mg/day: the guideline prefers below 100 mg/day"
        assert "100 mg/day" in card["detail"] and "**Total: 100 mg/day**" in card["detail"]

    @pytest.mark.parametrize("total", [100, 125, 500])
    def test_the_dose_card_states_the_threshold_for_any_total(self, total: int) -> None:
        order = draft("nortriptyline", mg_per_day=total)
        assert isinstance(order.dose, DailyDose)
        finding = Finding(
            Rule.TCA_DOSE,
            Severity.WARNING,
            (order,),
            doses=((order, order.dose),),
            total_mg_per_day=total,
        )
        detail = self.card(finding)["detail"]
        assert (
            f"**Total: {total} mg/day**, at or above 100 mg/day: the guideline keeps the total "
            "TCA dose preferably below 100 mg/day." in detail
        )
        assert "itself" not in detail

    def test_the_long_term_opioid_card(self) -> None:
        order = med("oxycodone", id="oxy", start=days_ago(730))
        finding = Finding(
            Rule.LONG_TERM_OPIOID,
            Severity.WARNING,
            (order,),
            since=days_ago(730),
            until=TODAY,
            days=730,
        )
        card = self.card(finding)
        assert card["summary"].startswith("Opioids in continuous use for more than 90 days")
        assert "from 2024-11-24 to 2026-11-24 (730 days" in card["detail"]
        assert "MedicationRequest/oxy" in card["detail"]

    def test_the_opioid_card_names_agonist_treatment_apart(self) -> None:
        bup = med("buprenorphine", id="bup", oat_product=True)
        finding = Finding(
            Rule.OPIOID, Severity.WARNING, (draft("oxycodone", id="oxy"),), related=(bup,)
        )
        detail = self.card(finding)["detail"]
        assert "MedicationRequest/oxy" in detail.split("**Opioid agonist treatment**")[0]
        assert "MedicationRequest/bup" in detail.split("**Opioid agonist treatment**")[1]

    def test_unknown_dose_at_selection_and_at_signing(self) -> None:
        order = draft("nortriptyline")
        note = self.card(Finding(Rule.TCA_DOSE_UNKNOWN, Severity.INFO, (order,)))
        warning = self.card(Finding(Rule.TCA_DOSE_UNKNOWN, Severity.WARNING, (order,)))
        assert (
            note["summary"] == "TCA dose not yet complete: the 100 mg/day check will run at signing"
        )
        assert (
            warning["summary"]
            == "TCA daily dose could not be verified against the 100 mg/day limit"
        )
        assert "no dosage instructions" in warning["detail"]

    @pytest.mark.parametrize(
        ("gaps", "summary"),
        [
            (
                (DoseGap.STRENGTH,),
                "TCA product strength could not be read: check the daily dose against 100 mg/day",
            ),
            (
                (DoseGap.UNREADABLE,),
                "TCA daily dose could not be worked out: check it against 100 mg/day",
            ),
            (
                (DoseGap.NOT_WRITTEN, DoseGap.STRENGTH),
                "TCA daily dose could not be worked out: check it against 100 mg/day",
            ),
        ],
    )
    def test_a_dose_written_but_not_readable_is_not_called_incomplete(
        self, gaps: tuple[DoseGap, ...], summary: str
    ) -> None:
        orders = tuple(
            replace(draft("nortriptyline"), dose=UnknownDose(f"reason {gap}", gap)) for gap in gaps
        )
        note = self.card(Finding(Rule.TCA_DOSE_UNKNOWN, Severity.INFO, orders))
        assert note["summary"] == summary
        assert "not yet complete" not in note["summary"] and "Not yet known" not in note["detail"]
        assert "preferably below 100 mg/day" in note["detail"]

    def test_cards_come_most_serious_first(self) -> None:
        findings = (
            Finding(Rule.TERTIARY_AMINE_TCA, Severity.INFO, (draft("amitriptyline"),)),
            Finding(Rule.OPIOID, Severity.WARNING, (draft("oxycodone"),)),
            Finding(
                Rule.TCA_HEART,
                Severity.CRITICAL,
                (draft("amitriptyline"),),
                conditions=(condition(C.LONG_QT),),
            ),
        )
        cards = conformant(order_cards(findings, drafting()))
        assert [c["indicator"] for c in cards] == ["critical", "warning", "info"]


def test_cards_say_when_allergies_could_not_be_checked() -> None:
    facts = patient(med("gabapentin"), condition(C.HEART_FAILURE))
    unchecked = Drafting(catalog(), "pat-1", None, allergies_checked=False)
    [summary] = conformant(patient_view_cards(chart(facts), unchecked))
    assert "**Allergies and intolerances were not available** to the service" in summary["detail"]
    [checked] = view(facts)
    assert "were not available" not in checked["detail"]
    findings = order_findings(
        facts,
        (draft("nortriptyline", mg_per_day=25),),
        (),
        selected=None,
        hook=Hook.ORDER_SIGN,
        today=TODAY,
    )
    [card] = conformant(order_cards(findings, unchecked))
    assert "**Allergies and intolerances were not available**" in card["detail"]


def test_a_patient_on_buprenorphine_for_oud_is_never_told_short_term_only() -> None:
    # Two years of buprenorphine for opioid use disorder, no other opioid: no opioid card.
    facts = patient(
        med("gabapentin"),
        condition(C.OPIOID_USE_DISORDER),
        med("buprenorphine", oat_product=True, start=days_ago(730)),
    )
    cards = view(facts)
    assert [c["source"]["topic"]["code"] for c in cards] == ["treatment-step"]
    assert "short-term use" not in cards[0]["detail"]
    # With an oxycodone order beside it, the oxycodone gets the caution.
    findings = order_findings(
        facts,
        (draft("oxycodone", id="oxy"),),
        (),
        selected=None,
        hook=Hook.ORDER_SIGN,
        today=TODAY,
    )
    [card] = conformant(order_cards(findings, drafting()))
    assert card["summary"] == "Opioid order: short-term use, for severe exacerbations only"
    assert "MedicationRequest/oxy" in card["detail"]


def test_ehr_text_in_the_new_sections_is_shown_as_text() -> None:
    from dataclasses import replace

    hostile = "[click](https://evil.example) <img src=x>"
    facts = patient(
        med("gabapentin"),
        replace(allergy("duloxetine", id="a1"), label=hostile),
        scores=(replace(score(4, days_ago(3)), label=hostile),),
    )
    detail = view(facts)[0]["detail"]
    assert not re.search(r"(?<!\\)\[click|(?<!\\)<img", detail)
    # The allergy (twice: not tolerated, not offered) and the score.
    assert detail.count(r"\[click\](https\://evil.example) \<img src=x\>") == 3


class TestArrange:
    """cards/arrange.py: the most serious first, each suggestion once."""

    def card(self, indicator: Severity, summary: str, *labels: str) -> Card:
        suggestions = [
            Suggestion(
                label=label,
                actions=[
                    Action(
                        type="delete",
                        description=label,
                        resourceId=f"MedicationRequest/{label[-1]}",
                    )
                ],
            )
            for label in labels
        ]
        return Card(
            summary=summary,
            indicator=indicator,
            source=source("tca-heart"),
            overrideReasons=override_reasons("benefit-outweighs-risk"),
            suggestions=suggestions or None,
            selectionBehavior="at-most-one" if suggestions else None,
        )

    def test_the_most_serious_first_in_a_stable_order(self) -> None:
        cards = [
            self.card(Severity.INFO, "i1"),
            self.card(Severity.WARNING, "w1"),
            self.card(Severity.CRITICAL, "c1"),
            self.card(Severity.WARNING, "w2"),
            self.card(Severity.INFO, "i2"),
        ]
        assert [c.summary for c in arrange(cards)] == ["c1", "w1", "w2", "i1", "i2"]

    def test_a_suggestion_two_cards_reach_stays_on_the_first(self) -> None:
        # Same actions, worded differently: the same fix.
        first = self.card(Severity.WARNING, "w", "Drop a")
        second = self.card(Severity.WARNING, "s", "Remove a", "Remove b")
        kept, trimmed = arrange([first, second])
        assert kept == first
        assert [s.label for s in trimmed.suggestions or ()] == ["Remove b"]
        assert trimmed.uuid == second.uuid and trimmed.selectionBehavior == "at-most-one"
        assert "\u201cw\u201d above** (not repeated here): Remove a." in (trimmed.detail or "")

    def test_a_card_left_with_no_suggestion_has_no_selection_behavior(self) -> None:
        _, trimmed = arrange(
            [self.card(Severity.CRITICAL, "c", "Drop a"), self.card(Severity.INFO, "i", "Drop a")]
        )
        assert trimmed.suggestions is None and trimmed.selectionBehavior is None
