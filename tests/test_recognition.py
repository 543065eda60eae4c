"""GUIDELINE §6: every concept recognised by code, by display, by free text and by brand,
positive and negative, with the expected answers written out here (never read back from the
tables under test). What the text reading does about negation is stated in
`test_negations_that_are_read` and `test_what_negation_does_not_cover`.
"""

from __future__ import annotations

from typing import Any

import pytest

from facts.classes import ConditionClass, TherapyClass
from facts.orders import SplintSite
from fhir_mappings.allergies import allergy_fact
from fhir_mappings.conditions import recognise
from fhir_mappings.medications import medication_fact
from fhir_mappings.orders import splint_order
from tests.fhir import ATC, ICD10, ICD10CM, RXNORM, SNOMED, med

C = ConditionClass
T = TherapyClass
LOCAL = "http://hospital.example.org/fhir/codes"
IHD = C.ISCHAEMIC_HEART_DISEASE
MI = {C.MYOCARDIAL_INFARCTION, IHD}


def classes(concept: dict[str, Any]) -> set[ConditionClass]:
    return set(recognise(concept).classes)


def displayed(display: str) -> dict[str, Any]:
    """A coding the tables do not know, with a display: the display is read (§6)."""
    return {"coding": [{"system": LOCAL, "code": "X-1", "display": display}]}


def typed(text: str) -> dict[str, Any]:
    return {"text": text}


# --- conditions ----------------------------------------------------------------------------

CONDITION_WORDS = [
    # phantom limb pain
    ("Phantom limb pain", {C.PHANTOM_LIMB_PAIN}),
    ("Phantom limb syndrome with pain", {C.PHANTOM_LIMB_PAIN}),
    ("phantom pain, left leg", {C.PHANTOM_LIMB_PAIN}),
    ("Phantom leg pain", {C.PHANTOM_LIMB_PAIN}),
    ("PLP following L BKA", {C.PHANTOM_LIMB_PAIN}),
    ("R transfemoral amputation with PLP", {C.PHANTOM_LIMB_PAIN}),
    ("Phantom limb syndrome without pain", {C.PHANTOM_LIMB_WITHOUT_PAIN}),
    # "without pain" says so only of its own clause
    ("Phantom limb pain; residual limb without pain", {C.PHANTOM_LIMB_PAIN}),
    # the cardiac findings of §4
    ("Congestive heart failure (HFrEF, EF 30%)", {C.HEART_FAILURE}),
    ("CHF", {C.HEART_FAILURE}),
    ("HFpEF", {C.HEART_FAILURE}),
    ("Left ventricular failure", {C.HEART_FAILURE}),
    ("Hypertensive heart disease with heart failure", {C.HEART_FAILURE, C.CV_RISK_FACTOR}),
    ("Coronary artery disease", {IHD}),
    ("CAD s/p PCI", {IHD}),
    ("s/p CABG x3", {IHD}),
    ("Stable angina", {IHD}),
    ("Old myocardial infarction", {IHD}),
    ("History of MI (2015)", {IHD}),
    ("Acute myocardial infarction", MI),
    ("NSTEMI", MI),
    ("Dilated cardiomyopathy", {C.CARDIOMYOPATHY}),
    ("HOCM", {C.CARDIOMYOPATHY}),
    ("Non-ischemic cardiomyopathy", {C.CARDIOMYOPATHY}),
    ("Ischemic cardiomyopathy", {C.CARDIOMYOPATHY, IHD}),
    ("Paroxysmal AF", {C.ATRIAL_ARRHYTHMIA}),
    ("Atrial fibrillation with RVR", {C.ATRIAL_ARRHYTHMIA}),
    ("A-fib", {C.ATRIAL_ARRHYTHMIA}),
    ("Atrial flutter", {C.ATRIAL_ARRHYTHMIA}),
    ("SVT", {C.ATRIAL_ARRHYTHMIA}),
    ("Supraventricular tachycardia", {C.ATRIAL_ARRHYTHMIA}),
    ("Ventricular tachycardia", {C.VENTRICULAR_ARRHYTHMIA}),
    ("NSVT", {C.VENTRICULAR_ARRHYTHMIA}),
    ("Torsades de pointes", {C.VENTRICULAR_ARRHYTHMIA}),
    ("VF arrest 2019", {C.VENTRICULAR_ARRHYTHMIA}),
    ("First degree AV block", {C.AV_BLOCK_FIRST_DEGREE}),
    ("1° AVB", {C.AV_BLOCK_FIRST_DEGREE}),
    ("Prolonged PR interval", {C.AV_BLOCK_FIRST_DEGREE}),
    ("Second-degree heart block", {C.AV_BLOCK_SECOND_DEGREE}),
    ("Wenckebach", {C.AV_BLOCK_SECOND_DEGREE}),
    ("Mobitz I", {C.AV_BLOCK_SECOND_DEGREE}),
    ("Mobitz II", {C.AV_BLOCK_HIGH_GRADE}),
    ("2nd degree AV block, Mobitz type II", {C.AV_BLOCK_SECOND_DEGREE, C.AV_BLOCK_HIGH_GRADE}),
    ("Complete heart block", {C.AV_BLOCK_HIGH_GRADE}),
    ("Third degree AV block", {C.AV_BLOCK_HIGH_GRADE}),
    ("Heart block", {C.OTHER_HEART_DISEASE}),
    ("LBBB", {C.VENTRICULAR_CONDUCTION_BLOCK}),
    ("Right bundle branch block", {C.VENTRICULAR_CONDUCTION_BLOCK}),
    ("Bifascicular block", {C.VENTRICULAR_CONDUCTION_BLOCK}),
    ("Left anterior hemiblock", {C.VENTRICULAR_CONDUCTION_BLOCK}),
    ("Nonspecific intraventricular conduction delay", {C.VENTRICULAR_CONDUCTION_BLOCK}),
    ("Wolff-Parkinson-White syndrome", {C.PRE_EXCITATION}),
    ("WPW", {C.PRE_EXCITATION}),
    ("long QT", {C.LONG_QT}),
    ("QTc prolongation", {C.LONG_QT}),
    ("Sick sinus syndrome", {C.OTHER_HEART_DISEASE}),
    ("Systolic dysfunction, EF 25%", {C.OTHER_HEART_DISEASE}),
    ("LVSD on echo 2024", {C.OTHER_HEART_DISEASE}),
    ("Brugada syndrome", {C.OTHER_HEART_DISEASE}),
    ("Cardiac arrhythmia", {C.OTHER_HEART_DISEASE}),
    # cardiovascular risk factors
    ("Essential hypertension", {C.CV_RISK_FACTOR}),
    ("HTN", {C.CV_RISK_FACTOR}),
    ("Type 2 diabetes mellitus", {C.CV_RISK_FACTOR}),
    ("T2DM", {C.CV_RISK_FACTOR}),
    ("Hyperlipidemia", {C.CV_RISK_FACTOR}),
    ("Current smoker", {C.CV_RISK_FACTOR}),
    ("Tobacco use", {C.CV_RISK_FACTOR}),
    # opioid use disorder
    ("Opioid use disorder, severe", {C.OPIOID_USE_DISORDER}),
    ("OUD on buprenorphine", {C.OPIOID_USE_DISORDER}),
    ("Opioid dependence", {C.OPIOID_USE_DISORDER}),
    ("Heroin use disorder", {C.OPIOID_USE_DISORDER}),
]

