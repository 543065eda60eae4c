"""The dose edge cases of GUIDELINE §4 as a prescriber meets them: an order-sign call."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.fhir import SERVICE_IDS, bundle, dosage, hook_request, med, plp

NORTRIPTYLINE_25 = "317136"


def dose_card(client: TestClient, *drafts: dict[str, Any]) -> dict[str, Any] | None:
    body = hook_request(
        "order-sign",
        conditions=bundle(plp()),
        draftOrders=bundle(*drafts, type="collection"),
    )
    response = client.post(f"/cds-services/{SERVICE_IDS['order-sign']}", json=body)
    assert response.status_code == 200, response.text
    cards = [c for c in response.json()["cards"] if c["source"]["topic"]["code"] == "tca-dose"]
    assert len(cards) <= 1
    return cards[0] if cards else None


def nortriptyline(*dosages: dict[str, Any]) -> dict[str, Any]:
    return med(NORTRIPTYLINE_25, id="d1", status="draft", dosages=list(dosages))


def test_an_as_needed_maximum_of_150_mg_a_day_is_flagged(client: TestClient) -> None:
    # One capsule at night as needed, up to 6 capsules a day: the worst day is 150 mg.
    line = dosage(1, "{capsule}") | {
        "asNeededBoolean": True,
        "maxDosePerPeriod": {
            "numerator": {"value": 6, "code": "{capsule}"},
            "denominator": {"value": 1, "code": "d"},
        },
    }

    card = dose_card(client, nortriptyline(line))

    assert card is not None
    assert card["indicator"] == "warning"
    assert "150 mg/day" in card["summary"]
    assert "maximum 6 × 25 mg per 1 d = 150 mg/day" in card["detail"]
    assert "the maximum, is counted" in card["detail"]


def test_without_the_maximum_the_same_order_is_not_flagged(client: TestClient) -> None:
    line = dosage(1, "{capsule}") | {"asNeededBoolean": True}

    assert dose_card(client, nortriptyline(line)) is None


def test_a_taper_is_judged_by_its_largest_day(client: TestClient) -> None:
    def week(capsules: int, start: str, end: str) -> dict[str, Any]:
        line = dosage(capsules, "{capsule}")
        line["timing"]["repeat"]["boundsPeriod"] = {"start": start, "end": end}
        return line

    # 75, 50 then 25 mg/day: summing the steps would make it 150.
    taper = nortriptyline(
        week(3, "2026-11-01", "2026-11-07"),
        week(2, "2026-11-08", "2026-11-14"),
        week(1, "2026-11-15", "2026-11-21"),
    )

    assert dose_card(client, taper) is None


def test_overlapping_lines_are_summed(client: TestClient) -> None:
    def line(capsules: int, start: str, end: str) -> dict[str, Any]:
        result = dosage(capsules, "{capsule}")
        result["timing"]["repeat"]["boundsPeriod"] = {"start": start, "end": end}
        return result

    order = nortriptyline(line(3, "2026-11-01", "2026-11-10"), line(2, "2026-11-08", "2026-11-20"))

    card = dose_card(client, order)

    assert card is not None and "125 mg/day" in card["summary"]
