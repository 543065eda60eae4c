"""Who may read /metrics: it shows traffic per service, rule and outcome.

With CDS_METRICS_TOKEN set, a scrape must carry it as a bearer token. Without it, /metrics
is open only while the service itself runs open (no trusted issuers); once clients must
authenticate, it is closed (403) until a token is set, so turning authentication on never
leaves the metrics open on the same port by mistake.
"""

from __future__ import annotations

import hmac

from fastapi import Request

from cds.api.dependencies import SettingsDep, VerifierDep
from cds.api.errors import ServiceError


async def require_metrics_access(
    request: Request, settings: SettingsDep, verifier: VerifierDep
) -> None:
    token = settings.cds_metrics_token
    if token is not None:
        sent = request.headers.get("authorization", "")
        expected = f"Bearer {token.get_secret_value()}"
        if not hmac.compare_digest(sent.encode("latin-1"), expected.encode("latin-1")):
            raise ServiceError(
                401,
                "login",
                "/metrics needs the metrics bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )
    elif verifier is not None:
        raise ServiceError(
            403,
            "forbidden",
            "/metrics is closed while clients must authenticate; set CDS_METRICS_TOKEN to "
            "scrape it with that bearer token",
        )
