"""Client JWT verification (CDS Hooks §7) with keys generated here and the EHR's JWKS
endpoints mocked at the HTTP boundary."""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import respx
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import ECKey, Key, OctKey, RSAKey
from prometheus_client import REGISTRY

from cds.app import create_app
from cds.security.replay import MemoryReplayStore
from cds.security.trusted_issuers import StartupError, load_trusted_issuers
from cds.settings import Settings
from tests.conftest import load_example

BASE = "https://cds.example.org"
HOOK = "/cds-services/phantom-limb-pain-patient-view"
FEEDBACK = "/cds-services/phantom-limb-pain-patient-view/feedback"
EHR = "https://ehr.example.org"
JWKS_URL = f"{EHR}/.well-known/jwks.json"
ALT_JWKS_URL = f"{EHR}/keys/alt.json"
UNLISTED_JKU = f"{EHR}/keys/unlisted.json"
EVIL = "https://evil.example.net"
STATIC_ISS = "https://static-ehr.example.net"
# A self-hosted EHR behind a firewall: its tokens name this jku, which is never reachable.
STATIC_JKU = "https://static-ehr.example.net/.well-known/jwks.json"
REDIS_URL = "redis://127.0.0.1:6379/0"
UNAUTHORIZED = {
    "resourceType": "OperationOutcome",
    "issue": [{"severity": "error", "code": "login", "diagnostics": "authentication failed"}],
}


def ec_key(kid: str) -> ECKey:
    return ECKey.generate_key("P-384", parameters={"kid": kid})


def rsa_key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid})


def public_set(*keys: Key) -> dict[str, Any]:
    return {"keys": [key.as_dict(private=False) for key in keys]}


EC_KID = "ehr-ec-1"
EC = ec_key(EC_KID)
EC_ROTATED = ec_key("ehr-ec-2")
EC_ALT = ec_key("ehr-alt-1")
RSA = rsa_key("static-rsa-1")


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    values: dict[str, Any] = {
        "iss": EHR,
        "aud": BASE + HOOK,
        "exp": now + 300,
        "iat": now,
        "jti": str(uuid.uuid4()),
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def token(
    key: Key = EC, alg: str = "ES384", header: dict[str, Any] | None = None, **claim_values: Any
) -> str:
    headers = {"alg": alg, "kid": key.kid, "typ": "JWT", **(header or {})}
    headers = {k: v for k, v in headers.items() if v is not None}
    return jwt.encode(headers, claims(**claim_values), key, algorithms=[alg])


def b64(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def unsigned_token(**claim_values: Any) -> str:
    return f"{b64({'alg': 'none', 'kid': EC_KID, 'typ': 'JWT'})}.{b64(claims(**claim_values))}."


@pytest.fixture
def issuers_file(tmp_path: Path) -> Path:
    path = tmp_path / "trusted-issuers.json"
    path.write_text(
        json.dumps(
            {
                EHR: {"jwks_url": JWKS_URL, "jku": [ALT_JWKS_URL]},
                STATIC_ISS: {"jwks": public_set(RSA), "jku": [STATIC_JKU]},
            }
        )
    )
    return path


@pytest.fixture
def settings(issuers_file: Path) -> Settings:
    return Settings(
        cds_trusted_issuers_file=str(issuers_file), cds_public_base_url=BASE, cds_jwt_leeway_s=60
    )


@pytest.fixture
def ehr() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        router.get(JWKS_URL, name="jwks").respond(json=public_set(EC))
        router.get(ALT_JWKS_URL, name="alt").respond(json=public_set(EC_ALT))
        router.get(UNLISTED_JKU, name="unlisted").respond(json=public_set(EC_ALT))
        yield router


@pytest.fixture
def example() -> dict[str, Any]:
    return load_example("patient-view.json")


def call(
    client: TestClient, example: dict[str, Any], jwt_text: str | None, path: str = HOOK
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {jwt_text}"} if jwt_text is not None else {}
    return client.post(path, json=example, headers=headers)


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED
    assert response.headers["www-authenticate"] == "Bearer"


# -- accepted -----------------------------------------------------------------------------


def test_es384_from_the_issuers_jwks_url(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any]
) -> None:
    first = call(client, example, token())
    second = call(client, example, token())

    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json()["cards"]
    assert ehr["jwks"].call_count == 1, "the JWK Set is cached"


def test_rs384_from_an_inline_jwks(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any]
) -> None:
    response = call(client, example, token(RSA, "RS384", iss=STATIC_ISS))

    assert response.status_code == 200
    assert not ehr.calls


def test_unknown_claims_and_an_aud_list_are_accepted(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any]
) -> None:
    now = int(time.time())
    jwt_text = token(
        aud=[f"{BASE}/cds-services/other", BASE + HOOK],
        sub="epic-client-id",
        nbf=now - 300,
        tenant="hospital-1",
        custom={"anything": [1, 2]},
    )
    assert call(client, example, jwt_text).status_code == 200


