"""Realistic cases: FHIR R4 as EHRs send it, and readers for what the service answers.

Nothing here imports product code: the codes, brand names and expected outcomes are written
from GUIDELINE v2 and terminology.md by hand, so a case cannot pass by reading back the table
it is meant to check.
"""
