"""The phantom limb pain guideline as pure functions of the patient's facts.

Read beside `shared/GUIDELINE.md`: `ladder` is §3 (where the patient stands and what comes
next), `precautions` is §4. Nothing here knows FHIR, HTTP or cards.
"""
