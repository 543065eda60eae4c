"""GUIDELINE §4: each precaution check on plain facts, and the order hooks' choice of what is
judged (`guideline.hooks.order_findings`)."""

from __future__ import annotations

from datetime import date

import pytest

from facts.classes import ConditionClass as C
from facts.classes import TherapyClass
from facts.conditions import ConditionFact
from facts.medications import MedicationFact
from facts.orders import SplintSite
from facts.patient import PatientFacts
from guideline.chart import Chart
from guideline.findings import Change, Finding, Hook, Reason, Rule, Severity
from guideline.hooks import chart_advice, order_findings
from guideline.precautions import (
    Orders,
    long_term_opioid,
    opioid,
    splinting,
    tca_and_heart,
    tca_and_risk_factors,
    tca_and_snri_stacked,
    tca_dose,
    tertiary_amine_tca,
)
from guideline.therapies import Therapy as T
from tests.plain import TODAY, allergy, condition, days_ago, draft, med, patient, splint


def judge(
    check: object,
    facts: PatientFacts,
    judged: tuple[MedicationFact, ...],
    alongside: tuple[MedicationFact, ...] = (),
    hook: Hook = Hook.ORDER_SIGN,
) -> list[Finding]:
    assert callable(check)
    result: list[Finding] = check(Chart(facts, TODAY), Orders(judged, alongside), hook)
    return result


