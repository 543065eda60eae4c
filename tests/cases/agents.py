"""Which agent a suggested draft order creates, told from its codes and words.

Written by hand from GUIDELINE v2 §2/§6 (names, brand names) and terminology.md §2 (RxNorm
ingredient and clinical-drug codes marked verified), never read from the service's tables.
"""

from __future__ import annotations

import re
from typing import Any

GABAPENTINOIDS = frozenset({"gabapentin", "pregabalin"})
SUGGESTED_TCAS = frozenset({"nortriptyline", "desipramine"})
TCAS = SUGGESTED_TCAS | {"amitriptyline", "imipramine", "clomipramine", "doxepin"}
SNRIS = frozenset({"duloxetine", "venlafaxine"})
FIRST_LINE_SYSTEMIC = GABAPENTINOIDS | TCAS | SNRIS

_CODES: dict[str, str] = {
    **dict.fromkeys(
        ("25480", "310430", "310431", "310432", "310433", "310434", "283523"), "gabapentin"
    ),
    **dict.fromkeys(("187832", "483448", "483450", "483438", "483440", "483444"), "pregabalin"),
    **dict.fromkeys(("7531", "198045", "317136", "198046"), "nortriptyline"),
    **dict.fromkeys(("3247", "1099288", "1099300", "1099304"), "desipramine"),
    **dict.fromkeys(("704", "856783", "856834", "856845"), "amitriptyline"),
    **dict.fromkeys(("72625", "596930", "596934", "596926"), "duloxetine"),
    **dict.fromkeys(("39786", "313583", "313585", "313581", "313586"), "venlafaxine"),
    **dict.fromkeys(("6387", "1745091", "1011705"), "lidocaine"),
}

_WORDS: dict[str, tuple[str, ...]] = {
    "gabapentin": ("gabapentin", "neurontin", "gralise", "horizant"),
    "pregabalin": ("pregabalin", "lyrica"),
    "nortriptyline": ("nortriptyline", "pamelor", "aventyl"),
    "desipramine": ("desipramine", "norpramin"),
    "amitriptyline": ("amitriptyline", "elavil"),
    "imipramine": ("imipramine", "tofranil"),
    "duloxetine": ("duloxetine", "cymbalta", "drizalma"),
    "venlafaxine": ("venlafaxine", "effexor"),
    "lidocaine": ("lidocaine", "lidoderm", "ztlido"),
    "ketamine": ("ketamine",),
}


def _strings(concept: Any) -> tuple[list[str], list[str]]:
    """(codes, words) of a CodeableConcept."""
    if not isinstance(concept, dict):
        return [], []
    codes: list[str] = []
    words: list[str] = [str(concept.get("text") or "")]
    for coding in concept.get("coding") or []:
        codes.append(str(coding.get("code") or ""))
        words.append(str(coding.get("display") or ""))
    return codes, words


def agents_of(resource: dict[str, Any]) -> frozenset[str]:
    """The agents a MedicationRequest orders; a topical amitriptyline/ketamine compound is
    "compound", not a TCA (GUIDELINE §2: route matters)."""
    codes, words = _strings(resource.get("medicationCodeableConcept"))
    ingredients = 0
    for contained in resource.get("contained") or []:
        if contained.get("resourceType") != "Medication":
            continue
        more_codes, more_words = _strings(contained.get("code"))
        codes += more_codes
        words += more_words
        for ingredient in contained.get("ingredient") or []:
            ingredients += 1
            more_codes, more_words = _strings(ingredient.get("itemCodeableConcept"))
            codes += more_codes
            words += more_words
    text = " ".join(words).lower()
    found = {_CODES[c] for c in codes if c in _CODES}
    for agent, names in _WORDS.items():
        if any(re.search(rf"\b{name}\b", text) for name in names):
            found.add(agent)
    if "ketamine" in found or ingredients > 1 or "compound" in text:
        return frozenset({"compound"})
    return frozenset(found)
