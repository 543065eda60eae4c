"""The FHIR server fallback, against an EHR FHIR server mocked at the HTTP boundary (respx)."""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from cds.app import create_app
from cds.runtime import runtime_of
from cds.security.allowlist import is_allowed
from cds.settings import Settings
from tests.conftest import load_example
from tests.fhir import fhir_authorization

FHIR = "https://fhir.example.org/r4"
EVIL = "https://evil.example.net"
TOKEN = "secret-access-token-7f3a9c"
HOOK = "/cds-services/phantom-limb-pain-patient-view"
PATIENT = "pat-plp-1"


@pytest.fixture
def settings() -> Settings:
    return Settings(cds_fhir_allowlist=f"{FHIR}/", cds_fhir_timeout_s=2.0, cds_fhir_max_pages=3)


@pytest.fixture
def ehr() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        yield router


@pytest.fixture
def example() -> dict[str, Any]:
    return load_example("patient-view.json")


def hook_request(example: dict[str, Any], *drop: str, server: str = FHIR) -> dict[str, Any]:
    request = copy.deepcopy(example)
    for key in drop:
        del request["prefetch"][key]
    request["fhirServer"] = server
    request["fhirAuthorization"] = fhir_authorization(
        TOKEN, "patient/Condition.read patient/MedicationRequest.read"
    )
    return request


def searchset(entries: list[dict[str, Any]], next_url: str | None = None) -> dict[str, Any]:
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "entry": entries}
    if next_url:
        bundle["link"] = [{"relation": "next", "url": next_url}]
    return bundle


def conditions_route(ehr: respx.MockRouter) -> respx.Route:
    return ehr.get(f"{FHIR}/Condition", params={"patient": PATIENT})


def medications_route(ehr: respx.MockRouter) -> respx.Route:
    return ehr.get(f"{FHIR}/MedicationRequest", params={"patient": PATIENT})


def detail(response: httpx.Response) -> str:
    cards = response.json()["cards"]
    assert len(cards) == 1
    return str(cards[0]["detail"])


def issues(response: httpx.Response) -> list[dict[str, Any]]:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return list(body["issue"])


# -- fetching per key ---------------------------------------------------------------------


def test_fetches_only_the_missing_key(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any]
) -> None:
    conditions = conditions_route(ehr).respond(json=example["prefetch"]["conditions"])
    medications = medications_route(ehr).respond(json=searchset([]))

    response = client.post(HOOK, json=hook_request(example, "conditions"))

    assert response.status_code == 200
    assert "Gabapentinoid: gabapentin" in detail(response)
    assert conditions.call_count == 1
    assert not medications.called


def test_fetches_every_missing_key_with_the_bearer_token(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any]
) -> None:
    conditions_route(ehr).respond(json=example["prefetch"]["conditions"])
    medications_route(ehr).respond(json=example["prefetch"]["medications"])

    response = client.post(HOOK, json=hook_request(example, "conditions", "medications"))

    assert response.status_code == 200
    assert "Gabapentinoid: gabapentin" in detail(response)
    assert len(ehr.calls) == 2
    for call in ehr.calls:
        assert call.request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert call.request.headers["Accept"] == "application/fhir+json"


def test_no_prefetch_at_all_fetches_every_key_it_reads(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any]
) -> None:
    conditions_route(ehr).respond(json=example["prefetch"]["conditions"])
    medications_route(ehr).respond(json=example["prefetch"]["medications"])
    allergies = ehr.get(f"{FHIR}/AllergyIntolerance", params={"patient": PATIENT})
    allergies.respond(json=searchset([]))
    scores = ehr.get(f"{FHIR}/Observation", params={"patient": PATIENT, "_sort": "-date"})
    scores.respond(json=searchset([]))
    request = hook_request(example)
    del request["prefetch"]

    response = client.post(HOOK, json=request)

    assert response.status_code == 200
    # The required keys and the optional ones; the Patient is never fetched.
    assert len(ehr.calls) == 4
    assert allergies.call_count == 1 and scores.call_count == 1