NOT_CONDITIONS = [
    # negations (more in test_negations_that_are_read)
    ("No history of heart failure", set()),
    ("Denies CHF", set()),
    ("MI ruled out", set()),
    ("Negative for atrial fibrillation", set()),
    ("Family history of CAD", set()),
    ("Mother had an MI", set()),
    ("At risk for coronary artery disease", set()),
    ("Hypertensive heart disease without heart failure", {C.CV_RISK_FACTOR}),
    # near misses
    ("Phantom limb syndrome", {C.PHANTOM_LIMB_WITHOUT_PAIN}),  # pain not said (G54.7 NOS)
    ("Phantom limb pain: no pain since March", set()),
    ("Stump pain", set()),
    ("Residual limb pain", set()),
    ("PLP", set()),  # beside no limb or amputation word
    ("PLP deficiency", set()),
    ("Chest pain", set()),
    ("Sinus rhythm", set()),
    ("CHD", set()),  # congenital or coronary: not read
    ("Pulmonary hypertension", set()),
    ("Prediabetes", set()),
    ("Pre-diabetes", set()),
    ("Diabetes insipidus", set()),
    ("Ex-smoker", set()),
    ("Never smoker", set()),
    ("Asthma", set()),
]


@pytest.mark.parametrize(("words", "expected"), CONDITION_WORDS)
def test_conditions_by_free_text(words: str, expected: set[ConditionClass]) -> None:
    assert classes(typed(words)) == expected


@pytest.mark.parametrize(("words", "expected"), CONDITION_WORDS)
def test_conditions_by_display(words: str, expected: set[ConditionClass]) -> None:
    assert classes(displayed(words)) == expected