class TestTcaAndTheHeart:
    @pytest.mark.parametrize(
        "hard",
        [
            C.VENTRICULAR_CONDUCTION_BLOCK,
            C.AV_BLOCK_HIGH_GRADE,
            C.LONG_QT,
            C.VENTRICULAR_ARRHYTHMIA,
        ],
    )
    def test_hard_findings_are_critical(self, hard: C) -> None:
        [finding] = judge(tca_and_heart, patient(condition(hard)), (draft("nortriptyline"),))
        assert finding.severity is Severity.CRITICAL

    @pytest.mark.parametrize(
        "other",
        [
            C.AV_BLOCK_FIRST_DEGREE,
            C.AV_BLOCK_SECOND_DEGREE,
            C.ATRIAL_ARRHYTHMIA,
            C.HEART_FAILURE,
            C.CARDIOMYOPATHY,
            C.ISCHAEMIC_HEART_DISEASE,
            C.PRE_EXCITATION,
            C.OTHER_HEART_DISEASE,
        ],
    )
    def test_every_other_heart_finding_is_a_warning(self, other: C) -> None:
        [finding] = judge(tca_and_heart, patient(condition(other)), (draft("nortriptyline"),))
        assert finding.severity is Severity.WARNING

    @pytest.mark.parametrize(
        ("mi", "severity"),
        [
            (condition(C.MYOCARDIAL_INFARCTION, onset=days_ago(10)), Severity.CRITICAL),
            (condition(C.MYOCARDIAL_INFARCTION, onset=days_ago(30)), Severity.CRITICAL),
            (condition(C.MYOCARDIAL_INFARCTION, onset=days_ago(31)), Severity.WARNING),
            (condition(C.MYOCARDIAL_INFARCTION, recorded=days_ago(3)), Severity.CRITICAL),
            (condition(C.MYOCARDIAL_INFARCTION), Severity.CRITICAL),  # live, no date
            (
                condition(C.MYOCARDIAL_INFARCTION, live=False, ended=True, onset=days_ago(10)),
                Severity.WARNING,  # resolved: ischaemic heart disease
            ),
            (
                condition(C.MYOCARDIAL_INFARCTION, live=False, ended=True),
                Severity.WARNING,
            ),
            (
                condition(C.MYOCARDIAL_INFARCTION, live=False, recorded=days_ago(2)),
                Severity.WARNING,  # resolved by status, whatever its date
            ),
        ],
    )
    def test_a_myocardial_infarction_is_graded_by_its_date(
        self, mi: ConditionFact, severity: Severity
    ) -> None:
        [finding] = judge(tca_and_heart, patient(mi), (draft("nortriptyline"),))
        assert finding.severity is severity

    def test_one_hard_finding_among_others_makes_it_critical(self) -> None:
        facts = patient(condition(C.HEART_FAILURE), condition(C.LONG_QT))
        [finding] = judge(tca_and_heart, facts, (draft("nortriptyline"),))
        assert finding.severity is Severity.CRITICAL
        assert len(finding.conditions) == 2

    def test_a_heart_condition_no_longer_live_raises_nothing(self) -> None:
        facts = patient(condition(C.LONG_QT, live=False, ended=True))
        assert judge(tca_and_heart, facts, (draft("nortriptyline"),)) == []

    def test_no_heart_no_finding_and_topical_is_not_systemic(self) -> None:
        compound = draft("amitriptyline", topical=True)
        assert judge(tca_and_heart, patient(), (draft("nortriptyline"),)) == []
        assert judge(tca_and_heart, patient(condition(C.LONG_QT)), (compound,)) == []

    def test_at_order_time_the_draft_is_replaced_by_each_snri(self) -> None:
        tca = draft("nortriptyline", id="d1")
        [finding] = judge(tca_and_heart, patient(condition(C.HEART_FAILURE)), (tca,))
        assert [(a.change, a.therapy, a.removes) for a in finding.alternatives] == [
            (Change.REPLACE, T.DULOXETINE, (tca,)),
            (Change.REPLACE, T.VENLAFAXINE, (tca,)),
        ]

    def test_on_the_chart_the_current_tca_is_switched(self) -> None:
        tca = med("nortriptyline", id="nt")
        facts = patient(tca, condition(C.HEART_FAILURE))
        [finding] = judge(tca_and_heart, facts, (tca,), hook=Hook.PATIENT_VIEW)
        assert [(a.change, a.therapy, a.stops) for a in finding.alternatives] == [
            (Change.SWITCH, T.DULOXETINE, (tca,)),
            (Change.SWITCH, T.VENLAFAXINE, (tca,)),
        ]

    def test_an_snri_not_tolerated_is_not_offered_and_said_why(self) -> None:
        facts = patient(condition(C.HEART_FAILURE), allergy("duloxetine"))
        [finding] = judge(tca_and_heart, facts, (draft("nortriptyline"),))
        assert [a.therapy for a in finding.alternatives] == [T.VENLAFAXINE]
        assert [(e.therapy, e.reason) for e in finding.left_out] == [(T.DULOXETINE, Reason.ALLERGY)]

    def test_with_an_snri_already_current_the_fix_is_to_drop_the_tca(self) -> None:
        snri = med("duloxetine")
        tca = draft("nortriptyline")
        facts = patient(snri, condition(C.HEART_FAILURE))
        [finding] = judge(tca_and_heart, facts, (tca,), (snri,))
        [alternative] = finding.alternatives
        assert (alternative.change, alternative.therapy) == (Change.REMOVE, None)
        assert alternative.removes == (tca,) and alternative.keeps == (snri,)

    def test_a_tca_already_current_is_named_and_stopped_by_the_swap(self) -> None:
        # GUIDELINE §3: a swap to an SNRI that left the current TCA would stack the two.
        current, drafted = med("nortriptyline", id="nt"), draft("amitriptyline", id="ami")
        facts = patient(current, condition(C.AV_BLOCK_FIRST_DEGREE))
        [finding] = judge(tca_and_heart, facts, (drafted,), (current,), hook=Hook.ORDER_SELECT)
        assert finding.orders == (drafted,) and finding.related == (current,)
        assert [(a.change, a.therapy, a.removes, a.stops) for a in finding.alternatives] == [
            (Change.SWITCH, T.DULOXETINE, (drafted,), (current,)),
            (Change.SWITCH, T.VENLAFAXINE, (drafted,), (current,)),
        ]

    def test_another_tca_draft_goes_with_the_swap(self) -> None:
        selected, other = draft("amitriptyline", id="ami"), draft("desipramine", id="des")
        facts = patient(condition(C.HEART_FAILURE))
        [finding] = judge(tca_and_heart, facts, (selected,), (other,), hook=Hook.ORDER_SELECT)
        assert {(a.change, a.removes, a.stops) for a in finding.alternatives} == {
            (Change.REPLACE, (selected, other), ())
        }

    def test_an_snri_being_ordered_is_kept_not_doubled(self) -> None:
        tca, snri = draft("nortriptyline", id="nt"), draft("duloxetine", id="dx")
        current = med("desipramine", id="des")
        facts = patient(current, condition(C.HEART_FAILURE))
        [finding] = judge(tca_and_heart, facts, (tca, snri), (current,))
        [drop] = finding.alternatives
        assert (drop.change, drop.therapy, drop.removes, drop.stops, drop.keeps) == (
            Change.REMOVE,
            None,
            (tca,),
            (current,),
            (snri,),
        )