def test_null_prefetch_is_no_data_and_not_requeried(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any]
) -> None:
    any_call = ehr.route().respond(500)
    request = hook_request(example)
    request["prefetch"]["medications"] = None

    response = client.post(HOOK, json=request)

    assert response.status_code == 200
    assert not any_call.called


def test_operation_outcome_prefetch_is_fetched_again(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any]
) -> None:
    medications = medications_route(ehr).respond(json=example["prefetch"]["medications"])
    request = hook_request(example)
    request["prefetch"]["medications"] = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "timeout"}],
    }

    response = client.post(HOOK, json=request)

    assert response.status_code == 200
    assert medications.call_count == 1


# -- pagination ---------------------------------------------------------------------------


def test_follows_next_links(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any]
) -> None:
    heart_failure, phantom_limb_pain = (
        [e] for e in reversed(example["prefetch"]["conditions"]["entry"])
    )
    page_2 = f"{FHIR}/Condition?patient={PATIENT}&_page=2"
    # More specific first: respx takes the first route that matches.
    ehr.get(f"{FHIR}/Condition", params={"_page": "2"}).respond(json=searchset(phantom_limb_pain))
    conditions_route(ehr).respond(json=searchset(heart_failure, next_url=page_2))

    response = client.post(HOOK, json=hook_request(example, "conditions"))

    # The phantom limb pain Condition is only on page 2: without it there would be no card.
    assert response.status_code == 200
    assert "Phantom limb syndrome with pain" in detail(response)
    assert "Heart failure" in detail(response)
    assert len(ehr.calls) == 2
    assert all(c.request.headers["Authorization"] == f"Bearer {TOKEN}" for c in ehr.calls)


def test_page_count_is_bounded(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any]
) -> None:
    endless = ehr.get(url__startswith=f"{FHIR}/Condition").respond(
        json=searchset([], next_url=f"{FHIR}/Condition?patient={PATIENT}&_page=next")
    )

    response = client.post(HOOK, json=hook_request(example, "conditions"))

    assert response.status_code == 412
    assert "more than 3 pages" in issues(response)[0]["diagnostics"]
    assert endless.call_count == 3


@pytest.mark.parametrize(
    "next_url",
    [
        f"{EVIL}/r4/Condition?page=2",
        "http://fhir.example.org/r4/Condition?page=2",
        "https://fhir.example.org/other/Condition?page=2",
    ],
)
def test_next_link_off_the_allowed_server_is_not_followed(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any], next_url: str
) -> None:
    conditions_route(ehr).respond(json=searchset([], next_url=next_url))
    elsewhere = ehr.route(url__startswith=next_url.split("?")[0]).respond(json=searchset([]))

    response = client.post(HOOK, json=hook_request(example, "conditions"))

    assert response.status_code == 412
    assert "next link points outside" in issues(response)[0]["diagnostics"]
    assert not elsewhere.called


# -- paged prefetch: one page of a search is not the chart -------------------------------


def paged_prefetch(example: dict[str, Any], **bundle: Any) -> dict[str, Any]:
    """The EHR prefetched only the phantom limb pain page; heart failure is further on."""
    request = hook_request(example)
    phantom_limb_pain = example["prefetch"]["conditions"]["entry"][:1]
    request["prefetch"]["conditions"] = searchset(phantom_limb_pain) | bundle
    return request


def heart_failure_page(example: dict[str, Any]) -> list[dict[str, Any]]:
    return example["prefetch"]["conditions"]["entry"][1:]


PAGE_2 = f"{FHIR}/Condition?patient={PATIENT}&_getpages=abc&_page=2"


