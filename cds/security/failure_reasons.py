"""The bounded reason a client JWT was refused, for the `cds_auth_failures_total` metric.

The log line carries the full reason (it names kids, URLs and claims, so it cannot be a
metric label); the metric gets one of these few names, found from how the reason begins.
"""

from __future__ import annotations

# (label, how the reasons it covers begin or what they contain), first match wins.
_REASONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("missing_token", ("no Authorization header", "Authorization is not a Bearer token")),
    (
        "malformed_token",
        ("not a bearer token", "not a JWS compact serialization", "header or claims are not"),
    ),
    ("algorithm", ("alg ",)),
    ("header", ("no kid", "kid is longer", "typ ")),
    ("untrusted_issuer", ("iss is not a trusted issuer",)),
    ("jku_not_allowed", ("jku is not on the issuer's list",)),
    ("unknown_key", ("no key with kid",)),
    (
        "jwks_unavailable",
        (
            "fetching ",
            "does not hold a usable JWK Set",
            "no key set from",
            "no usable key set at",
            "declares a body larger",
            "sent more than a JWK Set holds",
        ),
    ),
    ("bad_signature", ("signature not verified",)),
    ("invalid_claims", ("claims refused", "jti is not a short string", "exp is too far")),
    ("replay", ("jti was already used",)),
    ("replay_store_unavailable", ("replay store unavailable",)),
)
REASONS = (*(label for label, _ in _REASONS), "internal_error", "other")


def reason_label(reason: str) -> str:
    for label, markers in _REASONS:
        if any(reason.startswith(m) or m in reason for m in markers):
            return label
    return "other"
