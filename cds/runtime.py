"""What one running app holds: its settings and the objects built from them.

One typed object on `app.state.runtime` instead of loose, untyped `app.state` attributes:
`create_app` makes it, the lifespan fills in what needs an event loop (the outbound HTTP
clients, the database), and the endpoints get its parts through the dependencies in
`cds.api.dependencies`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
from starlette.applications import Starlette

from cds.fhir.patient_data import PREFETCH_ONLY, PatientDataSource
from cds.security.auth import Verifier
from cds.settings import Settings
from cds.storage.database import Database
from cds.storage.recorder import CardRecorder
from cds.storage.store import Store
from fhir_mappings.terminology import Terminology, builtin


@dataclass(slots=True)
class Runtime:
    settings: Settings
    verifier: Verifier | None = None
    # The terminology tables, with the site's rows when CDS_SITE_TERMINOLOGY_FILE is set.
    terminology: Terminology = field(default_factory=builtin)
    # Set while the app runs (lifespan); None before start-up and after shut-down. One
    # client per purpose: nothing one EHR's FHIR server sets reaches another caller's calls
    # or a JWKS endpoint (cds.security.outbound).
    fhir_http: httpx.AsyncClient | None = None
    jwks_http: httpx.AsyncClient | None = None
    patient_data: PatientDataSource = PREFETCH_ONLY
    database: Database | None = None
    store: Store | None = None
    recorder: CardRecorder | None = None

    def fhir_client(self) -> httpx.AsyncClient:
        if self.fhir_http is None:
            raise RuntimeError("the app has not started: no FHIR client yet")
        return self.fhir_http

    def jwks_client(self) -> httpx.AsyncClient:
        if self.jwks_http is None:
            raise RuntimeError("the app has not started: no JWKS client yet")
        return self.jwks_http


def runtime_of(app: Starlette) -> Runtime:
    runtime = app.state.runtime
    if not isinstance(runtime, Runtime):
        raise TypeError("the app was not built by cds.app.create_app")
    return runtime
