"""Patient data access: prefetch, and the EHR's FHIR server when prefetch is missing."""