@pytest.mark.parametrize(("words", "expected"), NOT_CONDITIONS)
def test_text_that_does_not_name_the_condition_it_mentions(
    words: str, expected: set[ConditionClass]
) -> None:
    assert classes(typed(words)) == expected
    assert classes(displayed(words)) == expected


@pytest.mark.parametrize(
    ("coding", "expected"),
    [
        ((SNOMED, "5771000119106"), {C.PHANTOM_LIMB_PAIN}),
        ((ICD10CM, "G54.6"), {C.PHANTOM_LIMB_PAIN}),
        ((ICD10, "G54.6"), {C.PHANTOM_LIMB_PAIN}),
        ((SNOMED, "703272007"), {C.HEART_FAILURE}),
        ((SNOMED, "53741008"), {IHD}),
        ((SNOMED, "401303003"), MI),
        ((SNOMED, "1755008"), {IHD}),  # old MI (unverified code, see the row's note)
        ((SNOMED, "49436004"), {C.ATRIAL_ARRHYTHMIA}),
        ((SNOMED, "25569003"), {C.VENTRICULAR_ARRHYTHMIA}),
        ((SNOMED, "195042002"), {C.AV_BLOCK_SECOND_DEGREE}),
        ((SNOMED, "59118001"), {C.VENTRICULAR_CONDUCTION_BLOCK}),
        ((SNOMED, "9651007"), {C.LONG_QT}),
        ((SNOMED, "111975006"), {C.LONG_QT}),
        ((SNOMED, "418818005"), {C.OTHER_HEART_DISEASE}),
        ((SNOMED, "38341003"), {C.CV_RISK_FACTOR}),
        ((ICD10CM, "F11.21"), {C.OPIOID_USE_DISORDER}),
        # negatives: codes of something else
        ((SNOMED, "195967001"), set()),  # asthma
        ((ICD10CM, "I34.0"), set()),  # mitral valve disease is not on §4's list
        ((ICD10CM, "I51.81"), set()),  # takotsubo
        ((ICD10CM, "R94.31"), set()),  # abnormal ECG, non-specific
        ((RXNORM, "7531"), set()),  # right code, wrong kind of thing
    ],
)
def test_conditions_by_code(coding: tuple[str, str], expected: set[ConditionClass]) -> None:
    system, code = coding
    assert classes({"coding": [{"system": system, "code": code}]}) == expected


def test_a_recognised_code_wins_over_display_and_text() -> None:
    concept = {
        "coding": [{"system": ICD10CM, "code": "G54.7", "display": "Phantom limb pain"}],
        "text": "Phantom limb pain",
    }
    assert classes(concept) == {C.PHANTOM_LIMB_WITHOUT_PAIN}


def test_the_display_wins_over_the_text() -> None:
    concept = {**displayed("Atrial fibrillation"), "text": "Heart failure"}
    assert classes(concept) == {C.ATRIAL_ARRHYTHMIA}


def test_the_text_is_read_when_the_displays_name_nothing() -> None:
    concept = {**displayed("Problem 42"), "text": "Heart failure"}
    assert classes(concept) == {C.HEART_FAILURE}


def test_a_vague_cardiac_code_is_refined_by_its_words() -> None:
    # WHO ICD-10 has no long-QT code: it is filed under I45.8 "Other specified conduction
    # disorders", so the words beside the code say which finding it is.
    long_qt = {
        "coding": [{"system": ICD10, "code": "I45.8", "display": "Long QT syndrome"}],
    }
    assert classes(long_qt) == {C.LONG_QT}
    bare = {"coding": [{"system": ICD10, "code": "I45.8"}]}
    assert classes(bare) == {C.OTHER_HEART_DISEASE}


def test_a_second_degree_block_specified_as_mobitz_ii_in_the_text_is_high_grade() -> None:
    # GUIDELINE §4 grades I44.1 by whether it is specified as Mobitz II, which the code and
    # its display cannot say; the clinician's text can.
    display = "Atrioventricular block, second degree"
    mobitz_ii = {
        "coding": [{"system": ICD10CM, "code": "I44.1", "display": display}],
        "text": "Mobitz II second degree heart block",
    }
    assert classes(mobitz_ii) == {C.AV_BLOCK_HIGH_GRADE}
    mobitz_i = {
        "coding": [{"system": ICD10CM, "code": "I44.1", "display": display}],
        "text": "Wenckebach (Mobitz I)",
    }
    assert classes(mobitz_i) == {C.AV_BLOCK_SECOND_DEGREE}


