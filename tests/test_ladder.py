"""GUIDELINE §3: placement on the ladder and what comes next, on plain facts."""

from __future__ import annotations

import pytest

from facts.classes import ConditionClass as C
from facts.classes import TherapyClass
from facts.patient import PatientFacts
from guideline.chart import Chart
from guideline.findings import Reason
from guideline.ladder import OpioidOption, Plan, Stage, Step, assess
from guideline.therapies import Therapy as T
from tests.plain import TODAY, allergy, condition, days_ago, med, patient


def plan(facts: PatientFacts) -> Plan:
    return assess(Chart(facts, TODAY))


def reasons(result: Plan) -> dict[T, Reason]:
    return {e.therapy: e.reason for e in result.left_out}


def switches(result: Plan) -> dict[T, tuple[str, ...]]:
    return {o.therapy: tuple(m.reference for m in o.stops) for o in result.options if o.stops}


class TestPlacement:
    def test_nothing_tried_is_step_one_start(self) -> None:
        result = plan(patient())
        assert (result.step, result.stage) == (Step.START, Stage.BEGIN)
        assert result.therapies == (T.GABAPENTIN, T.PREGABALIN, T.LIDOCAINE_PATCH)

    def test_drugs_outside_the_guideline_do_not_move_the_patient(self) -> None:
        assert plan(patient(med("metformin"))).step is Step.START

    def test_a_gabapentinoid_tried_leads_to_add_or_switch(self) -> None:
        result = plan(patient(med("gabapentin")))
        assert (result.step, result.stage) == (Step.ADD_OR_SWITCH, Stage.ADD_OR_SWITCH)
        assert result.therapies == (
            T.NORTRIPTYLINE,
            T.DESIPRAMINE,
            T.DULOXETINE,
            T.VENLAFAXINE,
            T.LIDOCAINE_PATCH,
        )

    def test_a_stopped_gabapentinoid_counts_as_tried(self) -> None:
        assert plan(patient(med("gabapentin", status="stopped"))).step is Step.ADD_OR_SWITCH

    @pytest.mark.parametrize(
        ("status", "intent"),
        [
            ("cancelled", "order"),
            ("entered-in-error", "order"),
            ("draft", "order"),
            ("active", "proposal"),
            ("active", "plan"),
            ("active", "option"),
        ],
    )
    def test_what_is_not_a_trial(self, status: str, intent: str) -> None:
        # GUIDELINE v2 §3: a plan is not a trial, nor a proposal, an option or a draft.
        assert plan(patient(med("gabapentin", status=status, intent=intent))).step is Step.START

    def test_the_lidocaine_patch_does_not_move_the_ladder(self) -> None:
        result = plan(patient(med("lidocaine", topical=True)))
        assert result.step is Step.START
        assert T.LIDOCAINE_PATCH not in result.therapies
        assert reasons(result)[T.LIDOCAINE_PATCH] is Reason.CURRENT

    def test_gabapentin_with_a_patch_is_still_step_one(self) -> None:
        result = plan(patient(med("gabapentin"), med("lidocaine", topical=True)))
        assert result.step is Step.ADD_OR_SWITCH
        assert T.LIDOCAINE_PATCH not in result.therapies

    def test_two_first_line_classes_current_together_is_step_two(self) -> None:
        result = plan(patient(med("gabapentin"), med("nortriptyline")))
        assert (result.step, result.stage) == (Step.COMBINATION, Stage.STEP_2)
        assert result.therapies == (
            T.MIRROR_THERAPY,
            T.EXERCISE_THERAPY,
            T.KETAMINE,
            T.TOPICAL_COMPOUND,
        )
        assert result.opioid_option is OpioidOption.OFFERED

    def test_two_of_the_same_class_is_not_a_combination(self) -> None:
        assert plan(patient(med("gabapentin"), med("pregabalin"))).step is Step.ADD_OR_SWITCH

    def test_past_orders_that_overlapped_in_time_were_a_combination(self) -> None:
        gabapentin = med("gabapentin", status="stopped", start=days_ago(600), end=days_ago(400))
        nortriptyline = med("nortriptyline", status="completed", start=days_ago(500))
        assert plan(patient(gabapentin, nortriptyline)).step is Step.COMBINATION

    def test_past_orders_one_after_the_other_were_not(self) -> None:
        gabapentin = med("gabapentin", status="stopped", start=days_ago(600), end=days_ago(550))
        nortriptyline = med("nortriptyline", status="stopped", start=days_ago(500))
        assert plan(patient(gabapentin, nortriptyline)).step is Step.ADD_OR_SWITCH

    def test_a_past_order_overlapping_a_current_one(self) -> None:
        gabapentin = med("gabapentin", status="stopped", start=days_ago(300))
        nortriptyline = med("nortriptyline", start=days_ago(400))
        assert plan(patient(gabapentin, nortriptyline)).step is Step.COMBINATION

    def test_second_line_on_top_of_a_combination_is_step_three(self) -> None:
        result = plan(
            patient(med("gabapentin"), med("nortriptyline"), med("oxycodone", status="completed"))
        )
        assert (result.step, result.stage) == (Step.SECOND_LINE, Stage.STEP_4)
        assert result.therapies == (T.SPINAL_CORD_STIMULATION, T.MULTIDISCIPLINARY)

    def test_second_line_without_a_combination_is_not_step_three(self) -> None:
        assert plan(patient(med("gabapentin"), med("oxycodone"))).step is Step.ADD_OR_SWITCH

    def test_a_topical_amitriptyline_compound_is_not_a_systemic_tca(self) -> None:
        compound = med(
            "amitriptyline", topical=True, classes=frozenset({TherapyClass.TOPICAL_COMPOUND})
        )
        assert plan(patient(compound)).step is Step.START

    def test_tried_lists_the_orders_by_class(self) -> None:
        result = plan(
            patient(med("gabapentin", id="g1"), med("nortriptyline", id="n1", status="stopped"))
        )
        assert {c: [m.reference for m in meds] for c, meds in result.tried} == {
            TherapyClass.GABAPENTINOID: ["MedicationRequest/g1"],
            TherapyClass.TCA: ["MedicationRequest/n1"],
        }