class TestTcaDose:
    def test_exactly_100_mg_is_flagged(self) -> None:
        [finding] = judge(tca_dose, patient(), (draft("nortriptyline", mg_per_day=100),))
        assert (finding.rule, finding.severity, finding.total_mg_per_day) == (
            Rule.TCA_DOSE,
            Severity.WARNING,
            100,
        )

    def test_90_mg_is_not(self) -> None:
        assert judge(tca_dose, patient(), (draft("nortriptyline", mg_per_day=90),)) == []

    def test_concurrent_tcas_are_summed(self) -> None:
        current = med("nortriptyline", mg_per_day=50)
        [finding] = judge(
            tca_dose, patient(current), (draft("desipramine", mg_per_day=50),), (current,)
        )
        assert finding.total_mg_per_day == 100
        assert len(finding.doses) == 2

    def test_a_topical_compound_is_not_counted(self) -> None:
        compound = med("amitriptyline", topical=True, mg_per_day=60)
        assert (
            judge(tca_dose, patient(), (draft("nortriptyline", mg_per_day=50),), (compound,)) == []
        )

    @pytest.mark.parametrize(
        ("hook", "severity"),
        [
            (Hook.ORDER_SELECT, Severity.INFO),
            (Hook.ORDER_SIGN, Severity.WARNING),
            (Hook.PATIENT_VIEW, Severity.INFO),
        ],
    )
    def test_an_unknown_dose_is_said_more_firmly_at_signing(
        self, hook: Hook, severity: Severity
    ) -> None:
        [finding] = judge(tca_dose, patient(), (draft("nortriptyline"),), hook=hook)
        assert (finding.rule, finding.severity) == (Rule.TCA_DOSE_UNKNOWN, severity)

    def test_a_known_total_at_the_limit_wins_over_an_unknown_part(self) -> None:
        findings = judge(
            tca_dose, patient(), (draft("nortriptyline", mg_per_day=125), draft("desipramine"))
        )
        assert [f.rule for f in findings] == [Rule.TCA_DOSE]


class TestRiskFactors:
    def test_a_tca_with_risk_factors_gets_snri_swaps(self) -> None:
        htn = condition(C.CV_RISK_FACTOR)
        [finding] = judge(tca_and_risk_factors, patient(htn), (draft("nortriptyline"),))
        assert finding.severity is Severity.INFO
        assert [a.therapy for a in finding.alternatives] == [T.DULOXETINE, T.VENLAFAXINE]

    def test_not_when_the_heart_is_a_concern(self) -> None:
        facts = patient(condition(C.CV_RISK_FACTOR), condition(C.HEART_FAILURE))
        assert judge(tca_and_risk_factors, facts, (draft("nortriptyline"),)) == []

    def test_the_swap_stops_a_tca_already_current(self) -> None:
        current, drafted = med("nortriptyline", id="nt"), draft("desipramine", id="des")
        facts = patient(current, condition(C.CV_RISK_FACTOR))
        [finding] = judge(tca_and_risk_factors, facts, (drafted,), (current,))
        assert finding.related == (current,)
        assert {(a.removes, a.stops) for a in finding.alternatives} == {((drafted,), (current,))}

    def test_no_swap_to_a_second_snri(self) -> None:
        # The SNRI the guideline suggests is already there: the fix is to drop the TCA draft.
        snri, tca = med("duloxetine", id="dx"), draft("nortriptyline")
        facts = patient(snri, condition(C.CV_RISK_FACTOR))
        [finding] = judge(tca_and_risk_factors, facts, (tca,), (snri,))
        [drop] = finding.alternatives
        assert (drop.change, drop.therapy, drop.removes, drop.keeps) == (
            Change.REMOVE,
            None,
            (tca,),
            (snri,),
        )

    def test_not_for_a_risk_factor_no_longer_live(self) -> None:
        facts = patient(condition(C.CV_RISK_FACTOR, live=False))
        assert judge(tca_and_risk_factors, facts, (draft("nortriptyline"),)) == []