def test_paged_prefetch_is_read_to_its_last_page(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any]
) -> None:
    page_2 = ehr.get(f"{FHIR}/Condition", params={"_page": "2"}).respond(
        json=searchset(heart_failure_page(example))
    )
    first_page = conditions_route(ehr).respond(json=searchset([]))
    request = paged_prefetch(example, link=[{"relation": "next", "url": PAGE_2}])

    response = client.post(HOOK, json=request)

    assert response.status_code == 200
    card = response.json()["cards"][0]
    labels = [s["label"] for s in card["suggestions"]]
    assert "Nortriptyline" not in labels
    assert "Desipramine" not in labels
    assert "TCAs are not suggested because the record shows Heart failure" in card["detail"]
    assert page_2.call_count == 1
    assert page_2.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"
    # The page the EHR sent is used, not asked for again.
    assert not first_page.called


def test_paged_prefetch_without_a_token_is_a_412_not_advice_from_page_one(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any]
) -> None:
    request = paged_prefetch(example, link=[{"relation": "next", "url": PAGE_2}])
    del request["fhirAuthorization"]

    response = client.post(HOOK, json=request)

    assert response.status_code == 412
    [issue] = issues(response)
    assert issue["expression"] == ["prefetch.conditions"]
    assert "conditions (paged: the EHR sent only part of the search" in issue["diagnostics"]
    assert "no fhirAuthorization access token" in issue["diagnostics"]
    assert not ehr.calls


def test_paged_prefetch_is_a_412_when_the_service_is_prefetch_only(
    ehr: respx.MockRouter, example: dict[str, Any], tmp_path: Path
) -> None:
    settings = Settings(
        cds_prefetch_resolution="none",
        cds_fhir_allowlist=FHIR,
        database_url=f"sqlite:///{tmp_path / 'db'}",
    )
    request = paged_prefetch(example, link=[{"relation": "next", "url": PAGE_2}])

    with TestClient(create_app(settings)) as client:
        response = client.post(HOOK, json=request)

    assert response.status_code == 412
    [issue] = issues(response)
    assert issue["expression"] == ["prefetch.conditions"]
    assert "configured for prefetch only" in issue["diagnostics"]
    assert "conditions (paged" in issue["diagnostics"]
    assert not ehr.calls


def test_total_above_the_entries_sent_fetches_the_whole_search(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any]
) -> None:
    whole = conditions_route(ehr).respond(json=example["prefetch"]["conditions"] | {"total": 2})
    request = paged_prefetch(example, total=2)

    response = client.post(HOOK, json=request)

    assert response.status_code == 200
    assert "TCAs are not suggested because the record shows Heart failure" in detail(response)
    assert whole.call_count == 1


def test_total_above_the_entries_without_a_token_is_a_412(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any]
) -> None:
    request = paged_prefetch(example, total=64)
    del request["fhirAuthorization"]

    response = client.post(HOOK, json=request)

    assert response.status_code == 412
    assert "conditions (paged" in issues(response)[0]["diagnostics"]


def test_included_resources_do_not_count_toward_the_total(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any]
) -> None:
    anything = ehr.route().respond(500)
    request = hook_request(example)
    medications = request["prefetch"]["medications"]
    medications["total"] = 1
    medications["entry"].append(
        {"search": {"mode": "include"}, "resource": GABAPENTIN | {"id": "included"}}
    )

    response = client.post(HOOK, json=request)

    assert response.status_code == 200
    assert not anything.called


def test_a_server_whose_pages_fall_short_of_its_total_is_a_412(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any]
) -> None:
    conditions_route(ehr).respond(json=searchset(heart_failure_page(example)) | {"total": 5})
    request = paged_prefetch(example, total=5)

    response = client.post(HOOK, json=request)

    assert response.status_code == 412
    [issue] = issues(response)
    assert issue["code"] == "incomplete"
    assert "counts 5 results but its pages hold 1" in issue["diagnostics"]


def test_a_next_link_must_stay_under_the_fhir_server_base_not_just_the_allowlist(
    ehr: respx.MockRouter, example: dict[str, Any], tmp_path: Path
) -> None:
    settings = Settings(
        cds_fhir_allowlist="https://fhir.example.org/",
        database_url=f"sqlite:///{tmp_path / 'db'}",
    )
    other_tenant = ehr.route(url__startswith="https://fhir.example.org/tenant-b").respond(
        json=searchset(heart_failure_page(example))
    )
    next_url = "https://fhir.example.org/tenant-b/Condition?page=2"
    request = paged_prefetch(example, link=[{"relation": "next", "url": next_url}])

    with TestClient(create_app(settings)) as client:
        response = client.post(HOOK, json=request)

    assert response.status_code == 412
    assert "next link points outside" in issues(response)[0]["diagnostics"]
    assert not other_tenant.called


