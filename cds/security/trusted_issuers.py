"""The EHRs this service trusts: CDS_TRUSTED_ISSUERS_FILE (digest §7).

{"https://ehr.example.org": {"jwks_url": "https://ehr.example.org/jwks.json",
                             "jku": ["https://ehr.example.org/keys/next.json"]},
 "https://other.example.net": {"jwks": {"keys": [...]},
                               "jku": ["https://other.example.net/jwks.json"]}}

`jwks_url` or `jwks` (a pinned set: never fetched) holds the keys that verify the issuer's
tokens. `jku` lists the other URLs a token's `jku` header may name; a header naming any
other URL is refused.
"""

from __future__ import annotations

from pathlib import Path

from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError


class StartupError(RuntimeError):
    """The service is configured so that it must not start."""


class _IssuerEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Plain strings: a `jku` header is compared with these exactly, and URL normalisation
    # (a trailing slash added, say) would make equal-looking URLs differ.
    jwks_url: str | None = Field(default=None, pattern=r"^https?://")
    jwks: dict[str, object] | None = None
    jku: list[str] = Field(default_factory=list)


class _IssuersFile(RootModel[dict[str, _IssuerEntry]]):
    pass


class TrustedIssuer(BaseModel):
    """One EHR: where its keys are, and which `jku` URLs it may point at."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    iss: str
    jwks_url: str | None
    jwks: KeySet | None
    jku: tuple[str, ...]

    def allows_jku(self, url: str) -> bool:
        """The issuer's own `jwks_url` is always an allowed `jku`; others must be listed."""
        return url == self.jwks_url or url in self.jku


def load_trusted_issuers(path: str | None) -> dict[str, TrustedIssuer]:
    if not path:
        return {}
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        raise StartupError(f"CDS_TRUSTED_ISSUERS_FILE {path} cannot be read: {error}") from None
    try:
        parsed = _IssuersFile.model_validate_json(raw).root
    except ValidationError as error:
        # One line for the operator: where in the file, and what is wrong there.
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"]) or "top level"
        raise StartupError(
            f"CDS_TRUSTED_ISSUERS_FILE {path} is not valid ({where}: {problem['msg']}); "
            "fix the file (format: README, Registering an EHR)"
        ) from None
    return {iss: _issuer(path, iss, entry) for iss, entry in parsed.items()}


def _issuer(path: str, iss: str, entry: _IssuerEntry) -> TrustedIssuer:
    if (entry.jwks_url is None) == (entry.jwks is None):
        raise StartupError(
            f"CDS_TRUSTED_ISSUERS_FILE {path}: issuer {iss!r} needs exactly one of "
            "'jwks_url' or 'jwks'"
        )
    jwks = None
    if entry.jwks is not None:
        try:
            jwks = KeySet.import_key_set(entry.jwks)  # type: ignore[arg-type]
        except (JoseError, KeyError, TypeError, ValueError) as error:
            raise StartupError(
                f"CDS_TRUSTED_ISSUERS_FILE {path}: issuer {iss!r} has an unusable JWK Set "
                f"({type(error).__name__})"
            ) from None
        if any(key.is_private for key in jwks.keys):
            raise StartupError(
                f"CDS_TRUSTED_ISSUERS_FILE {path}: issuer {iss!r} lists a private key; "
                "only the EHR's public keys belong here"
            )
    return TrustedIssuer(
        iss=iss,
        jwks_url=entry.jwks_url,
        jwks=jwks,
        jku=tuple(entry.jku),
    )
