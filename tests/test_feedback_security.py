"""Feedback, attacked: cross-site form posts, reports about another EHR's cards or cards
never shown, invented override reasons, oversized comments, a flood of reports about one
card, and terminal escapes aimed at the committee's report."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import ECKey

from cds.app import create_app
from cds.cli import main
from cds.settings import Settings
from cds.storage.database import Database
from cds.storage.records import FeedbackRecord, OverrideReason
from cds.storage.store import Store
from tests.conftest import load_example
from tests.feedback_requests import (
    ORDER_SELECT,
    OVERRIDE_SYSTEM,
    PATIENT_VIEW,
    accepted,
    drain_card_records,
    order_select_card,
    overridden,
    send_feedback,
    show_cards,
)

FEEDBACK = f"/cds-services/{PATIENT_VIEW}/feedback"


def stored_reports(database_url: str, card_uuid: str) -> list[FeedbackRecord]:
    async def read() -> list[FeedbackRecord]:
        database = Database(database_url)
        try:
            return await Store(database).feedback_for(card_uuid)
        finally:
            await database.dispose()

    return asyncio.run(read())


# -- only JSON: no cross-site form posts ------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded"],
)
def test_feedback_that_is_not_declared_json_is_415_and_not_stored(
    client: TestClient, settings: Settings, content_type: str | None
) -> None:
    card = show_cards(client)[0]
    body = json.dumps({"feedback": [overridden(card)]})
    headers = {"Content-Type": content_type} if content_type else {}

    response = client.post(FEEDBACK, content=body, headers=headers)

    assert response.status_code == 415
    assert response.json()["issue"][0]["code"] == "not-supported"
    assert stored_reports(settings.database_url, card["uuid"]) == []


def test_json_with_a_charset_is_json(client: TestClient) -> None:
    card = show_cards(client)[0]
    response = client.post(
        FEEDBACK,
        content=json.dumps({"feedback": [overridden(card)]}),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200, response.text


# -- only about cards this service issued, and only from the EHR they were sent to ----------

EHR_A, EHR_B = "https://ehr-a.example.org", "https://ehr-b.example.net"
KEYS = {iss: ECKey.generate_key("P-384", parameters={"kid": f"{iss}-1"}) for iss in (EHR_A, EHR_B)}
BASE = "https://cds.example.org"


def signed(iss: str, path: str) -> dict[str, str]:
    now = int(time.time())
    claims = {"iss": iss, "aud": BASE + path, "iat": now, "exp": now + 300}
    claims["jti"] = str(uuid.uuid4())
    key = KEYS[iss]
    token = jwt.encode({"alg": "ES384", "kid": key.kid}, claims, key, algorithms=["ES384"])
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def two_ehrs(tmp_path: Path) -> Iterator[TestClient]:
    issuers = tmp_path / "issuers.json"
    issuers.write_text(
        json.dumps(
            {iss: {"jwks": {"keys": [key.as_dict(private=False)]}} for iss, key in KEYS.items()}
        )
    )
    settings = Settings(
        cds_trusted_issuers_file=str(issuers),
        cds_public_base_url=BASE,
        database_url=f"sqlite:///{tmp_path / 'cds.db'}",
    )
    with TestClient(create_app(settings)) as client:
        yield client


def card_for(client: TestClient, iss: str) -> dict[str, Any]:
    hook = f"/cds-services/{ORDER_SELECT}"
    response = client.post(hook, json=load_example("order-select.json"), headers=signed(iss, hook))
    assert response.status_code == 200, response.text
    card: dict[str, Any] = response.json()["cards"][0]
    return card


def feedback_from(
    client: TestClient, iss: str, *entries: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    path = f"/cds-services/{ORDER_SELECT}/feedback"
    response = client.post(path, json={"feedback": list(entries)}, headers=signed(iss, path))
    return response.status_code, response.json()


def test_one_ehr_cannot_report_on_another_ehrs_card(two_ehrs: TestClient) -> None:
    card = card_for(two_ehrs, EHR_A)
    drain_card_records(two_ehrs)

    status, body = feedback_from(two_ehrs, EHR_B, overridden(card))

    assert status == 422
    assert body["issue"][0]["expression"] == ["feedback[0].card"]
    assert "is not one this service issued to you" in body["issue"][0]["diagnostics"]
    # The EHR that was shown the card still can, afterwards.
    assert feedback_from(two_ehrs, EHR_A, overridden(card))[0] == 200


def test_no_one_can_report_on_a_card_the_service_never_issued(two_ehrs: TestClient) -> None:
    never_shown = {"uuid": str(uuid.uuid4())}
    status, body = feedback_from(two_ehrs, EHR_A, overridden(never_shown, None))
    assert status == 422
    assert "is not one this service issued to you" in body["issue"][0]["diagnostics"]


def test_feedback_right_after_the_card_waits_for_its_record(client: TestClient) -> None:
    # No drain: the card's record may still be queued when the report arrives.
    card = order_select_card(client)
    assert send_feedback(client, overridden(card), service=ORDER_SELECT).status_code == 200


# -- override reasons: only those the card offered, in our words --------------------------


@pytest.mark.parametrize(
    ("system", "code"),
    [
        (OVERRIDE_SYSTEM, "invented-reason"),
        (OVERRIDE_SYSTEM, "dose-intended"),  # ours, but not offered by this card
        ("http://evil.example.net/reasons", "cardiology-reviewed"),
    ],
)
def test_a_reason_the_card_did_not_offer_is_refused(
    client: TestClient, settings: Settings, system: str, code: str
) -> None:
    card = order_select_card(client)
    entry = overridden(card, None)
    entry["overrideReason"] = {"reason": {"system": system, "code": code}}

    response = send_feedback(client, entry, service=ORDER_SELECT)

    assert response.status_code == 422
    [issue] = response.json()["issue"]
    assert issue["expression"] == ["feedback[0].overrideReason.reason"]
    assert "cardiology-reviewed" in issue["diagnostics"], "the offered reasons are named"
    assert stored_reports(settings.database_url, card["uuid"]) == []


def test_an_offered_reason_is_stored_in_our_words(client: TestClient, settings: Settings) -> None:
    card = order_select_card(client)
    entry = overridden(card, "cardiology-reviewed")
    entry["overrideReason"]["reason"]["display"] = "\x1b]0;owned\x07 anything the client likes"

    assert send_feedback(client, entry, service=ORDER_SELECT).status_code == 200

    [report] = stored_reports(settings.database_url, card["uuid"])
    assert report.reason == OverrideReason(
        OVERRIDE_SYSTEM, "cardiology-reviewed", "Reviewed with cardiology; monitoring in place"
    )


def test_a_card_that_offered_no_reasons_takes_an_override_without_one(
    client: TestClient,
) -> None:
    card = show_cards(client)[0]
    assert "overrideReasons" not in card
    assert send_feedback(client, overridden(card, None)).status_code == 200
    assert send_feedback(client, overridden(card, "patient-preference")).status_code == 422


# -- bounded: comment length and reports per card -------------------------------------------


def test_an_oversized_comment_is_refused(client: TestClient) -> None:
    card = order_select_card(client)
    entry = overridden(card)
    entry["overrideReason"]["userComment"] = "x" * 2001
    response = send_feedback(client, entry, service=ORDER_SELECT)
    assert response.status_code == 422
    assert response.json()["issue"][0]["expression"] == ["feedback[0].overrideReason.userComment"]


def test_reports_about_one_card_are_bounded(client: TestClient, settings: Settings) -> None:
    card = show_cards(client)[0]
    most = settings.cds_feedback_max_reports_per_card
    stamps = [f"2026-11-24T10:{minute:02d}:00Z" for minute in range(most + 5)]

    for stamp in stamps[:most]:
        assert send_feedback(client, overridden(card, None, at=stamp)).status_code == 200
    flood = [overridden(card, None, at=stamp) for stamp in stamps[most:]]
    response = send_feedback(client, *flood)

    assert response.status_code == 422
    assert "no more are kept" in response.json()["issue"][0]["diagnostics"]
    assert len(stored_reports(settings.database_url, card["uuid"])) == most
    # Once a card has all its reports, nothing more about it is taken, a resend included.
    assert send_feedback(client, accepted(card, at=stamps[0])).status_code == 422


# -- the report: no terminal escapes --------------------------------------------------------


def test_the_report_prints_no_control_characters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database_url = f"sqlite:///{tmp_path / 'cds.db'}"
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        card = order_select_card(client)
        drain_card_records(client)

    async def write_legacy_row() -> None:
        # As a row written before reasons were checked could hold: the client's own text.
        database = Database(database_url)
        try:
            await Store(database).save_feedback(
                [
                    FeedbackRecord(
                        card_uuid=card["uuid"],
                        service_id=ORDER_SELECT,
                        outcome="overridden",
                        outcome_timestamp=datetime(2026, 11, 24, 10, 0, tzinfo=UTC),
                        reason=OverrideReason(
                            "urn:x", "\x1b[2J\x1b[31mcleared", "\x1b]0;title\x07\u202eevil\r"
                        ),
                    )
                ]
            )
        finally:
            await database.dispose()

    asyncio.run(write_legacy_row())
    main(["report", "--database-url", database_url])
    out = capsys.readouterr().out

    assert "cleared" in out and "evil" in out
    assert not any(ch in out for ch in "\x1b\x07\r\u202e")