class TestNextStep:
    def test_without_a_gabapentinoid_order_the_guideline_still_begins_with_one(self) -> None:
        result = plan(patient(med("duloxetine", status="stopped")))
        assert (result.step, result.stage) == (Step.ADD_OR_SWITCH, Stage.BEGIN)
        # Duloxetine was tried: not offered again.
        assert result.therapies == (
            T.GABAPENTIN,
            T.PREGABALIN,
            T.NORTRIPTYLINE,
            T.DESIPRAMINE,
            T.VENLAFAXINE,
            T.LIDOCAINE_PATCH,
        )
        assert reasons(result) == {T.DULOXETINE: Reason.TRIED}

    def test_heart_disease_leaves_tcas_out(self) -> None:
        hf = condition(C.HEART_FAILURE, id="hf")
        result = plan(patient(med("gabapentin"), hf))
        assert result.therapies == (T.DULOXETINE, T.VENLAFAXINE, T.LIDOCAINE_PATCH)
        assert reasons(result) == {T.NORTRIPTYLINE: Reason.HEART, T.DESIPRAMINE: Reason.HEART}
        assert result.heart == (hf,)

    @pytest.mark.parametrize(
        "heart_class", [C.AV_BLOCK_FIRST_DEGREE, C.ATRIAL_ARRHYTHMIA, C.LONG_QT]
    )
    def test_any_heart_finding_leaves_tcas_out(self, heart_class: C) -> None:
        result = plan(patient(med("gabapentin"), condition(heart_class)))
        assert T.NORTRIPTYLINE not in result.therapies

    def test_a_resolved_heart_condition_no_longer_counts(self) -> None:
        # GUIDELINE v2 §1: the liveness rule applies to the heart too …
        af = condition(C.ATRIAL_ARRHYTHMIA, live=False, ended=True)
        assert T.NORTRIPTYLINE in plan(patient(med("gabapentin"), af)).therapies

    def test_but_a_past_myocardial_infarction_does(self) -> None:
        # … except that a past MI keeps counting as ischaemic heart disease.
        mi = condition(C.MYOCARDIAL_INFARCTION, live=False, ended=True, onset=days_ago(800))
        assert T.NORTRIPTYLINE not in plan(patient(med("gabapentin"), mi)).therapies

    def test_a_myocardial_infarction_resolved_by_status_counts_too(self) -> None:
        # clinicalStatus resolved or inactive, no abatement: not live, not ended.
        mi = condition(C.MYOCARDIAL_INFARCTION, live=False)
        assert T.NORTRIPTYLINE not in plan(patient(med("gabapentin"), mi)).therapies

    def test_risk_factors_put_snris_first_but_keep_tcas(self) -> None:
        result = plan(patient(med("gabapentin"), condition(C.CV_RISK_FACTOR)))
        assert result.therapies[:2] == (T.DULOXETINE, T.VENLAFAXINE)
        assert T.NORTRIPTYLINE in result.therapies
        assert result.snri_first


