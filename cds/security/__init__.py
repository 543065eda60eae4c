"""Security at the edge: client JWT authentication, issuer keys, replay, the FHIR allowlist."""