@pytest.mark.parametrize(
    "next_url",
    [
        f"{EVIL}/r4/Condition?page=2",
        "https://fhir.example.org/r4-other/Condition?page=2",
    ],
)
def test_a_prefetched_next_link_off_the_fhir_server_is_not_followed(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any], next_url: str
) -> None:
    anything = ehr.route().respond(json=searchset([]))
    request = paged_prefetch(example, link=[{"relation": "next", "url": next_url}])

    response = client.post(HOOK, json=request)

    assert response.status_code == 412
    assert "next link points outside" in issues(response)[0]["diagnostics"]
    assert not anything.called


# -- Medication resolution ----------------------------------------------------------------


def referenced_order(example: dict[str, Any], reference: str) -> dict[str, Any]:
    order = copy.deepcopy(example["prefetch"]["medications"]["entry"][0]["resource"])
    del order["medicationCodeableConcept"]
    order["medicationReference"] = {"reference": reference}
    return order


GABAPENTIN = {
    "resourceType": "Medication",
    "id": "gaba300",
    "code": {
        "coding": [
            {
                "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                "code": "310431",
                "display": "gabapentin 300 MG Oral Capsule",
            }
        ]
    },
}


@pytest.mark.parametrize("reference", ["Medication/gaba300", f"{FHIR}/Medication/gaba300"])
def test_resolves_referenced_medications(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any], reference: str
) -> None:
    order = referenced_order(example, reference)
    medications_route(ehr).respond(json=searchset([{"resource": order}]))
    medication = ehr.get(f"{FHIR}/Medication/gaba300").respond(json=GABAPENTIN)

    response = client.post(HOOK, json=hook_request(example, "medications"))

    assert response.status_code == 200
    assert "Gabapentinoid: gabapentin" in detail(response)
    assert medication.call_count == 1
    assert medication.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_included_medication_is_not_fetched_again(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any]
) -> None:
    order = referenced_order(example, "Medication/gaba300")
    medications_route(ehr).respond(
        json=searchset(
            [
                {"resource": order},
                {"fullUrl": f"{FHIR}/Medication/gaba300", "resource": GABAPENTIN},
            ]
        )
    )
    medication = ehr.get(f"{FHIR}/Medication/gaba300").respond(json=GABAPENTIN)

    response = client.post(HOOK, json=hook_request(example, "medications"))

    assert response.status_code == 200
    assert "Gabapentinoid: gabapentin" in detail(response)
    assert not medication.called


def test_references_in_complete_prefetch_are_resolved_too(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any]
) -> None:
    request = hook_request(example)
    request["prefetch"]["medications"] = searchset(
        [{"resource": referenced_order(example, "Medication/gaba300")}]
    )
    medication = ehr.get(f"{FHIR}/Medication/gaba300").respond(json=GABAPENTIN)

    response = client.post(HOOK, json=request)

    assert response.status_code == 200
    assert "Gabapentinoid: gabapentin" in detail(response)
    assert medication.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert len(ehr.calls) == 1