def test_remission_is_read_from_code_and_words() -> None:
    assert recognise({"coding": [{"system": ICD10CM, "code": "F11.21"}]}).remission
    assert not recognise({"coding": [{"system": ICD10CM, "code": "F11.20"}]}).remission
    assert recognise(typed("Opioid use disorder, in sustained remission")).remission
    assert not recognise(typed("Opioid use disorder")).remission


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        # a cue before the finding, in the same clause
        ("No history of heart failure", set()),
        ("no CHF", set()),
        ("Patient denies angina", set()),
        ("Negative for long QT", set()),
        ("Ruled out: myocardial infarction", set()),
        ("Never had atrial fibrillation", set()),
        ("Without LBBB", set()),
        ("Family history of MI", set()),
        ("FH of CAD", set()),
        ("Father with heart failure", set()),
        ("Screening for diabetes", set()),
        # a cue right after it
        ("Myocardial infarction ruled out", set()),
        ("AF - excluded", set()),
        ("Long QT: negative", set()),
        ("Heart failure was ruled out", set()),
        # a negation reaches only its own clause
        ("No CHF; known AF", {C.ATRIAL_ARRHYTHMIA}),
        ("No angina but has LBBB", {C.VENTRICULAR_CONDUCTION_BLOCK}),
        ("Heart failure, ruled out MI", {C.HEART_FAILURE}),
        ("Atrial fibrillation, no anticoagulation", {C.ATRIAL_ARRHYTHMIA}),
        # and a negation after a finding in its clause does not undo it
        ("Heart failure, not on diuretics", {C.HEART_FAILURE}),
        ("CHF with no recent admission", {C.HEART_FAILURE}),
    ],
)
def test_negations_that_are_read(words: str, expected: set[ConditionClass]) -> None:
    assert classes(typed(words)) == expected


def test_what_negation_does_not_cover() -> None:
    # A comma ends a negation's reach, so a list after one cue is read as present: the safe
    # mistake is a caution too many, never one missed.
    assert classes(typed("No history of MI, CHF or arrhythmia")) == {
        C.HEART_FAILURE,
        C.OTHER_HEART_DISEASE,
    }
    # "rule out" (still to be excluded) is not a negation: a suspected finding counts.
    assert classes(typed("Rule out MI")) == MI
    # "non-" is not a negation cue: non-ischaemic cardiomyopathy is a cardiomyopathy.
    assert classes(typed("Non-ischaemic cardiomyopathy")) == {C.CARDIOMYOPATHY}


# --- medications ---------------------------------------------------------------------------

BRANDS = [
    ("Pamelor 25 mg capsule", "nortriptyline", T.TCA),
    ("Aventyl 10 mg", "nortriptyline", T.TCA),
    ("Norpramin 50 mg TID", "desipramine", T.TCA),
    ("Elavil 25 mg at night", "amitriptyline", T.TCA),
    ("Tofranil 25 mg", "imipramine", T.TCA),
    ("Neurontin 300 mg capsule", "gabapentin", T.GABAPENTINOID),
    ("Gralise 600 mg", "gabapentin", T.GABAPENTINOID),
    ("Horizant 600 mg ER tablet", "gabapentin", T.GABAPENTINOID),
    ("Lyrica 75 mg", "pregabalin", T.GABAPENTINOID),
    ("Cymbalta 30 mg", "duloxetine", T.SNRI),
    ("Drizalma Sprinkle 20 mg", "duloxetine", T.SNRI),
    ("Effexor XR 75 mg", "venlafaxine", T.SNRI),
    ("Ultram 50 mg", "tramadol", T.OPIOID),
    ("ConZip 100 mg", "tramadol", T.OPIOID),
    ("OxyContin 10 mg", "oxycodone", T.OPIOID),
    ("Roxicodone 5 mg", "oxycodone", T.OPIOID),
    ("Percocet 5/325", "oxycodone", T.OPIOID),
    ("Norco 5/325", "hydrocodone", T.OPIOID),
    ("Vicodin", "hydrocodone", T.OPIOID),
    ("Dilaudid 2 mg", "hydromorphone", T.OPIOID),
    ("MS Contin 15 mg", "morphine", T.OPIOID),
    ("Duragesic 25 mcg/hr", "fentanyl", T.OPIOID),
    ("Nucynta 50 mg", "tapentadol", T.OPIOID),
    ("Subutex 8 mg", "buprenorphine", T.OPIOID),
    ("Suboxone 8 mg/2 mg film", "buprenorphine", T.OPIOID),
    ("Zubsolv 5.7 mg/1.4 mg", "buprenorphine", T.OPIOID),
    ("Butrans 10 mcg/hour", "buprenorphine", T.OPIOID),
    ("Belbuca 150 mcg", "buprenorphine", T.OPIOID),
    ("Dolophine 10 mg", "methadone", T.OPIOID),
    ("Methadose 10 mg/mL", "methadone", T.OPIOID),
    ("Lidoderm 5%", "lidocaine", T.TOPICAL_LIDOCAINE),
    ("ZTlido 1.8%", "lidocaine", T.TOPICAL_LIDOCAINE),
]


