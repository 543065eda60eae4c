"""FHIR R4 JSON → the plain facts the guideline reasons about. Knows FHIR and terminology,
nothing of cards or HTTP."""