class TestStacking:
    """GUIDELINE v2 §4: an SNRI ordered while a TCA is current (or the reverse)."""

    def test_an_snri_ordered_while_a_tca_is_current_gets_the_switch(self) -> None:
        tca, snri = med("nortriptyline", id="nt"), draft("duloxetine", id="dx")
        [finding] = judge(tca_and_snri_stacked, patient(tca), (snri,), (tca,))
        assert (finding.severity, finding.orders, finding.related) == (
            Severity.WARNING,
            (snri,),
            (tca,),
        )
        [switch] = finding.alternatives
        assert (switch.change, switch.stops, switch.keeps, switch.removes) == (
            Change.STOP_CURRENT,
            (tca,),
            (snri,),
            (),
        )

    def test_a_tca_ordered_while_an_snri_is_current(self) -> None:
        snri, tca = med("venlafaxine"), draft("desipramine")
        [finding] = judge(tca_and_snri_stacked, patient(snri), (tca,), (snri,))
        [switch] = finding.alternatives
        assert switch.stops == (snri,) and switch.keeps == (tca,)

    def test_with_the_heart_the_switch_never_goes_to_the_tca(self) -> None:
        snri, tca = med("venlafaxine"), draft("desipramine")
        facts = patient(snri, condition(C.ATRIAL_ARRHYTHMIA))
        [finding] = judge(tca_and_snri_stacked, facts, (tca,), (snri,))
        assert finding.alternatives == ()

    def test_both_ordered_together_offers_keeping_either(self) -> None:
        tca, snri = draft("nortriptyline"), draft("duloxetine")
        [finding] = judge(tca_and_snri_stacked, patient(), (tca, snri))
        assert [(a.change, a.keeps, a.removes) for a in finding.alternatives] == [
            (Change.REMOVE, (snri,), (tca,)),
            (Change.REMOVE, (tca,), (snri,)),
        ]

    @pytest.mark.parametrize(
        ("judged", "alongside"),
        [
            (("duloxetine",), ()),
            (("duloxetine",), ("gabapentin",)),
            (("nortriptyline",), ("pregabalin",)),
            (("duloxetine",), ("venlafaxine",)),
        ],
    )
    def test_no_stacking_without_both_classes(
        self, judged: tuple[str, ...], alongside: tuple[str, ...]
    ) -> None:
        facts = patient(*(med(a) for a in alongside))
        assert (
            judge(tca_and_snri_stacked, facts, tuple(draft(j) for j in judged), facts.medications)
            == []
        )


class TestOpioids:
    def test_an_opioid_order_gets_the_caution(self) -> None:
        [finding] = judge(opioid, patient(), (draft("oxycodone"),))
        assert (finding.rule, finding.severity) == (Rule.OPIOID, Severity.WARNING)

    def test_buprenorphine_for_oud_is_not_told_short_term_only(self) -> None:
        facts = patient(condition(C.OPIOID_USE_DISORDER))
        assert judge(opioid, facts, (draft("buprenorphine", oat_product=True),)) == []

    def test_another_opioid_for_a_patient_on_agonist_treatment_still_is(self) -> None:
        bup = med("buprenorphine", oat_product=True)
        oxy = draft("oxycodone")
        facts = patient(condition(C.OPIOID_USE_DISORDER), bup)
        [finding] = judge(opioid, facts, (oxy, draft("buprenorphine", oat_product=True)))
        assert finding.orders == (oxy,)
        assert finding.related == (bup,)

    def test_without_the_diagnosis_buprenorphine_is_an_opioid(self) -> None:
        assert len(judge(opioid, patient(), (draft("buprenorphine", oat_product=True),))) == 1

    def test_a_pain_buprenorphine_product_is_an_opioid_even_with_oud(self) -> None:
        # Butrans and Belbuca are pain opioids: `fhir_mappings` does not mark them.
        facts = patient(condition(C.OPIOID_USE_DISORDER))
        assert len(judge(opioid, facts, (draft("buprenorphine"),))) == 1


