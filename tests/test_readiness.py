"""/readyz names each dependency the configuration uses: the database, Redis when the JWT
replay cache is kept there, and the card recorder."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from joserfc.jwk import ECKey

from cds.app import create_app
from cds.settings import Settings

REDIS_URL = "redis://127.0.0.1:6379/0"


def with_auth(settings: Settings, tmp_path: Path, redis_url: str) -> Settings:
    key = ECKey.generate_key("P-384", parameters={"kid": "k1"})
    issuers = tmp_path / "issuers.json"
    pinned = {"keys": [key.as_dict(private=False)]}
    issuers.write_text(json.dumps({"https://ehr.example.org": {"jwks": pinned}}))
    return settings.model_copy(
        update={"cds_trusted_issuers_file": str(issuers), "redis_url": redis_url}
    )


def test_ready_names_the_database_and_the_recorder(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "recorder"}
    assert body["checks"]["database"]["status"] == "ok"
    recorder = body["checks"]["recorder"]
    assert (recorder["status"], recorder["journal_cards"], recorder["lost_cards"]) == ("ok", 0, 0)


def test_redis_is_checked_when_the_replay_cache_is_there(
    settings: Settings, tmp_path: Path
) -> None:
    with TestClient(create_app(with_auth(settings, tmp_path, REDIS_URL))) as client:
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["redis"]["status"] == "ok"


def test_redis_down_makes_the_service_unready_and_says_why(
    settings: Settings, tmp_path: Path
) -> None:
    down = with_auth(settings, tmp_path, "redis://127.0.0.1:1/0")
    with TestClient(create_app(down)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    issues = response.json()["issue"]
    assert issues[0]["severity"] == "error"
    assert issues[0]["diagnostics"].startswith("redis: unreachable (")
    assert issues[0]["diagnostics"].endswith("client JWTs are refused")
    # The dependencies that are fine are named too.
    assert [i["diagnostics"].split(":")[0] for i in issues[1:]] == ["database", "recorder"]
    assert {i["severity"] for i in issues[1:]} == {"information"}