# Brands beyond §6 that a pharmacist's probe typed for a heart-failure patient or as an opioid.
MORE_BRANDS = [
    ("Silenor 6 mg tablet", "doxepin", T.TCA),
    ("Endep 25mg nocte", "amitriptyline", T.TCA),
    ("Oxaydo 5 mg", "oxycodone", T.OPIOID),
    ("RoxyBond 15 mg tablet", "oxycodone", T.OPIOID),
    ("Apadaz 6.12 mg/325 mg", "benzhydrocodone", T.OPIOID),
    ("Seglentis 56 mg/44 mg", "tramadol", T.OPIOID),
    ("Pristiq 50 mg", "desvenlafaxine", T.SNRI),
    ("Fetzima 40 mg", "levomilnacipran", T.SNRI),
    ("Savella 50 mg tablet", "milnacipran", T.SNRI),
]


# The brands of §6 and, beyond them, the `partial` rows (docs/terminology.md).
@pytest.mark.parametrize(("words", "ingredient", "therapy_class"), BRANDS + MORE_BRANDS)
def test_every_brand_by_free_text(words: str, ingredient: str, therapy_class: TherapyClass) -> None:
    found = medication_fact(med(text=words), {})
    assert found is not None
    assert (found.ingredients, found.classes) == ((ingredient,), {therapy_class})


@pytest.mark.parametrize(("words", "ingredient", "therapy_class"), BRANDS)
def test_every_brand_of_section_6_by_display(
    words: str, ingredient: str, therapy_class: TherapyClass
) -> None:
    # A branded drug code the tables do not list falls back to its display.
    order = med(
        medicationCodeableConcept={"coding": [{"system": RXNORM, "code": "1", "display": words}]}
    )
    found = medication_fact(order, {})
    assert found is not None
    assert (found.ingredients, found.classes) == ((ingredient,), {therapy_class})


GENERIC_NAMES = [
    ("gabapentin 300 mg", "gabapentin", T.GABAPENTINOID),
    ("Pregabalin 75mg cap", "pregabalin", T.GABAPENTINOID),
    ("Nortriptyline25mg", "nortriptyline", T.TCA),
    ("desipramine hydrochloride 25 MG Oral Tablet", "desipramine", T.TCA),
    ("Amitriptyline 10 mg nightly", "amitriptyline", T.TCA),
    ("protriptyline 5 mg", "protriptyline", T.TCA),
    ("clomipramine 25 mg", "clomipramine", T.TCA),
    ("doxepin 10 mg", "doxepin", T.TCA),
    ("trimipramine 25 mg", "trimipramine", T.TCA),
    ("Dothiepin 75 mg", "dosulepin", T.TCA),
    ("lofepramine 70 mg", "lofepramine", T.TCA),
    ("duloxetine DR 30 mg", "duloxetine", T.SNRI),
    ("venlafaxine ER 75 mg", "venlafaxine", T.SNRI),
    ("ketamine 10 mg/mL oral solution", "ketamine", T.NMDA_ANTAGONIST),
    ("morphine sulfate IR 15 mg", "morphine", T.OPIOID),
    ("codeine 30 mg", "codeine", T.OPIOID),
    ("Pethidine 50 mg", "meperidine", T.OPIOID),
    ("oxymorphone 5 mg", "oxymorphone", T.OPIOID),
    ("tapentadol 50 mg", "tapentadol", T.OPIOID),
]


@pytest.mark.parametrize(("words", "ingredient", "therapy_class"), GENERIC_NAMES)
def test_agents_by_generic_name(words: str, ingredient: str, therapy_class: TherapyClass) -> None:
    found = medication_fact(med(text=words), {})
    assert found is not None
    assert (found.ingredients, found.classes) == ((ingredient,), {therapy_class})