def test_an_unresolvable_reference_in_complete_prefetch_is_a_412_naming_it(
    client: TestClient,
    ehr: respx.MockRouter,
    example: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The order's drug is known only through Medication/gone, which the server does not
    # have: it could be a TCA. Answering without it would be advice from part of the chart
    # (a false-safe), so, as when the search itself fails, it is a 412 naming the order.
    request = hook_request(example)
    order = referenced_order(example, "Medication/gone")
    request["prefetch"]["medications"] = searchset([{"resource": order}])
    ehr.get(f"{FHIR}/Medication/gone").respond(404)

    with caplog.at_level(logging.WARNING):
        response = client.post(HOOK, json=request)

    assert response.status_code == 412
    [issue] = issues(response)
    assert issue == {
        "severity": "error",
        "code": "not-found",
        "diagnostics": "The guideline's checks cannot be applied to an order whose drug is "
        f"unknown: MedicationRequest/{order['id']} names its drug only as Medication/gone, a "
        "Medication not in the data sent and not fetched (Medication/gone: HTTP 404 from the "
        "FHIR server).",
        "expression": ["prefetch.medications"],
    }
    assert any("left unresolved" in r.getMessage() for r in caplog.records)
    assert TOKEN not in caplog.text and TOKEN not in response.text


def test_unresolvable_medication_is_a_412(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any]
) -> None:
    order = referenced_order(example, "Medication/gone")
    medications_route(ehr).respond(json=searchset([{"resource": order}]))
    ehr.get(f"{FHIR}/Medication/gone").respond(404)

    response = client.post(HOOK, json=hook_request(example, "medications"))

    assert response.status_code == 412
    [issue] = issues(response)
    assert issue["expression"] == ["prefetch.medications"]
    assert "Medication/gone: HTTP 404" in issue["diagnostics"]


# -- failures, retries and time limits ----------------------------------------------------


def test_5xx_is_retried_and_can_recover(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any]
) -> None:
    route = conditions_route(ehr).mock(
        side_effect=[
            httpx.Response(503),
            httpx.Response(502),
            httpx.Response(200, json=example["prefetch"]["conditions"]),
        ]
    )

    response = client.post(HOOK, json=hook_request(example, "conditions"))

    assert response.status_code == 200
    assert route.call_count == 3


def test_5xx_retries_are_bounded(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any]
) -> None:
    route = conditions_route(ehr).respond(503)
    medications_route(ehr).respond(json=example["prefetch"]["medications"])

    response = client.post(HOOK, json=hook_request(example, "conditions", "medications"))

    assert response.status_code == 412
    [issue] = issues(response)
    assert issue["code"] == "transient"
    assert issue["expression"] == ["prefetch.conditions"]
    assert issue["diagnostics"] == ("conditions: HTTP 503 from the FHIR server (after 3 attempts)")
    assert route.call_count == 3


def test_connection_errors_are_retried(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any]
) -> None:
    route = conditions_route(ehr).mock(
        side_effect=[
            httpx.ConnectError("refused"),
            httpx.Response(200, json=example["prefetch"]["conditions"]),
        ]
    )

    response = client.post(HOOK, json=hook_request(example, "conditions"))

    assert response.status_code == 200
    assert route.call_count == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_4xx_is_not_retried(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any], status: int
) -> None:
    route = conditions_route(ehr).respond(status)

    response = client.post(HOOK, json=hook_request(example, "conditions"))

    assert response.status_code == 412
    assert f"HTTP {status} from the FHIR server" in issues(response)[0]["diagnostics"]
    assert route.call_count == 1


def test_read_timeout_is_a_412_without_retry(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any]
) -> None:
    route = conditions_route(ehr).mock(side_effect=httpx.ReadTimeout("slow"))

    response = client.post(HOOK, json=hook_request(example, "conditions"))

    assert response.status_code == 412
    [issue] = issues(response)
    assert issue["code"] == "timeout"
    assert "did not answer in time" in issue["diagnostics"]
    assert route.call_count == 1


def test_overall_deadline_bounds_a_hanging_server(
    ehr: respx.MockRouter, example: dict[str, Any]
) -> None:
    settings = Settings(cds_fhir_allowlist=FHIR, cds_fhir_timeout_s=0.3)

    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        return httpx.Response(200, json=searchset([]))

    conditions_route(ehr).mock(side_effect=hang)
    medications_route(ehr).respond(json=example["prefetch"]["medications"])

    with TestClient(create_app(settings)) as client:
        response = client.post(HOOK, json=hook_request(example, "conditions", "medications"))

    assert response.status_code == 412
    [issue] = issues(response)
    assert issue["code"] == "timeout"
    assert issue["expression"] == ["prefetch.conditions"]
    # The server hangs for 30 s: only the deadline can have ended the call.
    assert "within 0.3 s" in issue["diagnostics"]


