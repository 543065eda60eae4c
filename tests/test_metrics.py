"""After traffic, /metrics reports hook latency, cards, feedback and the FHIR counters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from fastapi.testclient import TestClient
from joserfc.jwk import ECKey
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from cds.app import create_app
from cds.fhir.transport import Failure
from cds.ops.metrics import FHIR_OUTCOMES
from cds.settings import Settings
from tests.conftest import load_example
from tests.feedback_requests import PATIENT_VIEW, overridden, send_feedback, show_cards

FHIR = "https://fhir.example.org/r4"


def samples(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def test_metrics_count_hooks_cards_and_feedback(client: TestClient) -> None:
    before = samples(client)
    cards = show_cards(client)
    assert send_feedback(client, overridden(cards[0])).status_code == 200
    after = samples(client)

    def grew(name: str, **labels: str) -> float:
        key = (name, frozenset(labels.items()))
        return after[key] - before.get(key, 0.0)

    assert grew("cds_hook_duration_seconds_count", service=PATIENT_VIEW) == 1
    rule = cards[0]["source"]["topic"]["code"]
    assert grew("cds_cards_total", rule=rule, indicator=cards[0]["indicator"]) == 1
    assert grew("cds_feedback_total", outcome="overridden") == 1


def test_metrics_count_calls_to_the_fhir_server(tmp_path: Path) -> None:
    settings = Settings(cds_fhir_allowlist=FHIR, database_url=f"sqlite:///{tmp_path / 'db'}")
    request = load_example("patient-view.json")
    conditions = request["prefetch"].pop("conditions")
    request["fhirServer"] = FHIR
    request["fhirAuthorization"] = {"access_token": "t", "token_type": "Bearer"}
    with TestClient(create_app(settings)) as client, respx.mock() as ehr:
        ehr.get(f"{FHIR}/Condition").mock(
            side_effect=[httpx.Response(404), httpx.Response(200, json=conditions)]
        )
        before = samples(client)
        assert client.post(f"/cds-services/{PATIENT_VIEW}", json=request).status_code == 412
        assert client.post(f"/cds-services/{PATIENT_VIEW}", json=request).status_code == 200
        after = samples(client)

    def grew(outcome: str) -> float:
        key = ("cds_fhir_fallback_calls_total", frozenset({("outcome", outcome)}))
        return after[key] - before.get(key, 0.0)

    assert (grew("ok"), grew("http_error")) == (1, 1)


def test_every_kind_of_fetch_failure_has_a_series_from_the_start() -> None:
    # Dashboards see each outcome's series at zero before its first event.
    assert {kind.metric for kind in Failure} | {"ok"} == set(FHIR_OUTCOMES)


# -- who may scrape ---------------------------------------------------------------------------

METRICS_TOKEN = "scrape-token-0123456789abcdef"


def authenticated_settings(tmp_path: Path, **extra: Any) -> Settings:
    key = ECKey.generate_key("P-384", parameters={"kid": "k1"})
    issuers = tmp_path / "issuers.json"
    issuers.write_text(
        json.dumps({"https://ehr.example.org": {"jwks": {"keys": [key.as_dict(private=False)]}}})
    )
    return Settings(
        cds_trusted_issuers_file=str(issuers),
        database_url=f"sqlite:///{tmp_path / 'db'}",
        **extra,
    )


def test_metrics_are_closed_once_clients_must_authenticate(tmp_path: Path) -> None:
    with TestClient(create_app(authenticated_settings(tmp_path))) as client:
        response = client.get("/metrics")
    assert response.status_code == 403
    assert "CDS_METRICS_TOKEN" in response.json()["issue"][0]["diagnostics"]


@pytest.mark.parametrize("authenticated", [True, False])
def test_a_metrics_token_is_required_when_set(tmp_path: Path, authenticated: bool) -> None:
    settings = (
        authenticated_settings(tmp_path, cds_metrics_token=METRICS_TOKEN)
        if authenticated
        else Settings(cds_metrics_token=METRICS_TOKEN, database_url=f"sqlite:///{tmp_path}/d")
    )
    with TestClient(create_app(settings)) as client:
        missing = client.get("/metrics")
        wrong = client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
        right = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert (missing.status_code, wrong.status_code, right.status_code) == (401, 401, 200)
    assert missing.headers["www-authenticate"] == "Bearer"
    assert "cds_hook_duration_seconds" in right.text


def test_a_short_metrics_token_is_refused_at_start_up() -> None:
    with pytest.raises(ValidationError):
        Settings(cds_metrics_token="short")
