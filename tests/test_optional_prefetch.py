"""The optional prefetch keys `allergies` and `painScores` (issue 12, GUIDELINE §3): never a
412, read from the EHR's FHIR server (mocked at the HTTP boundary with respx) when prefetch
lacks them and the server may be used, paged prefetch handled as for the required keys,
pain scores read only as far as the newest ones, and data that cannot be had reported as
unavailable rather than as empty."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from fastapi.testclient import TestClient

from cds.api.hooks import read_patient
from cds.api.models import HookRequest
from cds.api.services import PAIN_SCORES_READ, SERVICES
from cds.app import create_app
from cds.fhir.client import FhirServerFallback
from cds.fhir.patient_data import prefetch_only
from cds.settings import Settings
from facts.patient import PatientFacts
from fhir_mappings.resources import ResourceSet
from tests.conftest import load_example
from tests.fhir import fhir_authorization

FHIR = "https://fhir.example.org/r4"
TOKEN = "optional-keys-token-51c2"
PATIENT = "pat-plp-1"
PATIENT_VIEW = "phantom-limb-pain-patient-view"
ORDER_SIGN = "phantom-limb-pain-order-sign"
LOINC = "http://loinc.org"
NEWEST = date(2026, 11, 20)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        cds_fhir_allowlist=f"{FHIR}/",
        cds_fhir_timeout_s=2.0,
        cds_fhir_max_pages=5,
        cds_fhir_retries=0,
        database_url=f"sqlite:///{tmp_path / 'cds.db'}",
    )


@pytest.fixture
def ehr() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        yield router


@pytest.fixture
async def fallback(settings: Settings) -> AsyncIterator[FhirServerFallback]:
    async with httpx.AsyncClient(follow_redirects=False) as http:
        yield FhirServerFallback.from_settings(http, settings)


# -- builders -------------------------------------------------------------------------------


def searchset(entries: list[dict[str, Any]], next_url: str | None = None) -> dict[str, Any]:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r} for r in entries],
    }
    if next_url:
        bundle["link"] = [{"relation": "next", "url": next_url}]
    return bundle


def score(n: int, value: int = 5) -> dict[str, Any]:
    """The n-th most recent score: one a day, back from NEWEST."""
    return {
        "resourceType": "Observation",
        "id": f"score-{n}",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "survey",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": LOINC, "code": "72514-3"}]},
        "subject": {"reference": f"Patient/{PATIENT}"},
        "effectiveDateTime": (NEWEST - timedelta(days=n)).isoformat(),
        "valueInteger": value,
    }


def scores(first: int, count: int) -> list[dict[str, Any]]:
    return [score(n) for n in range(first, first + count)]


def allergy(id: str, text: str) -> dict[str, Any]:
    return {
        "resourceType": "AllergyIntolerance",
        "id": id,
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                    "code": "active",
                }
            ]
        },
        "code": {"text": text},
        "patient": {"reference": f"Patient/{PATIENT}"},
    }


def request(
    *drop: str, server: bool = True, token: bool = True, hook: str = "patient-view", **extra: Any
) -> dict[str, Any]:
    name = "patient-view.json" if hook == "patient-view" else "order-sign.json"
    body = copy.deepcopy(load_example(name))
    body["context"]["patientId"] = PATIENT
    for key in drop:
        body["prefetch"].pop(key, None)
    body["prefetch"].update(extra)
    if server:
        body["fhirServer"] = FHIR
    if token:
        body["fhirAuthorization"] = fhir_authorization(TOKEN)
    return body


def allergies_route(ehr: respx.MockRouter) -> respx.Route:
    return ehr.get(f"{FHIR}/AllergyIntolerance", params={"patient": PATIENT})


def scores_route(ehr: respx.MockRouter) -> respx.Route:
    return ehr.get(
        f"{FHIR}/Observation",
        params={
            "patient": PATIENT,
            "code": f"{LOINC}|72514-3,{LOINC}|38208-5,{LOINC}|38214-3",
            "_sort": "-date",
            "_count": str(PAIN_SCORES_READ),
        },
    )


async def read(
    body: dict[str, Any], fallback: Any, service: str = PATIENT_VIEW
) -> tuple[ResourceSet, PatientFacts]:
    async def no_resolution(request: HookRequest, record: ResourceSet) -> None:
        return None

    return await read_patient(
        SERVICES[service], HookRequest.model_validate(body), fallback, no_resolution
    )


def post(client: TestClient, body: dict[str, Any], service: str = PATIENT_VIEW) -> httpx.Response:
    return client.post(f"/cds-services/{service}", json=body)


# -- prefetched --------------------------------------------------------------------------------


async def test_prefetched_keys_are_used_and_nothing_is_fetched(
    ehr: respx.MockRouter, fallback: FhirServerFallback
) -> None:
    anything = ehr.route().respond(500)
    body = request(
        allergies=searchset([allergy("a1", "duloxetine")]),
        painScores=searchset([score(3, 6), score(0, 2)]),
    )

    record, facts = await read(body, fallback)

    assert not anything.called
    assert [a["id"] for a in record.allergies] == ["a1"]
    assert facts.allergies_available
    assert facts.pain_scores is not None
    assert [s.value for s in facts.pain_scores] == [2.0, 6.0]


async def test_null_is_no_data_and_is_not_fetched(
    ehr: respx.MockRouter, fallback: FhirServerFallback
) -> None:
    anything = ehr.route().respond(500)

    _, facts = await read(request(allergies=None, painScores=None), fallback)

    assert not anything.called
    assert facts.pain_scores == ()
    assert facts.allergies_available


# -- absent: fetched when the server may be used, else unavailable, never a 412 -------------


async def test_absent_keys_are_fetched_with_the_bearer_token(
    ehr: respx.MockRouter, fallback: FhirServerFallback
) -> None:
    allergies = allergies_route(ehr).respond(json=searchset([allergy("a1", "amitriptyline")]))
    pain = scores_route(ehr).respond(json=searchset([score(0, 4)]))

    record, facts = await read(request("allergies", "painScores"), fallback)

    assert allergies.call_count == 1 and pain.call_count == 1
    for call in ehr.calls:
        assert call.request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert [a["id"] for a in record.allergies] == ["a1"]
    assert facts.allergies_available
    assert facts.pain_scores is not None and [s.value for s in facts.pain_scores] == [4.0]


@pytest.mark.parametrize(
    ("server", "token"),
    [(False, False), (True, False), (False, True)],
    ids=["no server", "no token", "no server but a token"],
)
async def test_absent_keys_without_a_usable_server_are_unavailable(
    ehr: respx.MockRouter, fallback: FhirServerFallback, server: bool, token: bool
) -> None:
    _, facts = await read(request("allergies", "painScores", server=server, token=token), fallback)

    assert not ehr.calls
    assert facts.in_scope
    assert facts.pain_scores is None
    assert not facts.allergies_available


async def test_a_server_off_the_allowlist_is_not_contacted(ehr: respx.MockRouter) -> None:
    async with httpx.AsyncClient() as http:
        fallback = FhirServerFallback.from_settings(http, Settings(cds_fhir_allowlist=""))
        _, facts = await read(request("allergies", "painScores"), fallback)

    assert not ehr.calls
    assert facts.pain_scores is None and not facts.allergies_available


async def test_prefetch_only_leaves_them_unavailable(ehr: respx.MockRouter) -> None:
    _, facts = await read(request("allergies", "painScores"), prefetch_only)

    assert not ehr.calls
    assert facts.pain_scores is None and not facts.allergies_available


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(500),
        httpx.Response(404, json={"resourceType": "OperationOutcome", "issue": []}),
        httpx.Response(200, json={"resourceType": "Patient", "id": "not-a-bundle"}),
        httpx.ConnectError("refused"),
    ],
    ids=["5xx", "404", "not a bundle", "no connection"],
)
async def test_a_failed_fetch_leaves_them_unavailable(
    ehr: respx.MockRouter, fallback: FhirServerFallback, failure: Any
) -> None:
    allergies_route(ehr).mock(side_effect=[failure])
    scores_route(ehr).mock(side_effect=[failure])

    _, facts = await read(request("allergies", "painScores"), fallback)

    assert facts.in_scope
    assert facts.pain_scores is None
    assert not facts.allergies_available


async def test_one_failing_key_does_not_lose_the_other(
    ehr: respx.MockRouter, fallback: FhirServerFallback
) -> None:
    allergies_route(ehr).respond(500)
    scores_route(ehr).respond(json=searchset([score(0, 7)]))

    _, facts = await read(request("allergies", "painScores"), fallback)

    assert not facts.allergies_available
    assert facts.pain_scores is not None and [s.value for s in facts.pain_scores] == [7.0]


async def test_an_operation_outcome_is_fetched_again(
    ehr: respx.MockRouter, fallback: FhirServerFallback
) -> None:
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error"}]}
    scores = scores_route(ehr).respond(json=searchset([score(0)]))

    _, facts = await read(request(painScores=outcome), fallback)

    assert scores.call_count == 1
    assert facts.pain_scores is not None and len(facts.pain_scores) == 1


# -- over HTTP: the hook answers, and a required key still decides the 412 -----------------------


def test_absent_optional_keys_never_cause_a_412(client: TestClient, ehr: respx.MockRouter) -> None:
    response = post(client, request("allergies", "painScores", server=False, token=False))

    assert response.status_code == 200
    [card] = response.json()["cards"]
    assert card["summary"].startswith("Phantom limb pain, step 1")
    assert not ehr.calls


def test_the_hook_answers_when_the_optional_fetches_fail(
    client: TestClient, ehr: respx.MockRouter
) -> None:
    allergies_route(ehr).respond(503)
    scores_route(ehr).respond(403)

    response = post(client, request("allergies", "painScores"))

    assert response.status_code == 200
    assert len(response.json()["cards"]) == 1


def test_a_missing_required_key_is_a_412_naming_only_it(
    client: TestClient, ehr: respx.MockRouter
) -> None:
    response = post(client, request("conditions", "allergies", "painScores", token=False))

    assert response.status_code == 412
    [issue] = response.json()["issue"]
    assert issue["expression"] == ["prefetch.conditions"]
    assert "allergies" not in issue["diagnostics"] and "painScores" not in issue["diagnostics"]
    assert not ehr.calls


def test_a_failing_required_fetch_is_a_412_while_the_optional_ones_are_fetched(
    client: TestClient, ehr: respx.MockRouter
) -> None:
    ehr.get(f"{FHIR}/Condition", params={"patient": PATIENT}).respond(500)
    allergies_route(ehr).respond(json=searchset([]))
    scores_route(ehr).respond(json=searchset([]))

    response = post(client, request("conditions", "allergies", "painScores"))

    assert response.status_code == 412
    assert [i["expression"] for i in response.json()["issue"]] == [["prefetch.conditions"]]


def test_order_hooks_read_allergies_but_not_pain_scores(
    client: TestClient, ehr: respx.MockRouter
) -> None:
    allergies = allergies_route(ehr).respond(json=searchset([]))
    observations = ehr.route(url__startswith=f"{FHIR}/Observation").respond(json=searchset([]))

    response = post(client, request("allergies", hook="order-sign"), ORDER_SIGN)

    assert response.status_code == 200
    assert allergies.call_count == 1
    assert not observations.called


async def test_order_hooks_have_no_pain_scores(
    ehr: respx.MockRouter, fallback: FhirServerFallback
) -> None:
    _, facts = await read(request(hook="order-sign"), fallback, ORDER_SIGN)

    assert facts.pain_scores is None
    assert facts.allergies_available


# -- paged allergies: the whole search, as for the required keys ---------------------------------


PAGE_2 = f"{FHIR}/AllergyIntolerance?patient={PATIENT}&_page=2"


def paged_allergies() -> dict[str, Any]:
    return searchset([allergy("a1", "duloxetine")], next_url=PAGE_2)


async def test_paged_allergies_are_read_to_the_last_page(
    ehr: respx.MockRouter, fallback: FhirServerFallback
) -> None:
    page_2 = ehr.get(f"{FHIR}/AllergyIntolerance", params={"_page": "2"}).respond(
        json=searchset([allergy("a2", "nortriptyline")])
    )
    first_page = allergies_route(ehr).respond(500)

    record, facts = await read(request(allergies=paged_allergies()), fallback)

    assert page_2.call_count == 1
    assert page_2.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert not first_page.called
    assert [a["id"] for a in record.allergies] == ["a1", "a2"]
    assert facts.allergies_available


async def test_paged_allergies_without_a_token_are_unavailable_not_page_one(
    ehr: respx.MockRouter, fallback: FhirServerFallback
) -> None:
    record, facts = await read(request(allergies=paged_allergies(), token=False), fallback)

    assert not ehr.calls
    # Part of the allergies is not the allergies: page one is not used either.
    assert record.allergies == []
    assert not facts.allergies_available


def test_paged_allergies_without_a_token_are_not_a_412(
    client: TestClient, ehr: respx.MockRouter
) -> None:
    response = post(client, request(allergies=paged_allergies(), token=False))

    assert response.status_code == 200
    assert not ehr.calls


async def test_allergies_whose_total_exceeds_their_entries_are_searched_again(
    ehr: respx.MockRouter, fallback: FhirServerFallback
) -> None:
    whole = allergies_route(ehr).respond(
        json=searchset([allergy("a1", "duloxetine"), allergy("a2", "pregabalin")]) | {"total": 2}
    )
    partial = searchset([allergy("a1", "duloxetine")]) | {"total": 2}

    record, _ = await read(request(allergies=partial), fallback)

    assert whole.call_count == 1
    assert sorted(a["id"] for a in record.allergies) == ["a1", "a2"]


# -- pain scores: the newest ones only ------------------------------------------------------------


SCORES_PAGE_2 = f"{FHIR}/Observation?patient={PATIENT}&_getpages=xyz&_page=2"
SCORES_PAGE_3 = f"{FHIR}/Observation?patient={PATIENT}&_getpages=xyz&_page=3"


def page_route(ehr: respx.MockRouter, page: int) -> respx.Route:
    return ehr.get(f"{FHIR}/Observation", params={"_getpages": "xyz", "_page": str(page)})


async def test_a_full_first_page_of_scores_is_enough(
    ehr: respx.MockRouter, fallback: FhirServerFallback
) -> None:
    anything = ehr.route().respond(500)
    first = searchset(scores(0, PAIN_SCORES_READ), next_url=SCORES_PAGE_2) | {"total": 900}

    _, facts = await read(request(painScores=first), fallback)

    # Years of older scores lie behind the next link; the newest 20 are all here.
    assert not anything.called
    assert facts.pain_scores is not None and len(facts.pain_scores) == PAIN_SCORES_READ


async def test_a_short_first_page_is_read_on_until_the_newest_are_in_hand(
    ehr: respx.MockRouter, fallback: FhirServerFallback
) -> None:
    # A server whose pages hold 8: pages 2 and 3 make 24 ≥ 20; page 4 is never asked for.
    page_2 = page_route(ehr, 2).respond(
        json=searchset(scores(8, 8), next_url=SCORES_PAGE_3) | {"total": 500}
    )
    page_3 = page_route(ehr, 3).respond(
        json=searchset(scores(16, 8), next_url=f"{FHIR}/Observation?_getpages=xyz&_page=4")
    )
    page_4 = page_route(ehr, 4).respond(500)
    first = searchset(scores(0, 8), next_url=SCORES_PAGE_2) | {"total": 500}

    _, facts = await read(request(painScores=first), fallback)

    assert (page_2.call_count, page_3.call_count, page_4.call_count) == (1, 1, 0)
    assert page_3.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert facts.pain_scores is not None and len(facts.pain_scores) == 24
    assert facts.pain_scores[0].reference == "Observation/score-0"


async def test_a_short_paged_first_page_without_a_token_is_unavailable(
    ehr: respx.MockRouter, fallback: FhirServerFallback
) -> None:
    first = searchset(scores(0, 8), next_url=SCORES_PAGE_2)

    _, facts = await read(request(painScores=first, token=False), fallback)

    assert not ehr.calls
    assert facts.pain_scores is None


async def test_a_fetched_search_is_read_only_as_far_as_the_newest(
    ehr: respx.MockRouter, fallback: FhirServerFallback
) -> None:
    first = scores_route(ehr).respond(
        json=searchset(scores(0, 12), next_url=SCORES_PAGE_2) | {"total": 3000}
    )
    page_2 = page_route(ehr, 2).respond(
        json=searchset(scores(12, 12), next_url=SCORES_PAGE_3) | {"total": 3000}
    )
    page_3 = page_route(ehr, 3).respond(500)

    _, facts = await read(request("painScores"), fallback)

    assert (first.call_count, page_2.call_count, page_3.call_count) == (1, 1, 0)
    assert facts.pain_scores is not None and len(facts.pain_scores) == 24


async def test_a_short_search_whose_pages_fall_short_of_its_total_is_unavailable(
    ehr: respx.MockRouter, fallback: FhirServerFallback
) -> None:
    scores_route(ehr).respond(json=searchset(scores(0, 3)) | {"total": 40})

    _, facts = await read(request("painScores"), fallback)

    assert facts.pain_scores is None


async def test_a_short_complete_search_is_all_there_is(
    ehr: respx.MockRouter, fallback: FhirServerFallback
) -> None:
    scores_route(ehr).respond(json=searchset(scores(0, 3)) | {"total": 3})

    _, facts = await read(request("painScores"), fallback)

    assert facts.pain_scores is not None and len(facts.pain_scores) == 3


def test_paged_pain_scores_over_http(client: TestClient, ehr: respx.MockRouter) -> None:
    page_2 = page_route(ehr, 2).respond(json=searchset(scores(5, 5)))
    first = searchset(scores(0, 5), next_url=SCORES_PAGE_2)

    with_token = post(client, request(painScores=first))
    without_token = post(client, request(painScores=first, token=False))

    assert (with_token.status_code, without_token.status_code) == (200, 200)
    assert page_2.call_count == 1


def test_the_readme_example_with_allergies_and_pain_scores(client: TestClient) -> None:
    body = load_example("patient-view-allergy-pain.json")
    assert {"allergies", "painScores"} <= set(body["prefetch"])

    response = post(client, body)

    assert response.status_code == 200
    assert response.json()["cards"]


def test_the_app_serves_discovery_with_the_optional_keys(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        services = {s["id"]: s for s in client.get("/cds-services").json()["services"]}
    assert "painScores" in services[PATIENT_VIEW]["prefetch"]
    assert "allergies" in services[ORDER_SIGN]["prefetch"]
    assert "painScores" not in services[ORDER_SIGN]["prefetch"]