def test_redirect_is_not_followed(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any]
) -> None:
    conditions_route(ehr).respond(302, headers={"Location": f"{EVIL}/steal"})
    elsewhere = ehr.route(url__startswith=EVIL).respond(json=searchset([]))

    response = client.post(HOOK, json=hook_request(example, "conditions"))

    assert response.status_code == 412
    assert "HTTP 302 redirect" in issues(response)[0]["diagnostics"]
    assert not elsewhere.called


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (httpx.Response(200, content=b"<html>"), "not JSON"),
        (httpx.Response(200, json=["a", "list"]), "not a FHIR resource"),
        (
            httpx.Response(200, json={"resourceType": "OperationOutcome", "issue": []}),
            "answered with an OperationOutcome",
        ),
        (httpx.Response(200, json={"resourceType": "Bundle", "entry": "x"}), "not a list"),
        (
            httpx.Response(200, json={"resourceType": "Patient", "id": PATIENT}),
            "the search answered with a Patient",
        ),
    ],
)
def test_unusable_answers_are_a_412(
    client: TestClient,
    ehr: respx.MockRouter,
    example: dict[str, Any],
    answer: httpx.Response,
    reason: str,
) -> None:
    conditions_route(ehr).mock(return_value=answer)

    response = client.post(HOOK, json=hook_request(example, "conditions"))

    assert response.status_code == 412
    assert reason in issues(response)[0]["diagnostics"]


# -- where the service may connect, and with what -----------------------------------------


@pytest.mark.parametrize(
    "server",
    [
        f"{EVIL}/r4",
        "https://fhir.example.org/r4-other",
        "https://fhir.example.org.evil.net/r4",
        "https://fhir.example.org/r4@evil.net",
        "https://user@fhir.example.org/r4",
        "https://fhir.example.org/r4/../admin",
        "http://fhir.example.org/r4",
    ],
)
def test_server_not_on_the_allowlist_is_never_contacted(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any], server: str
) -> None:
    anything = ehr.route().respond(json=searchset([]))

    response = client.post(HOOK, json=hook_request(example, "conditions", server=server))

    assert response.status_code == 412
    [issue] = issues(response)
    assert "not on this service's allowlist; it was not contacted" in issue["diagnostics"]
    assert issue["expression"] == ["prefetch.conditions"]
    assert not anything.called


def test_missing_fhir_server_is_a_412(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any]
) -> None:
    request = hook_request(example, "conditions")
    del request["fhirServer"]

    response = client.post(HOOK, json=request)

    assert response.status_code == 412
    assert "names no fhirServer" in issues(response)[0]["diagnostics"]
    assert not ehr.calls


def test_missing_access_token_is_a_412(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any]
) -> None:
    request = hook_request(example, "medications")
    del request["fhirAuthorization"]

    response = client.post(HOOK, json=request)

    assert response.status_code == 412
    [issue] = issues(response)
    assert "no fhirAuthorization access token" in issue["diagnostics"]
    assert issue["expression"] == ["prefetch.medications"]
    assert not ehr.calls


def test_resolution_none_means_prefetch_only(
    ehr: respx.MockRouter, example: dict[str, Any], tmp_path: Path
) -> None:
    settings = Settings(
        cds_prefetch_resolution="none",
        cds_fhir_allowlist=FHIR,
        database_url=f"sqlite:///{tmp_path / 'db'}",
    )
    with TestClient(create_app(settings)) as client:
        response = client.post(HOOK, json=hook_request(example, "conditions"))

    assert response.status_code == 412
    assert "configured for prefetch only" in issues(response)[0]["diagnostics"]
    assert not ehr.calls