class TestLongTermOpioid:
    def check(self, *meds: MedicationFact) -> list[Finding]:
        facts = patient(*meds)
        return judge(long_term_opioid, facts, (), hook=Hook.PATIENT_VIEW)

    def test_thirty_days_is_not_long_term(self) -> None:
        assert self.check(med("oxycodone", start=days_ago(30))) == []

    def test_two_years_is(self) -> None:
        order = med("oxycodone", start=days_ago(730))
        [finding] = self.check(order)
        assert (finding.rule, finding.severity) == (Rule.LONG_TERM_OPIOID, Severity.WARNING)
        assert (finding.since, finding.until, finding.days) == (days_ago(730), TODAY, 730)
        assert finding.orders == (order,)

    def test_renewals_with_gaps_under_30_days_are_joined(self) -> None:
        renewals = [
            med("oxycodone", status="completed", start=days_ago(d), end=days_ago(d - 25))
            for d in (120, 90, 60)
        ]
        [finding] = self.check(*renewals, med("morphine", start=days_ago(30)))
        assert finding.days == 120

    def test_a_gap_of_30_days_or_more_breaks_continuity(self) -> None:
        first = med("oxycodone", status="completed", start=days_ago(200), end=days_ago(120))
        then = med("oxycodone", start=days_ago(90))
        assert self.check(first, then) == []

    def test_a_long_course_that_ended_long_ago_is_history(self) -> None:
        old = med("oxycodone", status="completed", start=days_ago(1000), end=days_ago(600))
        assert self.check(old) == []

    def test_an_order_with_no_known_start_cannot_be_measured(self) -> None:
        assert self.check(med("oxycodone")) == []

    def test_opioid_agonist_treatment_is_not_counted(self) -> None:
        facts = patient(
            condition(C.OPIOID_USE_DISORDER),
            med("methadone", oat_product=True, start=days_ago(900)),
        )
        assert judge(long_term_opioid, facts, (), hook=Hook.PATIENT_VIEW) == []


class TestTertiaryAmineAndSplinting:
    def test_amitriptyline_gets_secondary_amine_swaps(self) -> None:
        ami = draft("amitriptyline")
        [finding] = judge(tertiary_amine_tca, patient(), (ami,))
        assert finding.severity is Severity.INFO
        assert [a.therapy for a in finding.alternatives] == [T.NORTRIPTYLINE, T.DESIPRAMINE]

    def test_no_swap_to_a_tca_the_patient_does_not_tolerate(self) -> None:
        facts = patient(allergy("nortriptyline"))
        [finding] = judge(tertiary_amine_tca, facts, (draft("amitriptyline"),))
        assert [a.therapy for a in finding.alternatives] == [T.DESIPRAMINE]

    @pytest.mark.parametrize("concern", [C.HEART_FAILURE, C.CV_RISK_FACTOR])
    def test_no_tca_swap_with_the_heart_or_risk_factors(self, concern: C) -> None:
        [finding] = judge(
            tertiary_amine_tca, patient(condition(concern)), (draft("amitriptyline"),)
        )
        assert finding.alternatives == ()

    def test_nortriptyline_is_no_tertiary_amine(self) -> None:
        assert judge(tertiary_amine_tca, patient(), (draft("nortriptyline"),)) == []

    def test_splinting(self) -> None:
        on_limb, unstated = splint(SplintSite.RESIDUAL_LIMB), splint(SplintSite.NOT_STATED, id="s2")
        chart = Chart(patient(), TODAY)
        findings = splinting(
            chart,
            Orders((), splints=(on_limb, unstated, splint(SplintSite.ELSEWHERE))),
            Hook.ORDER_SIGN,
        )
        assert [(f.severity, f.splints) for f in findings] == [
            (Severity.WARNING, (on_limb,)),
            (Severity.INFO, (unstated,)),
        ]
        assert [(a.change, a.removes) for a in findings[0].alternatives] == [
            (Change.REMOVE, (on_limb,))
        ]


