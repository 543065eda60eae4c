"""The plain facts shared by `fhir_mappings` (which makes them) and `guideline`/`cards`."""