def test_an_empty_allowlist_contacts_no_server(
    ehr: respx.MockRouter, example: dict[str, Any], tmp_path: Path
) -> None:
    settings = Settings(cds_fhir_allowlist="", database_url=f"sqlite:///{tmp_path / 'db'}")
    with TestClient(create_app(settings)) as client:
        response = client.post(HOOK, json=hook_request(example, "conditions"))

    assert response.status_code == 412
    assert "not on this service's allowlist" in issues(response)[0]["diagnostics"]
    assert not ehr.calls


def test_token_never_reaches_logs_or_bodies(
    client: TestClient,
    ehr: respx.MockRouter,
    example: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    conditions_route(ehr).respond(json=example["prefetch"]["conditions"])
    medications_route(ehr).mock(side_effect=[httpx.Response(500)] * 3)

    failed = client.post(HOOK, json=hook_request(example, "conditions", "medications"))
    medications_route(ehr).respond(json=example["prefetch"]["medications"])
    answered = client.post(HOOK, json=hook_request(example, "conditions", "medications"))

    assert (failed.status_code, answered.status_code) == (412, 200)
    assert caplog.records, "the fallback logs what it does"
    assert TOKEN not in caplog.text
    assert TOKEN not in failed.text + answered.text


def test_shared_clients_are_closed_on_shutdown(settings: Settings) -> None:
    app = create_app(settings)
    with TestClient(app):
        clients = (runtime_of(app).fhir_client(), runtime_of(app).jwks_client())
        assert not any(http.is_closed for http in clients)
    assert all(http.is_closed for http in clients)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        (f"{FHIR}", True),
        (f"{FHIR}/Condition?patient=1", True),
        ("https://fhir.example.org/r4x", False),
        ("https://fhir.example.org/r4/%2e%2e/admin", False),
        ("ftp://fhir.example.org/r4", False),
        ("not a url", False),
    ],
)
def test_allowlist_prefixes_match_at_url_boundaries(url: str, allowed: bool) -> None:
    assert is_allowed(url, ("https://fhir.example.org/r4",)) is allowed


# -- property: whatever the FHIR server answers, no 5xx -----------------------------------

FHIR_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)
FHIR_RESOURCES = st.fixed_dictionaries(
    {"resourceType": st.sampled_from(["Bundle", "Condition", "Medication", "OperationOutcome"])},
    optional={
        "entry": FHIR_JSON | st.lists(st.fixed_dictionaries({}, optional={"resource": FHIR_JSON})),
        "link": FHIR_JSON
        | st.just([{"relation": "next", "url": f"{FHIR}/Condition?patient={PATIENT}&p=2"}]),
        "id": FHIR_JSON,
    },
)


@hypothesis_settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    answer=FHIR_RESOURCES | FHIR_JSON,
    status=st.sampled_from([200, 200, 200, 201, 204, 301, 404, 500]),
)
def test_no_fhir_server_answer_gets_a_5xx(
    client: TestClient, example: dict[str, Any], answer: Any, status: int
) -> None:
    with respx.mock(assert_all_called=False) as ehr:
        ehr.route(url__startswith=FHIR).respond(status, json=answer)
        response = client.post(HOOK, json=hook_request(example, "conditions", "medications"))
    assert response.status_code in (200, 412), response.text


def test_fallback_calls_are_counted_by_outcome(
    client: TestClient, ehr: respx.MockRouter, example: dict[str, Any]
) -> None:
    from prometheus_client import REGISTRY

    def count(outcome: str) -> float:
        value = REGISTRY.get_sample_value("cds_fhir_fallback_calls_total", {"outcome": outcome})
        return value or 0.0

    ok, server_errors = count("ok"), count("http_error")
    conditions_route(ehr).respond(json=example["prefetch"]["conditions"])
    medications_route(ehr).mock(
        side_effect=[httpx.Response(503), httpx.Response(200, json=searchset([]))]
    )

    response = client.post(HOOK, json=hook_request(example, "conditions", "medications"))

    assert response.status_code == 200
    assert count("ok") - ok == 2
    assert count("http_error") - server_errors == 1
