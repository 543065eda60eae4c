"""What one running app holds: its settings and the objects built from them.

One typed object on `app.state.runtime` instead of loose, untyped `app.state` attributes:
`create_app` makes it, the lifespan fills in what needs an event loop (the outbound HTTP
client, the database), and the endpoints get its parts through the dependencies in
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
    # Set while the app runs (lifespan); None before start-up and after shut-down.
    http: httpx.AsyncClient | None = None
    patient_data: PatientDataSource = PREFETCH_ONLY
    database: Database | None = None
    store: Store | None = None
    recorder: CardRecorder | None = None

    def outbound_http(self) -> httpx.AsyncClient:
        if self.http is None:
            raise RuntimeError("the app has not started: no outbound HTTP client yet")
        return self.http


def runtime_of(app: Starlette) -> Runtime:
    runtime = app.state.runtime
    if not isinstance(runtime, Runtime):
        raise TypeError("the app was not built by cds.app.create_app")
    return runtime