def test_listed_jku_is_honoured(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any]
) -> None:
    jwt_text = token(EC_ALT, header={"jku": ALT_JWKS_URL})

    assert call(client, example, jwt_text).status_code == 200
    assert ehr["alt"].call_count == 1
    assert not ehr["jwks"].called


def test_the_issuers_own_jwks_url_is_an_allowed_jku(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any]
) -> None:
    assert call(client, example, token(header={"jku": JWKS_URL})).status_code == 200
    assert ehr["jwks"].call_count == 1


def test_a_pinned_key_set_verifies_with_no_network(
    client: TestClient, example: dict[str, Any]
) -> None:
    jwt_text = token(RSA, "RS384", header={"jku": STATIC_JKU}, iss=STATIC_ISS)

    # Any outbound request would fail the mock: nothing is fetched, the jku included.
    with respx.mock(assert_all_mocked=True) as network:
        response = call(client, example, jwt_text)

    assert response.status_code == 200
    assert not network.calls


def test_a_pinned_issuer_refuses_a_jku_it_does_not_list(
    client: TestClient, example: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    jwt_text = token(RSA, "RS384", header={"jku": f"{EVIL}/jwks.json"}, iss=STATIC_ISS)

    with respx.mock(assert_all_mocked=True) as network, caplog.at_level(logging.WARNING):
        assert_refused(call(client, example, jwt_text))

    assert not network.calls
    assert "jku is not on the issuer's list" in caplog.text


def test_expiry_within_the_leeway_is_accepted(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any]
) -> None:
    now = int(time.time())
    assert call(client, example, token(exp=now - 30, iat=now + 30)).status_code == 200


def test_rotation_on_an_unknown_kid_refetches_once(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any]
) -> None:
    ehr["jwks"].side_effect = [
        respx.MockResponse(200, json=public_set(EC)),
        respx.MockResponse(200, json=public_set(EC, EC_ROTATED)),
    ]
    assert call(client, example, token(EC)).status_code == 200

    response = call(client, example, token(EC_ROTATED))

    assert response.status_code == 200
    assert ehr["jwks"].call_count == 2


# -- each rule failing alone --------------------------------------------------------------


def hs256_token() -> str:
    secret = OctKey.generate_key(256, parameters={"kid": EC_KID})
    return jwt.encode(
        {"alg": "HS256", "kid": EC_KID, "typ": "JWT"}, claims(), secret, algorithms=["HS256"]
    )


def p256_key() -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": EC_KID})