@pytest.mark.parametrize(
    ("code", "system", "ingredient", "therapy_class"),
    [
        ("39786", RXNORM, "venlafaxine", T.SNRI),
        ("3247", RXNORM, "desipramine", T.TCA),
        ("787390", RXNORM, "tapentadol", T.OPIOID),
        ("1819", RXNORM, "buprenorphine", T.OPIOID),
        ("N02AX02", ATC, "tramadol", T.OPIOID),
        ("N06AA01", ATC, "desipramine", T.TCA),
        ("n02bf02", ATC, "pregabalin", T.GABAPENTINOID),  # lower case
        ("N07BC02", ATC, "methadone", T.OPIOID),
    ],
)
def test_agents_by_code(
    code: str, system: str, ingredient: str, therapy_class: TherapyClass
) -> None:
    found = medication_fact(med(code, system), {})
    assert found is not None
    assert (found.ingredients, found.classes) == ((ingredient,), {therapy_class})


def test_an_unlisted_member_of_a_one_class_atc_group_gets_its_class() -> None:
    for code, therapy_class in (
        ("N02AB02", T.OPIOID),  # pethidine
        ("N02BF03", T.GABAPENTINOID),  # mirogabalin
        ("N01AH03", T.OPIOID),  # sufentanil
    ):
        found = medication_fact(med(code, ATC), {})
        assert found is not None and found.classes == {therapy_class}


@pytest.mark.parametrize(
    "words",
    [
        "amlodipine 5 mg",
        "Naloxone 4 mg nasal spray",
        "Normal saline 0.9%",  # not Norco
        "Ultrasound gel",  # not Ultram
        "Elavilx",  # a brand only as a whole word
        "Acetaminophen 500 mg",
        "Carbamazepine 200 mg",
    ],
)
def test_words_that_name_no_agent(words: str) -> None:
    assert medication_fact(med(text=words), {}) is None


@pytest.mark.parametrize(
    ("words", "topical"),
    [
        ("Lidoderm 5%", True),
        ("lidocaine 5% patch", True),
        ("lidocaine 4% cream", True),
        ("Duragesic 25 mcg/hr", False),
        ("fentanyl 25 mcg/hr patch", False),
        ("Butrans 10 mcg/hr", False),
        ("buprenorphine 10 mcg/hour transdermal patch", False),
        ("amitriptyline 2% ketamine 1% cream", True),
    ],
)
def test_route_words_by_brand_and_text(words: str, topical: bool) -> None:
    found = medication_fact(med(text=words), {})
    assert found is not None and found.topical is topical


# GUIDELINE §2: buprenorphine products for opioid use disorder (sublingual ± naloxone,
# buccal with naloxone, extended-release injection) and methadone are agonist treatment
# products; Butrans and Belbuca are pain opioids.
AGONIST_TREATMENT = [
    (med(text="Suboxone 8 mg/2 mg sublingual film"), True),
    (med(text="Subutex 8 mg"), True),
    (med(text="Zubsolv 5.7 mg/1.4 mg"), True),
    (med(text="buprenorphine 8 mg sublingual tablet"), True),
    (med(text="buprenorphine-naloxone 8-2 mg SL film"), True),
    (med(text="buprenorphine and naloxone buccal film"), True),
    (med(text="Sublocade 300 mg/1.5 mL"), True),
    (med(text="buprenorphine extended-release injection 100 mg"), True),
    (med("351265"), True),  # buprenorphine 8 MG Sublingual Tablet
    (med("N07BC01", ATC), True),  # buprenorphine, drugs used in opioid dependence
    (
        med(
            text="buprenorphine 8 mg tablet", dosageInstruction=[{"route": {"text": "Sublingual"}}]
        ),
        True,
    ),
    (med(text="methadone 10 mg tablet"), True),
    (med("864706"), True),
    (med(text="Methadose 10 mg/mL oral concentrate"), True),
    (med(text="Dolophine 5 mg"), True),
    (med(text="Butrans 10 mcg/hour patch"), False),
    (med("904870"), False),  # buprenorphine 10 mcg/h weekly transdermal system
    (med(text="Belbuca 150 mcg buccal film"), False),
    (med(text="buprenorphine 10 mcg/hour transdermal patch"), False),
    (med(text="Buprenex 0.3 mg injection"), False),
    (med(text="buprenorphine 0.3 mg/mL injection"), False),
    (med("1819"), False),  # the ingredient alone says no product
    (med(text="oxycodone 5 mg"), False),
    (med(text="Percocet 5/325"), False),
]


@pytest.mark.parametrize(("order", "expected"), AGONIST_TREATMENT)
def test_opioid_agonist_treatment_products(order: dict[str, Any], expected: bool) -> None:
    found = medication_fact(order, {})
    assert found is not None and T.OPIOID in found.classes
    assert found.agonist_treatment_product is expected


