"""What a bearer token may be made of (RFC 6750 b64token).

Both kinds the service handles are checked with it before use: the client JWT it verifies,
and the access token an EHR hands over for its FHIR server. Anything else would be refused
by the server, could not be written into an HTTP header, or is not a token at all.
"""

from __future__ import annotations

import re

_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def is_bearer_token(token: str) -> bool:
    return bool(_B64TOKEN.fullmatch(token))