# Each token breaks exactly one rule; the logged reason shows it was refused for that rule.
REFUSED: dict[str, tuple[Any, str | tuple[str, ...]]] = {
    "alg none": (lambda: unsigned_token(), "alg 'none'"),
    "alg HS256": (hs256_token, "alg 'HS256'"),
    "alg ES256": (lambda: token(p256_key(), "ES256"), "alg 'ES256'"),
    "alg RS256": (lambda: token(RSA, "RS256", iss=STATIC_ISS), "alg 'RS256'"),
    "no kid": (lambda: token(header={"kid": None}), "no kid"),
    "unknown kid": (lambda: token(ec_key("nobody-has-this")), "no key with kid 'nobody-has-this'"),
    "other key, same kid": (lambda: token(ec_key(EC_KID)), "signature not verified"),
    "typ not JWT": (lambda: token(header={"typ": "at+jwt"}), "typ 'at+jwt'"),
    "aud another service": (lambda: token(aud=f"{BASE}/cds-services/other"), "'aud'"),
    "aud another base": (lambda: token(aud=f"https://cds.example.net{HOOK}"), "'aud'"),
    "aud missing": (lambda: token(aud=None), "Missing claim: 'aud'"),
    "expired": (lambda: token(exp=int(time.time()) - 120), "expired"),
    "exp missing": (lambda: token(exp=None), "Missing claim: 'exp'"),
    "exp far future": (lambda: token(exp=int(time.time()) + 400 * 24 * 3600), "exp is too far"),
    "iat in the future": (lambda: token(iat=int(time.time()) + 120), "issued in the future"),
    "iat missing": (lambda: token(iat=None), "Missing claim: 'iat'"),
    "jti missing": (lambda: token(jti=None), "Missing claim: 'jti'"),
    # joserfc 1.8 checks the type itself; older releases leave it to our own check.
    "jti not a string": (
        lambda: token(jti=12345),
        ("jti is not a short string", "'jti' must be a string"),
    ),
    "untrusted iss": (lambda: token(iss="https://stranger.example.com"), "not a trusted issuer"),
    "iss missing": (lambda: token(iss=None), "not a trusted issuer"),
    "jku not listed": (
        lambda: token(EC_ALT, header={"jku": UNLISTED_JKU}),
        "jku is not on the issuer's list",
    ),
    "issuer key, other issuer": (lambda: token(RSA, "RS384"), "no key with kid 'static-rsa-1'"),
    "another issuer's jku": (
        lambda: token(EC_ALT, header={"jku": STATIC_JKU}),
        "jku is not on the issuer's list",
    ),
    "garbage": (lambda: "not.a.jwt", "not base64url JSON"),
    "two parts": (lambda: "abc.def", "not a JWS compact serialization"),
}


@pytest.mark.parametrize(("make", "reason"), REFUSED.values(), ids=REFUSED.keys())
def test_each_rule_refuses_alone(
    client: TestClient,
    ehr: respx.MockRouter,
    example: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    make: Any,
    reason: str | tuple[str, ...],
) -> None:
    with caplog.at_level(logging.WARNING, logger="cds.security.auth"):
        assert_refused(call(client, example, make()))
    alternatives = (reason,) if isinstance(reason, str) else reason
    assert any(text in caplog.text for text in alternatives), caplog.text
    assert not ehr["unlisted"].called, "a jku that is not listed is never fetched"


def test_replayed_jti_is_refused(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any]
) -> None:
    jwt_text = token()
    assert call(client, example, jwt_text).status_code == 200
    assert_refused(call(client, example, jwt_text))


@pytest.mark.parametrize(
    "authorization", ["", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc"]
)
def test_malformed_authorization_is_refused(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any], authorization: str
) -> None:
    response = client.post(HOOK, json=example, headers={"Authorization": authorization})
    assert_refused(response)


@pytest.mark.parametrize(
    "authorization",
    ["Bearer t\u00f6ken.\u00e9.x".encode(), b"Bearer \xff\xfe.\x80.\x81", b"Bearer a.b.c d"],
)
def test_a_token_that_is_not_ascii_is_refused_not_a_500(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any], authorization: bytes
) -> None:
    assert_refused(client.post(HOOK, json=example, headers={"Authorization": authorization}))


@pytest.mark.parametrize(
    "header",
    [{"kid": "k" * 9000}, {"typ": "t" * 9000}],
    ids=["kid", "typ"],
)
def test_oversized_header_values_are_logged_cut_short(
    client: TestClient,
    ehr: respx.MockRouter,
    example: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    header: dict[str, Any],
) -> None:
    with caplog.at_level(logging.WARNING, logger="cds.security.auth"):
        assert_refused(call(client, example, token(header=header)))
    [record] = [r for r in caplog.records if r.name == "cds.security.auth"]
    assert len(record.getMessage()) < 600