class TestSwitchRule:
    """GUIDELINE v2 §2/§3: TCA and SNRI are alternatives, never stacked."""

    def test_a_current_tca_is_partnered_with_a_gabapentinoid_and_switched_to_an_snri(self) -> None:
        nortriptyline = med("nortriptyline", id="nt")
        result = plan(patient(nortriptyline))
        assert (result.step, result.stage) == (Step.ADD_OR_SWITCH, Stage.COMBINE)
        assert result.therapies == (
            T.GABAPENTIN,
            T.PREGABALIN,
            T.DULOXETINE,
            T.VENLAFAXINE,
            T.LIDOCAINE_PATCH,
        )
        # The SNRIs come only as switches that stop the current TCA …
        assert switches(result) == {
            T.DULOXETINE: ("MedicationRequest/nt",),
            T.VENLAFAXINE: ("MedicationRequest/nt",),
        }
        # … and no TCA is suggested, the patient takes one.
        assert not {T.NORTRIPTYLINE, T.DESIPRAMINE} & set(result.therapies)
        assert result.anchored_on == (nortriptyline,)

    def test_a_current_snri_is_switched_to_a_tca(self) -> None:
        result = plan(patient(med("duloxetine", id="dx")))
        assert switches(result) == {
            T.NORTRIPTYLINE: ("MedicationRequest/dx",),
            T.DESIPRAMINE: ("MedicationRequest/dx",),
        }
        # Neither the SNRI taken nor the other SNRI (no alternative to the first) is offered.
        assert not {T.DULOXETINE, T.VENLAFAXINE} & set(result.therapies)

    def test_with_the_heart_a_current_snri_gets_no_tca_switch(self) -> None:
        result = plan(patient(med("duloxetine"), condition(C.HEART_FAILURE)))
        assert switches(result) == {}
        assert result.therapies == (T.GABAPENTIN, T.PREGABALIN, T.LIDOCAINE_PATCH)

    @pytest.mark.parametrize(
        "current",
        [
            ["gabapentin"],
            ["nortriptyline"],
            ["duloxetine"],
            ["venlafaxine", "pregabalin"],
            ["lidocaine"],
            ["gabapentin", "nortriptyline"],
        ],
    )
    def test_never_an_agent_the_patient_takes(self, current: list[str]) -> None:
        meds = [med(name, topical=name == "lidocaine") for name in current]
        result = plan(patient(*meds))
        taken = {name for name in current} | (
            {"lidocaine-patch"} if "lidocaine" in current else set()
        )
        assert not taken & {t.value for t in result.therapies}

    def test_never_an_add_on_snri_beside_a_tca(self) -> None:
        for facts in (
            patient(med("nortriptyline")),
            patient(med("desipramine"), allergy("gabapentin")),
        ):
            result = plan(facts)
            for option in result.options:
                if option.therapy in (T.DULOXETINE, T.VENLAFAXINE):
                    assert option.stops


