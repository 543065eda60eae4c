"""Feedback tied to the card it is about: the issuing service, and our reasons' words."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cds.app import create_app
from cds.cli import main
from cds.settings import Settings
from tests.conftest import load_example
from tests.feedback_requests import (
    ORDER_SELECT,
    OVERRIDE_SYSTEM,
    PATIENT_VIEW,
    drain_card_records,
    order_select_card,
    overridden,
    send_feedback,
    show_cards,
)

ORDER_SIGN = "phantom-limb-pain-order-sign"


def order_sign_card(client: TestClient) -> dict[str, Any]:
    response = client.post(f"/cds-services/{ORDER_SIGN}", json=load_example("order-sign.json"))
    assert response.status_code == 200, response.text
    card: dict[str, Any] = response.json()["cards"][0]
    return card


def test_feedback_on_another_services_card_is_refused_naming_the_right_endpoint(
    client: TestClient,
) -> None:
    card = order_sign_card(client)
    own = show_cards(client)[0]
    drain_card_records(client)

    response = send_feedback(client, overridden(own), overridden(card), service=PATIENT_VIEW)

    assert response.status_code == 422
    [issue] = response.json()["issue"]
    assert issue["expression"] == ["feedback[1].card"]
    assert issue["diagnostics"] == (
        f"feedback[1].card: card {card['uuid']} was issued by the service '{ORDER_SIGN}'; "
        f"send its feedback to /cds-services/{ORDER_SIGN}/feedback"
    )
    assert send_feedback(client, overridden(card), service=ORDER_SIGN).status_code == 200


def test_the_report_shows_our_words_for_a_reason_sent_as_a_code_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database_url = f"sqlite:///{tmp_path / 'cds.db'}"
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        card = order_select_card(client)
        drain_card_records(client)
        code_only = overridden(card, None)
        code_only["overrideReason"] = {
            "reason": {"system": OVERRIDE_SYSTEM, "code": "cardiology-reviewed"}
        }
        assert send_feedback(client, code_only, service=ORDER_SELECT).status_code == 200

    main(["report", "--database-url", database_url])
    lines = capsys.readouterr().out.splitlines()

    assert lines[3].strip() == (
        "1  Reviewed with cardiology; monitoring in place (cardiology-reviewed)"
    )