def test_missing_authorization_is_refused(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any]
) -> None:
    assert_refused(call(client, example, None))


def test_jwks_endpoint_down_is_refused(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any]
) -> None:
    ehr["jwks"].respond(503)
    assert_refused(call(client, example, token()))


# -- what is protected --------------------------------------------------------------------


def test_feedback_path_is_protected_too(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any]
) -> None:
    assert_refused(client.post(FEEDBACK, json={"feedback": []}))
    audience = BASE + FEEDBACK
    response = client.post(
        FEEDBACK, json={"feedback": []}, headers={"Authorization": f"Bearer {token(aud=audience)}"}
    )
    assert response.status_code != 401


def test_token_for_the_hook_is_refused_on_feedback(
    client: TestClient, ehr: respx.MockRouter
) -> None:
    response = client.post(
        FEEDBACK, json={"feedback": []}, headers={"Authorization": f"Bearer {token()}"}
    )
    assert_refused(response)


def test_discovery_stays_open(client: TestClient, ehr: respx.MockRouter) -> None:
    assert client.get("/cds-services").status_code == 200


# -- logging ------------------------------------------------------------------------------


def test_logs_name_iss_and_jti_never_the_token(
    client: TestClient,
    ehr: respx.MockRouter,
    example: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    jti = str(uuid.uuid4())
    accepted = token(jti=jti)
    refused = token(aud=f"{BASE}/elsewhere")

    call(client, example, accepted)
    call(client, example, accepted)
    call(client, example, refused)

    assert jti in caplog.text
    assert EHR in caplog.text
    for jwt_text in (accepted, refused):
        assert jwt_text not in caplog.text
        assert jwt_text.split(".")[2] not in caplog.text


# -- start-up -----------------------------------------------------------------------------


def test_no_issuers_runs_open_and_says_so(
    caplog: pytest.LogCaptureFixture, example: dict[str, Any]
) -> None:
    with caplog.at_level(logging.WARNING):
        app = create_app(Settings())
    assert "NO CLIENT AUTHENTICATION" in caplog.text
    with TestClient(app) as client:
        assert client.post(HOOK, json=example).status_code == 200


def test_require_auth_without_issuers_refuses_to_start() -> None:
    with pytest.raises(StartupError, match="CDS_REQUIRE_AUTH=true but no trusted issuers"):
        create_app(Settings(cds_require_auth=True))


def test_require_auth_with_issuers_starts(settings: Settings) -> None:
    create_app(settings.model_copy(update={"cds_require_auth": True}))


def test_the_readmes_sandbox_entry_is_a_valid_issuers_file(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("## Try it with the CDS Hooks sandbox", 1)[1]
    entry = section.split("```json", 1)[1].split("```", 1)[0]
    path = tmp_path / "sandbox-issuers.json"
    path.write_text(entry)

    [sandbox] = load_trusted_issuers(str(path)).values()

    assert sandbox.iss == "https://sandbox.cds-hooks.org"
    assert sandbox.allows_jku("https://sandbox.cds-hooks.org/.well-known/jwks.json")
    assert not sandbox.allows_jku("https://sandbox.cds-hooks.org/other.json")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid"),
        (json.dumps({EHR: {}}), "exactly one of 'jwks_url' or 'jwks'"),
        (
            json.dumps({EHR: {"jwks_url": JWKS_URL, "jwks": public_set(EC)}}),
            "exactly one of 'jwks_url' or 'jwks'",
        ),
        (json.dumps({EHR: {"jwks": {"keys": []}}}), "unusable JWK Set"),
        (json.dumps({EHR: {"jwks": {"keys": [EC.as_dict(private=True)]}}}), "private key"),
        (json.dumps({EHR: {"jwks_url": "file:///etc/passwd"}}), "is not valid"),
    ],
)
def test_bad_issuers_file_refuses_to_start(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "issuers.json"
    path.write_text(content)
    with pytest.raises(StartupError, match=message):
        load_trusted_issuers(str(path))


def test_missing_issuers_file_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(StartupError, match="cannot be read"):
        create_app(Settings(cds_trusted_issuers_file=str(tmp_path / "absent.json")))


# -- replay stores ------------------------------------------------------------------------


async def test_memory_replay_store_forgets_after_the_ttl() -> None:
    now = [1000.0]
    store = MemoryReplayStore(clock=lambda: now[0])
    assert await store.first_use("a", 60)
    assert not await store.first_use("a", 60)
    now[0] += 61
    assert await store.first_use("a", 60)


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    prefix = f"plp-cds-test-{uuid.uuid4()}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)
    client.close()


def test_replay_is_shared_between_replicas_through_redis(
    settings: Settings, ehr: respx.MockRouter, example: dict[str, Any], redis_prefix: str
) -> None:
    shared = settings.model_copy(update={"redis_url": REDIS_URL, "cds_redis_prefix": redis_prefix})
    jwt_text = token()
    with TestClient(create_app(shared)) as replica_a, TestClient(create_app(shared)) as replica_b:
        assert call(replica_a, example, jwt_text).status_code == 200
        assert_refused(call(replica_b, example, jwt_text))
        assert_refused(call(replica_a, example, jwt_text))
        assert call(replica_b, example, token()).status_code == 200

    stored = list(redis.Redis.from_url(REDIS_URL).scan_iter(match=f"{redis_prefix}jti:*"))
    assert len(stored) == 2
    ttl = redis.Redis.from_url(REDIS_URL).ttl(stored[0])
    assert 0 < ttl <= 300 + 60


def test_redis_down_fails_closed(
    settings: Settings, ehr: respx.MockRouter, example: dict[str, Any]
) -> None:
    down = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    with TestClient(create_app(down)) as client:
        assert_refused(call(client, example, token()))


# -- refusals are counted by reason ---------------------------------------------------------

COUNTED_AS = {
    "alg none": "algorithm",
    "no kid": "header",
    "typ not JWT": "header",
    "unknown kid": "unknown_key",
    "other key, same kid": "bad_signature",
    "expired": "invalid_claims",
    "exp far future": "invalid_claims",
    "untrusted iss": "untrusted_issuer",
    "jku not listed": "jku_not_allowed",
    "garbage": "malformed_token",
    "two parts": "malformed_token",
}


def refusals(reason: str) -> float:
    return REGISTRY.get_sample_value("cds_auth_failures_total", {"reason": reason}) or 0.0


@pytest.mark.parametrize(("case", "reason"), COUNTED_AS.items(), ids=COUNTED_AS.keys())
def test_each_refusal_is_counted_under_its_reason(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any], case: str, reason: str
) -> None:
    make, _ = REFUSED[case]
    before = refusals(reason)
    assert_refused(call(client, example, make()))
    assert refusals(reason) == before + 1


def test_missing_replayed_and_unverifiable_tokens_are_counted(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any]
) -> None:
    before = {r: refusals(r) for r in ("missing_token", "replay", "jwks_unavailable")}
    assert_refused(call(client, example, None))
    jwt_text = token()
    assert call(client, example, jwt_text).status_code == 200
    assert_refused(call(client, example, jwt_text))
    ehr["jwks"].respond(503)
    assert_refused(call(client, example, token(ec_key("rotated-away"))))
    assert {r: refusals(r) - n for r, n in before.items()} == {
        "missing_token": 1,
        "replay": 1,
        "jwks_unavailable": 1,
    }


def test_a_replay_store_that_is_down_is_counted(
    settings: Settings, ehr: respx.MockRouter, example: dict[str, Any]
) -> None:
    before = refusals("replay_store_unavailable")
    down = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    with TestClient(create_app(down)) as client:
        assert_refused(call(client, example, token()))
    assert refusals("replay_store_unavailable") == before + 1