class TestAllergies:
    """GUIDELINE v2 §3: an allergy or intolerance is a failed trial, never suggested again."""

    def test_allergy_to_one_snri_leaves_the_other(self) -> None:
        duloxetine = allergy("duloxetine", id="a1")
        result = plan(patient(med("gabapentin"), duloxetine))
        assert T.DULOXETINE not in result.therapies
        assert T.VENLAFAXINE in result.therapies
        [excluded] = [e for e in result.left_out if e.therapy is T.DULOXETINE]
        assert excluded.reason is Reason.ALLERGY and excluded.allergies == (duloxetine,)
        assert result.not_tolerated == (duloxetine,)

    def test_a_class_level_tca_allergy_rules_out_every_tca(self) -> None:
        tcas = allergy(classes=(TherapyClass.TCA,))
        result = plan(patient(med("gabapentin"), tcas))
        assert not {T.NORTRIPTYLINE, T.DESIPRAMINE} & set(result.therapies)
        assert reasons(result)[T.NORTRIPTYLINE] is Reason.ALLERGY

    def test_a_class_level_tca_allergy_rules_out_the_topical_compound_too(self) -> None:
        result = plan(
            patient(med("gabapentin"), med("duloxetine"), allergy(classes=(TherapyClass.TCA,)))
        )
        assert result.step is Step.COMBINATION
        assert T.TOPICAL_COMPOUND not in result.therapies
        assert T.KETAMINE in result.therapies

    def test_gabapentin_intolerance_moves_the_ladder_and_leaves_pregabalin(self) -> None:
        result = plan(patient(allergy("gabapentin")))
        assert (result.step, result.stage) == (Step.ADD_OR_SWITCH, Stage.BEGIN)
        assert T.GABAPENTIN not in result.therapies
        assert result.therapies[0] is T.PREGABALIN
        assert T.NORTRIPTYLINE in result.therapies and T.DULOXETINE in result.therapies
        assert reasons(result)[T.GABAPENTIN] is Reason.ALLERGY

    def test_pregabalin_is_the_partner_when_gabapentin_was_not_tolerated(self) -> None:
        result = plan(patient(med("nortriptyline"), allergy("gabapentin")))
        assert result.stage is Stage.COMBINE
        assert result.therapies[0] is T.PREGABALIN
        assert T.GABAPENTIN not in result.therapies

    def test_a_gabapentinoid_class_intolerance_is_a_gabapentinoid_tried(self) -> None:
        result = plan(patient(allergy(classes=(TherapyClass.GABAPENTINOID,))))
        assert (result.step, result.stage) == (Step.ADD_OR_SWITCH, Stage.ADD_OR_SWITCH)
        assert not {T.GABAPENTIN, T.PREGABALIN} & set(result.therapies)

    def test_an_allergy_that_is_no_longer_live_is_ignored(self) -> None:
        # Refuted, entered in error or resolved: `fhir_mappings` marks it not live.
        result = plan(patient(med("gabapentin"), allergy("duloxetine", live=False)))
        assert T.DULOXETINE in result.therapies
        assert result.not_tolerated == ()

    def test_every_agent_of_a_step_excluded_offers_the_next_step(self) -> None:
        hf = condition(C.HEART_FAILURE)
        result = plan(
            patient(
                med("gabapentin", start=days_ago(100)),
                hf,
                allergy("duloxetine"),
                med("venlafaxine", status="stopped", start=days_ago(900), end=days_ago(800)),
            )
        )
        assert result.passed == (Stage.ADD_OR_SWITCH,)
        assert result.stage is Stage.STEP_2
        assert result.therapies == (
            T.MIRROR_THERAPY,
            T.EXERCISE_THERAPY,
            T.KETAMINE,
            T.TOPICAL_COMPOUND,
            T.LIDOCAINE_PATCH,
        )
        assert reasons(result) == {
            T.NORTRIPTYLINE: Reason.HEART,
            T.DESIPRAMINE: Reason.HEART,
            T.DULOXETINE: Reason.ALLERGY,
            T.VENLAFAXINE: Reason.TRIED,
        }

    def test_step_three_all_excluded_offers_step_four(self) -> None:
        result = plan(
            patient(
                med("gabapentin"),
                med("duloxetine"),
                allergy("ketamine"),
                condition(C.OPIOID_USE_DISORDER),
                med("buprenorphine", oat_product=True),
            )
        )
        assert result.step is Step.COMBINATION
        assert result.passed == (Stage.STEP_2,)
        assert result.stage is Stage.STEP_4
        assert result.therapies == (
            T.MIRROR_THERAPY,
            T.EXERCISE_THERAPY,
            T.SPINAL_CORD_STIMULATION,
            T.MULTIDISCIPLINARY,
        )
        assert result.opioid_option is OpioidOption.WITHHELD


class TestOpioidAgonistTreatment:
    def test_buprenorphine_for_oud_is_not_part_of_the_ladder(self) -> None:
        oud = condition(C.OPIOID_USE_DISORDER)
        bup = med("buprenorphine", oat_product=True)
        result = plan(patient(med("gabapentin"), med("nortriptyline"), oud, bup))
        assert result.step is Step.COMBINATION  # not step 3
        assert result.agonist_treatment == (bup,)
        assert all(bup not in meds for _, meds in result.tried)

    def test_such_a_patient_is_not_offered_short_term_opioids(self) -> None:
        oud = condition(C.OPIOID_USE_DISORDER, live=False, remission=True)
        result = plan(
            patient(
                med("gabapentin"), med("nortriptyline"), oud, med("methadone", oat_product=True)
            )
        )
        assert result.opioid_option is OpioidOption.WITHHELD
        assert result.opioid_use_disorder == (oud,)

    def test_without_an_opioid_use_disorder_buprenorphine_is_an_opioid(self) -> None:
        result = plan(
            patient(med("gabapentin"), med("nortriptyline"), med("buprenorphine", oat_product=True))
        )
        assert result.step is Step.SECOND_LINE
        assert result.agonist_treatment == ()

    def test_a_resolved_opioid_use_disorder_does_not_count(self) -> None:
        oud = condition(C.OPIOID_USE_DISORDER, live=False, ended=True)
        result = plan(patient(med("gabapentin"), med("nortriptyline"), oud))
        assert result.opioid_option is OpioidOption.OFFERED