def test_a_combination_product_has_no_strength_read_from_its_text() -> None:
    # "5/325": which number is the opioid's is not said, so no dose is worked out from it.
    found = medication_fact(
        med(
            text="Percocet 5/325",
            dosageInstruction=[
                {
                    "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}],
                    "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                }
            ],
        ),
        {},
    )
    assert found is not None
    assert not hasattr(found.dose, "mg_per_day")


# --- allergies -----------------------------------------------------------------------------


def allergy(
    code: dict[str, Any] | None = None,
    *,
    clinical: str | None = None,
    verification: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "AllergyIntolerance", "id": "alg-1", **extra}
    if code is not None:
        resource["code"] = code
    if clinical is not None:
        resource["clinicalStatus"] = {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                    "code": clinical,
                }
            ]
        }
    if verification is not None:
        resource["verificationStatus"] = {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
                    "code": verification,
                }
            ]
        }
    return resource


G, TCA_, SNRI_, OP = T.GABAPENTINOID, T.TCA, T.SNRI, T.OPIOID


@pytest.mark.parametrize(
    ("code", "ingredients", "classes_named", "agent_classes"),
    [
        ({"coding": [{"system": RXNORM, "code": "72625"}]}, {"duloxetine"}, set(), {SNRI_}),
        ({"coding": [{"system": RXNORM, "code": "317136"}]}, {"nortriptyline"}, set(), {TCA_}),
        ({"coding": [{"system": ATC, "code": "N06AA09"}]}, {"amitriptyline"}, set(), {TCA_}),
        ({"coding": [{"system": ATC, "code": "N06AA"}]}, set(), {TCA_}, set()),
        ({"coding": [{"system": ATC, "code": "N02A"}]}, set(), {OP}, set()),
        # An unlisted member of the TCA group: that one agent, a TCA.
        ({"coding": [{"system": ATC, "code": "N06AA02"}]}, {"ATC N06AA02"}, set(), {TCA_}),
        # SNOMED CT substance codes are not verified: the display is read instead.
        (
            {
                "coding": [
                    {"system": SNOMED, "code": "386845007", "display": "Gabapentin (substance)"}
                ]
            },
            {"gabapentin"},
            set(),
            {G},
        ),
        (typed("Lyrica"), {"pregabalin"}, set(), {G}),
        (typed("Cymbalta (nausea)"), {"duloxetine"}, set(), {SNRI_}),
        (typed("codeine"), {"codeine"}, set(), {OP}),
        (typed("Imipramine"), {"imipramine"}, set(), {TCA_}),
        (typed("Tofranil"), {"imipramine"}, set(), {TCA_}),
        (typed("Tricyclic antidepressants"), set(), {TCA_}, set()),
        (typed("TCAs"), set(), {TCA_}, set()),
        (typed("SNRIs"), set(), {SNRI_}, set()),
        (typed("Serotonin-norepinephrine reuptake inhibitors"), set(), {SNRI_}, set()),
        (typed("Gabapentinoids"), set(), {G}, set()),
        (typed("Opioids"), set(), {OP}, set()),
        (typed("Opiate analgesics"), set(), {OP}, set()),
    ],
)
def test_allergens(
    code: dict[str, Any],
    ingredients: set[str],
    classes_named: set[TherapyClass],
    agent_classes: set[TherapyClass],
) -> None:
    found = allergy_fact(allergy(code))
    assert found is not None
    assert (found.ingredients, found.classes, found.agent_classes) == (
        ingredients,
        classes_named,
        agent_classes,
    )
    assert found.live and found.reference == "AllergyIntolerance/alg-1"


def test_a_clinical_drug_allergen_gives_its_agent_and_the_agent_s_class() -> None:
    # Oxycodone/acetaminophen 5/325 mg: the tables list only the opioid (acetaminophen is
    # outside the guideline).
    found = allergy_fact(allergy({"coding": [{"system": RXNORM, "code": "1049221"}]}))
    assert found is not None
    assert (found.ingredients, found.classes, found.agent_classes) == ({"oxycodone"}, set(), {OP})


@pytest.mark.parametrize(
    "code",
    [
        typed("Penicillin"),
        typed("No known drug allergies"),
        typed("NKDA"),
        typed("No known allergy to codeine"),
        typed("Denies opioid allergy"),
        {"coding": [{"system": SNOMED, "code": "91936005", "display": "Allergy to penicillin"}]},
        None,
    ],
)
def test_allergies_to_nothing_the_guideline_names(code: dict[str, Any] | None) -> None:
    assert allergy_fact(allergy(code)) is None