class TestPerHook:
    def test_order_select_judges_only_the_selection(self) -> None:
        tca = draft("nortriptyline", id="t", mg_per_day=25)
        gaba = draft("gabapentin", id="g")
        facts = patient(condition(C.HEART_FAILURE))
        args = {"hook": Hook.ORDER_SELECT, "today": TODAY}
        assert (
            order_findings(facts, (tca, gaba), (), selected=frozenset({gaba.reference}), **args)
            == ()
        )
        [finding] = order_findings(
            facts, (tca, gaba), (), selected=frozenset({tca.reference}), **args
        )
        assert finding.rule is Rule.TCA_HEART

    def test_other_drafts_and_current_orders_count_toward_the_dose(self) -> None:
        current = med("nortriptyline", mg_per_day=25)
        d1, d2 = draft("nortriptyline", mg_per_day=50), draft("desipramine", mg_per_day=25)
        [finding] = order_findings(
            patient(current),
            (d1, d2),
            (),
            selected=frozenset({d1.reference}),
            hook=Hook.ORDER_SELECT,
            today=TODAY,
        )
        assert finding.total_mg_per_day == 100

    def test_an_order_a_draft_revises_is_not_counted_twice(self) -> None:
        current = med("nortriptyline", id="a1", mg_per_day=50)
        revised = draft("nortriptyline", mg_per_day=75, replaces="MedicationRequest/a1")
        findings = order_findings(
            patient(current), (revised,), (), selected=None, hook=Hook.ORDER_SIGN, today=TODAY
        )
        assert findings == ()

    def test_out_of_scope_no_findings(self) -> None:
        facts = patient(condition(C.LONG_QT), in_scope=False)
        assert (
            order_findings(
                facts,
                (draft("nortriptyline"),),
                (),
                selected=None,
                hook=Hook.ORDER_SIGN,
                today=TODAY,
            )
            == ()
        )
        assert chart_advice(facts, today=TODAY, reassessment_days=90) is None

    def test_patient_view_judges_the_current_medication(self) -> None:
        tca = med("nortriptyline", mg_per_day=150)
        oxy = med("oxycodone", start=days_ago(200))
        advice = chart_advice(
            patient(tca, oxy, condition(C.LONG_QT), draft_ignored := draft("nortriptyline")),
            today=TODAY,
            reassessment_days=90,
        )
        assert advice is not None
        assert [(f.rule, f.severity) for f in advice.findings] == [
            (Rule.TCA_HEART, Severity.CRITICAL),
            (Rule.TCA_DOSE, Severity.WARNING),
            (Rule.LONG_TERM_OPIOID, Severity.WARNING),
        ]
        assert all(draft_ignored not in f.orders for f in advice.findings)


def test_today_is_a_parameter_not_the_clock() -> None:
    mi = condition(C.MYOCARDIAL_INFARCTION, onset=date(2026, 1, 1))
    facts = patient(mi)
    early = Chart(facts, date(2026, 1, 15))
    late = Chart(facts, date(2026, 6, 1))
    tca = (draft("nortriptyline"),)
    assert tca_and_heart(early, Orders(tca), Hook.ORDER_SIGN)[0].severity is Severity.CRITICAL
    assert tca_and_heart(late, Orders(tca), Hook.ORDER_SIGN)[0].severity is Severity.WARNING
    assert TherapyClass.TCA in tca[0].classes
