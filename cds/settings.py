"""Every setting the service reads, in one place (environment variables)."""

from __future__ import annotations

import ssl
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.exc import ArgumentError

from cds.storage.url import async_url

LogLevel = Literal["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"]


class PrefetchResolution(StrEnum):
    """How required data that prefetch did not satisfy (missing, an OperationOutcome, or
    one page of a longer search) is had, as HAPI FHIR names its CDS resolution strategies.

    Whatever the choice, data that cannot be had is never advised from: answering from what
    is there would be advice from a partial chart, and an empty answer would hide the
    failure, so neither is offered as a policy. How the failure is said is
    UnavailableDataAnswer.
    """

    NONE = "none"  # prefetch only: nothing is fetched
    FHIR_SERVER = "fhir-server"  # the request's fhirServer, if on CDS_FHIR_ALLOWLIST


class UnavailableDataAnswer(StrEnum):
    """How a hook call answers when data it needs cannot be had.

    CDS Hooks 2.0 says 412 Precondition Failed. Some clients show a failed call as no advice
    at all: the CDS Hooks sandbox shows a 412 as "All clear!", which for a heart patient
    being prescribed a TCA reads as the checks having passed. For such clients the service
    can answer 200 with one card that gives no advice and says the checks were not done and
    why.
    """

    STATUS_412 = "412"
    CARD = "card"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="", case_sensitive=False, extra="ignore", frozen=True
    )

    cds_public_base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="External base URL of this service; JWT `aud` is this plus the request path.",
    )
    cds_prefetch_resolution: PrefetchResolution = PrefetchResolution.FHIR_SERVER
    cds_unavailable_data_answer: UnavailableDataAnswer = Field(
        default=UnavailableDataAnswer.STATUS_412,
        description="412 (CDS Hooks), or card: a 200 with a card saying the checks were not done.",
    )
    cds_fhir_timeout_s: float = Field(
        default=3.0, gt=0, description="Deadline for everything one hook call fetches."
    )
    cds_fhir_allowlist: str = Field(
        default="", description="Comma-separated FHIR base URL prefixes the service may call."
    )
    cds_fhir_max_pages: int = Field(default=10, ge=1)
    cds_fhir_retries: int = Field(
        default=2, ge=0, description="Retries of a connection error or 5xx, within the deadline."
    )
    cds_fhir_backoff_s: float = Field(
        default=0.1, ge=0, description="First retry's delay; it doubles, with jitter."
    )
    cds_fhir_max_medication_lookups: int = Field(default=100, ge=0)
    cds_fhir_max_connections_per_host: int | None = Field(
        default=None,
        ge=1,
        description="Connections to one FHIR server per worker (unset: CDS_FHIR_MAX_CONNECTIONS).",
    )
    cds_fhir_pool_timeout_s: float = Field(
        default=0.25,
        gt=0,
        description="Longest wait for a free connection; past it the call fails with a 412.",
    )
    cds_fhir_max_response_bytes: int = Field(
        default=20 * 1024 * 1024, ge=1024, description="Largest FHIR answer read."
    )
    cds_max_bundle_entries: int = Field(
        default=5_000, ge=1, description="Most Bundle entries in a hook request or a search."
    )
    cds_trusted_issuers_file: str | None = None
    cds_site_terminology_file: str | None = Field(
        default=None,
        description="A CSV file of local codes and synonyms added to the terminology tables.",
    )
    cds_require_auth: bool = False
    cds_jwt_leeway_s: int = Field(default=60, ge=0)
    cds_jwt_max_lifetime_s: int = Field(
        default=24 * 3600,
        ge=60,
        description="Longest token lifetime accepted: a jti is remembered until it expires.",
    )
    cds_jwks_timeout_s: float = Field(default=3.0, gt=0, description="Time limit of a JWKS fetch.")
    cds_jwks_ttl_s: float = Field(default=3600.0, gt=0, description="How long a JWK Set is kept.")
    cds_jwks_refetch_floor_s: float = Field(
        default=2.0,
        ge=0,
        description="Least time between two fetches of one JWK Set; a token naming an unknown "
        "kid waits for the next one.",
    )
    cds_jwks_failure_backoff_s: float = Field(
        default=5.0, gt=0, description="No refetch this long after a failed JWKS fetch; doubles."
    )
    cds_jwks_max_connections: int = Field(
        default=10, ge=1, description="Connections the JWKS client opens at once."
    )
    cds_outbound_ca_file: Path | None = Field(
        default=None,
        description="PEM file of CAs the FHIR and JWKS clients trust beside the public ones.",
    )
    cds_fhir_max_connections: int = Field(
        default=200,
        ge=1,
        description="Connections the FHIR client opens at once (per worker, all servers).",
    )
    cds_fhir_max_keepalive_connections: int = Field(
        default=20, ge=0, description="Idle FHIR connections kept for reuse."
    )
    cds_max_body_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    cds_cors_origins: str = Field(default="", description="Comma-separated allowed origins.")
    # The HTTP server `plp-cds serve` runs (h11): what a client may make it hold, and how long.
    cds_http_max_header_bytes: int = Field(
        default=32 * 1024, ge=4096, description="Largest request line plus headers (else 400)."
    )
    cds_http_read_timeout_s: float = Field(
        default=10.0, gt=0, description="Time a client has to send a whole request (else 408)."
    )
    cds_http_keepalive_s: float = Field(
        default=5.0, gt=0, description="Idle time before a kept-alive connection is closed."
    )
    cds_trusted_proxies: str = Field(
        default="",
        description="Comma-separated addresses whose X-Forwarded-For/-Proto are believed.",
    )
    cds_metrics_token: SecretStr | None = Field(
        default=None, min_length=16, description="Bearer token /metrics requires."
    )
    cds_feedback_max_reports_per_card: int = Field(
        default=10, ge=1, description="Most feedback reports stored about one card."
    )
    database_url: str = Field(default="sqlite:///./plp-cds.db")
    cds_record_timeout_s: float = Field(
        default=2.0, gt=0, description="Time limit of one write of the cards shown."
    )
    cds_record_retry_max_s: float = Field(
        default=5.0, gt=0, description="Longest pause between retries of a failed card write."
    )
    cds_state_dir: str = Field(
        default="./plp-cds-state",
        description="Local directory for the card journal (records waiting for the database).",
    )
    cds_journal_max_cards: int = Field(
        default=1_000_000, ge=1, description="Most cards one worker's journal holds."
    )
    cds_db_timeout_s: float = Field(
        default=2.0,
        gt=0,
        description="Deadline of each database call on a request path (feedback, readiness).",
    )
    redis_url: str | None = None
    cds_redis_prefix: str = Field(default="plp-cds:", description="Prefix of every Redis key.")
    cds_reassessment_interval_days: int = Field(
        default=90,
        ge=1,
        description="Days after the last pain score before patient-view prompts a reassessment.",
    )
    cds_log_level: LogLevel = "INFO"
    # OpenTelemetry tracing, exported over OTLP/HTTP as the OTEL_* variables say; needs the
    # optional extra: pip install 'plp-cds[otel]'.
    cds_otel_enabled: bool = False

    @field_validator("cds_log_level", mode="before")
    @classmethod
    def _level_in_any_case(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("cds_outbound_ca_file")
    @classmethod
    def _readable_ca_file(cls, value: Path | None) -> Path | None:
        if value is not None:
            try:
                ssl.create_default_context(cafile=str(value))
            except (OSError, ssl.SSLError) as error:
                raise ValueError(
                    f"{value} is not a readable PEM file of CA certificates: {error}"
                ) from None
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        # Refused here, at start-up, rather than when the first card is recorded.
        try:
            async_url(value)
        except ArgumentError:
            raise ValueError("DATABASE_URL is not a URL such as sqlite:///./plp-cds.db") from None
        return value

    @property
    def fhir_allowlist(self) -> tuple[str, ...]:
        return _split(self.cds_fhir_allowlist)

    @property
    def cors_origins(self) -> tuple[str, ...]:
        return _split(self.cds_cors_origins)

    @property
    def trusted_proxies(self) -> tuple[str, ...]:
        return _split(self.cds_trusted_proxies)

    @property
    def require_auth_said_false(self) -> bool:
        """CDS_REQUIRE_AUTH=false set on purpose, not merely left at its default."""
        return "cds_require_auth" in self.model_fields_set and not self.cds_require_auth


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The environment's settings, read once (for the command line, not for the app)."""
    return Settings()