def test_an_allergen_named_in_a_reaction_substance() -> None:
    found = allergy_fact(
        allergy(typed("Drug intolerance"), reaction=[{"substance": typed("Neurontin")}])
    )
    assert found is not None and found.ingredients == {"gabapentin"}


@pytest.mark.parametrize(
    ("clinical", "verification", "live"),
    [
        (None, None, True),
        ("active", "confirmed", True),
        ("active", "unconfirmed", True),
        ("active", "presumed", True),
        ("active", "refuted", False),
        ("active", "entered-in-error", False),
        ("inactive", "confirmed", False),
        ("resolved", "confirmed", False),
    ],
)
def test_allergy_liveness(clinical: str | None, verification: str | None, live: bool) -> None:
    found = allergy_fact(
        allergy(typed("Nortriptyline"), clinical=clinical, verification=verification)
    )
    assert found is not None and found.live is live


# --- splints -------------------------------------------------------------------------------


def service(words: str, site: str | None = None, **extra: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": "sr-1",
        "status": "draft",
        "intent": "order",
        "code": {"text": words},
        **extra,
    }
    if site is not None:
        order["bodySite"] = [{"text": site}]
    return order


@pytest.mark.parametrize(
    ("order", "site"),
    [
        (service("Posterior plaster backslab", "Left residual limb"), SplintSite.RESIDUAL_LIMB),
        (service("Back slab to stump"), SplintSite.RESIDUAL_LIMB),
        (service("Knee immobiliser", "R BKA"), SplintSite.RESIDUAL_LIMB),
        (service("Knee immobilizer", "Residual limb"), SplintSite.RESIDUAL_LIMB),
        (service("Below-knee cast, residual limb"), SplintSite.RESIDUAL_LIMB),
        (service("Resting splint for the transtibial amputation"), SplintSite.RESIDUAL_LIMB),
        (service("Immobilisation"), SplintSite.NOT_STATED),
        # a shrinker is not a splint, but the immobiliser in the next clause is
        (service("Stump shrinker; knee immobiliser"), SplintSite.RESIDUAL_LIMB),
        (service("Wrist splint", "Left wrist"), SplintSite.ELSEWHERE),
        (
            {
                "resourceType": "DeviceRequest",
                "id": "dr-1",
                "codeCodeableConcept": {"text": "Splint"},
                "note": [{"text": "residual limb"}],
            },
            SplintSite.RESIDUAL_LIMB,
        ),
    ],
)
def test_splints(order: dict[str, Any], site: SplintSite) -> None:
    found = splint_order(order)
    assert found is not None and found.site is site


@pytest.mark.parametrize(
    "order",
    [
        service("Prosthesis fitting", "Residual limb"),
        service("Immediate post-operative prosthesis (IPOP) with plaster cast", "Stump"),
        service("Stump shrinker"),
        service("Compression stocking", "Residual limb"),
        service("Rigid removable dressing", "Residual limb"),
        service("RRD residual limb"),
        service("Casting for prosthetic socket", "Residual limb"),
        service("Do not splint the residual limb"),
        service("Physiotherapy", "Residual limb"),
        service("Forecast review"),  # not a cast
    ],
)
def test_what_is_not_splinting(order: dict[str, Any]) -> None:
    assert splint_order(order) is None


# --- concepts that are not plain JSON ------------------------------------------------------

# A library caller's Python values, which no JSON request holds: an integer beyond 64 bits
# (or a Decimal, a lone surrogate) cannot key the concept caches. Such a concept is read
# without them, never skipped: skipping it could hide heart disease, a TCA or an allergy.
NOT_JSON = [{"url": "http://example.org/big", "valueInteger": 2**70}]


def test_a_condition_code_that_is_not_plain_json_is_still_recognised() -> None:
    concept = {"coding": [{"system": ICD10CM, "code": "I50.9"}], "extension": NOT_JSON}
    assert classes(concept) == {C.HEART_FAILURE}


def test_a_medication_concept_that_is_not_plain_json_is_still_identified() -> None:
    order = med("317136")
    order["medicationCodeableConcept"]["extension"] = NOT_JSON
    found = medication_fact(order, {})
    assert found is not None and found.ingredients == ("nortriptyline",)
    assert T.TCA in found.classes


def test_an_allergen_that_is_not_plain_json_is_still_read() -> None:
    found = allergy_fact(allergy(typed("Neurontin") | {"extension": NOT_JSON}))
    assert found is not None and found.ingredients == {"gabapentin"}
