"""GUIDELINE §3: placement on the ladder and the next therapies, as a pure function."""

from __future__ import annotations

from typing import Any

from facts.patient import PatientFacts
from fhir_mappings.facts import patient_facts
from fhir_mappings.resources import collect
from guideline.ladder import Step, assess
from guideline.therapies import Therapy
from tests.fhir import SNOMED, bundle, condition, med, plp

GABAPENTIN = "310431"
NORTRIPTYLINE = "317136"
DULOXETINE = "596930"
LIDOCAINE_PATCH = "1745091"
OXYCODONE = "1049621"


def facts(*resources: dict[str, Any]) -> PatientFacts:
    return patient_facts(collect([bundle(plp(), *resources)]))


def test_nothing_tried_is_step_one_start() -> None:
    result = assess(facts())
    assert result.step is Step.START
    assert result.next_therapies == (
        Therapy.GABAPENTIN,
        Therapy.PREGABALIN,
        Therapy.LIDOCAINE_PATCH,
    )


def test_drugs_outside_the_guideline_do_not_move_the_patient() -> None:
    assert assess(facts(med(text="metformin 500 mg"))).step is Step.START


def test_a_gabapentinoid_tried_leads_to_add_or_switch() -> None:
    result = assess(facts(med(GABAPENTIN)))
    assert result.step is Step.ADD_OR_SWITCH
    assert result.next_therapies == (
        Therapy.NORTRIPTYLINE,
        Therapy.DESIPRAMINE,
        Therapy.DULOXETINE,
        Therapy.VENLAFAXINE,
        Therapy.LIDOCAINE_PATCH,
    )


def test_a_stopped_gabapentinoid_counts_as_tried() -> None:
    assert assess(facts(med(GABAPENTIN, status="stopped"))).step is Step.ADD_OR_SWITCH


def test_cancelled_draft_and_proposed_orders_are_not_tried() -> None:
    result = assess(
        facts(
            med(GABAPENTIN, status="cancelled"),
            med(GABAPENTIN, status="draft"),
            med(GABAPENTIN, intent="proposal"),
        )
    )
    assert result.step is Step.START


def test_without_a_gabapentinoid_the_guideline_still_begins_with_one() -> None:
    result = assess(facts(med(DULOXETINE, status="stopped")))
    assert result.step is Step.ADD_OR_SWITCH
    assert result.next_therapies[:2] == (Therapy.GABAPENTIN, Therapy.PREGABALIN)


def test_classes_in_use_are_not_suggested_again() -> None:
    result = assess(facts(med(LIDOCAINE_PATCH)))
    assert Therapy.LIDOCAINE_PATCH not in result.next_therapies


def test_heart_disease_replaces_tcas_with_snris() -> None:
    result = assess(facts(med(GABAPENTIN), condition("I50.9")))
    assert result.next_therapies == (
        Therapy.DULOXETINE,
        Therapy.VENLAFAXINE,
        Therapy.LIDOCAINE_PATCH,
    )
    assert result.tca_withheld_for_heart


def test_a_conduction_abnormality_replaces_tcas_too() -> None:
    result = assess(facts(med(GABAPENTIN), condition("270492004", SNOMED)))
    assert Therapy.NORTRIPTYLINE not in result.next_therapies


def test_risk_factors_put_snris_first_but_keep_tcas() -> None:
    result = assess(facts(med(GABAPENTIN), condition("I10")))
    assert result.next_therapies[:2] == (Therapy.DULOXETINE, Therapy.VENLAFAXINE)
    assert Therapy.NORTRIPTYLINE in result.next_therapies
    assert result.snri_preferred_for_risk and not result.tca_withheld_for_heart


def test_two_first_line_classes_current_together_is_step_two() -> None:
    result = assess(facts(med(GABAPENTIN), med(NORTRIPTYLINE)))
    assert result.step is Step.COMBINATION
    assert result.next_therapies == (
        Therapy.MIRROR_THERAPY,
        Therapy.EXERCISE_THERAPY,
        Therapy.KETAMINE,
        Therapy.TOPICAL_COMPOUND,
    )


def test_two_of_the_same_class_is_not_a_combination() -> None:
    assert assess(facts(med(GABAPENTIN), med("483450"))).step is Step.ADD_OR_SWITCH


def test_past_orders_that_overlapped_in_time_were_a_combination() -> None:
    gabapentin = med(GABAPENTIN, status="stopped", authored="2025-01-01")
    gabapentin["dispenseRequest"] = {"validityPeriod": {"end": "2025-06-30"}}
    nortriptyline = med(NORTRIPTYLINE, status="completed", authored="2025-03-01")
    assert assess(facts(gabapentin, nortriptyline)).step is Step.COMBINATION


def test_past_orders_one_after_the_other_were_not() -> None:
    gabapentin = med(GABAPENTIN, status="stopped", authored="2025-01-01")
    gabapentin["dispenseRequest"] = {"validityPeriod": {"end": "2025-02-01"}}
    nortriptyline = med(NORTRIPTYLINE, status="stopped", authored="2025-03-01")
    assert assess(facts(gabapentin, nortriptyline)).step is Step.ADD_OR_SWITCH


def test_a_past_order_overlapping_a_current_one() -> None:
    gabapentin = med(GABAPENTIN, status="stopped", authored="2025-01-01")
    nortriptyline = med(NORTRIPTYLINE, authored="2024-06-01")
    assert assess(facts(gabapentin, nortriptyline)).step is Step.COMBINATION


def test_second_line_on_top_of_a_combination_is_step_three() -> None:
    result = assess(facts(med(GABAPENTIN), med(NORTRIPTYLINE), med(OXYCODONE, status="completed")))
    assert result.step is Step.SECOND_LINE
    assert result.next_therapies == (Therapy.SPINAL_CORD_STIMULATION, Therapy.MULTIDISCIPLINARY)


def test_ketamine_or_the_compound_also_count_as_second_line() -> None:
    compound = med("704", dosageInstruction=[{"route": {"text": "topical"}}])
    assert assess(facts(med(GABAPENTIN), med(DULOXETINE), compound)).step is Step.SECOND_LINE


def test_second_line_without_a_combination_is_not_step_three() -> None:
    assert assess(facts(med(GABAPENTIN), med(OXYCODONE))).step is Step.ADD_OR_SWITCH


def test_tried_lists_the_orders_by_class() -> None:
    result = assess(facts(med(GABAPENTIN, id="g1"), med(NORTRIPTYLINE, id="n1", status="stopped")))
    assert {c.value: [m.reference for m in meds] for c, meds in result.tried.items()} == {
        "gabapentinoid": ["MedicationRequest/g1"],
        "tca": ["MedicationRequest/n1"],
    }
