"""The FHIR client's connection pool: when it is exhausted a call fails at once with a 412
that says so, instead of queueing past its deadline; every outcome is counted."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any

import httpx

from cds.settings import Settings
from tests.card_records import metric, serving, wait_until_async
from tests.conftest import load_example
from tests.held_fhir_server import HeldFhirServer

HOOK = "/cds-services/phantom-limb-pain-patient-view"


def without_conditions(server: str) -> dict[str, Any]:
    request = copy.deepcopy(load_example("patient-view.json"))
    del request["prefetch"]["conditions"]
    request["fhirServer"] = server
    request["fhirAuthorization"] = {"access_token": "t0k3n", "token_type": "Bearer"}
    return request


def conditions() -> dict[str, Any]:
    bundle: dict[str, Any] = load_example("patient-view.json")["prefetch"]["conditions"]
    return bundle


def settings(server: HeldFhirServer, tmp_path: Path, **limits: Any) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'cds.db'}",
        cds_state_dir=str(tmp_path / "state"),
        cds_fhir_allowlist=server.base,
        cds_fhir_pool_timeout_s=0.05,
        **limits,
    )


def outcome(name: str) -> float:
    return metric("cds_fhir_fallback_calls_total", outcome=name)


async def exhausted_while_held(
    server: HeldFhirServer, client: httpx.AsyncClient
) -> tuple[httpx.Response, asyncio.Task[httpx.Response]]:
    """One call takes the only connection and is held by the server; a second call then."""
    request = without_conditions(server.base)
    held = asyncio.create_task(client.post(HOOK, json=request))
    await wait_until_async(lambda: server.waiting == 1, "the first call at the FHIR server")
    refused = await client.post(HOOK, json=request)
    # Answered while the first call is still waiting: the second did not queue behind it.
    assert not held.done()
    return refused, held


async def test_an_exhausted_pool_fails_fast_with_a_412_that_says_so(tmp_path: Path) -> None:
    with HeldFhirServer(conditions()) as server:
        async with serving(settings(server, tmp_path, cds_fhir_max_connections=1)) as (_, client):
            exhausted, ok = outcome("pool_exhausted"), outcome("ok")
            refused, held = await exhausted_while_held(server, client)

            assert refused.status_code == 412
            [issue] = refused.json()["issue"]
            assert issue["code"] == "throttled"
            assert issue["expression"] == ["prefetch.conditions"]
            assert "no free connection to the FHIR server within 0.05 s" in issue["diagnostics"]
            assert (
                "all 1 connections to FHIR servers are busy (CDS_FHIR_MAX_CONNECTIONS)"
                in (issue["diagnostics"])
            )
            assert outcome("pool_exhausted") == exhausted + 1

            server.release()
            assert (await held).status_code == 200
            assert outcome("ok") == ok + 1


async def test_the_per_server_limit_keeps_one_server_from_taking_the_pool(
    tmp_path: Path,
) -> None:
    limits = {"cds_fhir_max_connections": 10, "cds_fhir_max_connections_per_host": 1}
    with HeldFhirServer(conditions()) as server:
        async with serving(settings(server, tmp_path, **limits)) as (_, client):
            refused, held = await exhausted_while_held(server, client)
            assert refused.status_code == 412
            assert "all 1 connections allowed to this FHIR server are busy" in refused.text
            assert "CDS_FHIR_MAX_CONNECTIONS_PER_HOST" in refused.text
            server.release()
            assert (await held).status_code == 200


async def test_a_call_cut_by_the_deadline_is_counted_as_a_timeout(tmp_path: Path) -> None:
    with HeldFhirServer(conditions()) as server:
        async with serving(settings(server, tmp_path, cds_fhir_timeout_s=0.3)) as (_, client):
            timeouts = outcome("timeout")
            response = await client.post(HOOK, json=without_conditions(server.base))
            assert response.status_code == 412
            assert response.json()["issue"][0]["code"] == "timeout"
            assert outcome("timeout") == timeouts + 1
