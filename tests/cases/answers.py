"""Reading a CDS Hooks answer for the facts a case asserts, not for its exact wording.

A card is found by what GUIDELINE §5 says it must carry — its indicator, and a detail that
names the Condition and the order that triggered it — rather than by a topic code or phrase
that an implementation is free to choose.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from tests.cases.agents import agents_of
from tests.conformance import assert_conformant

Card = dict[str, Any]

SERVICES = {
    "patient-view": "phantom-limb-pain-patient-view",
    "order-select": "phantom-limb-pain-order-select",
    "order-sign": "phantom-limb-pain-order-sign",
}
RANK = {"info": 0, "warning": 1, "critical": 2}


def call(client: TestClient, body: dict[str, Any]) -> list[Card]:
    response = client.post(f"/cds-services/{SERVICES[body['hook']]}", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert_conformant(answer)
    cards: list[Card] = answer["cards"]
    return cards


def words(card: Card) -> str:
    return f"{card['summary']}\n{card.get('detail', '')}"


def describe(cards: list[Card]) -> str:
    """The answer in a few lines, for assertion messages."""
    lines = []
    for card in cards:
        labels = [s["label"] for s in card.get("suggestions", [])]
        lines.append(f"[{card['indicator']}] {card['summary']} {labels}")
    return "\n".join(lines) or "(no cards)"


def naming(cards: list[Card], *references: str) -> list[Card]:
    """The cards whose detail names every one of these resources."""
    return [c for c in cards if all(r in c.get("detail", "") for r in references)]


def alerts(cards: list[Card]) -> list[Card]:
    return [c for c in cards if c["indicator"] in ("warning", "critical")]


def most_severe(cards: list[Card]) -> str | None:
    return max((c["indicator"] for c in cards), key=RANK.__getitem__, default=None)


def ladder_card(cards: list[Card]) -> Card:
    """The patient-view card that places the patient on the ladder and offers the next step."""
    step = [c for c in cards if c["source"]["topic"].get("code") == "treatment-step"]
    info = [c for c in cards if c["indicator"] == "info"]
    assert step or info, describe(cards)
    return (step or info)[0]


@dataclass(frozen=True)
class Created:
    agents: frozenset[str]
    resource: dict[str, Any]


def creations(card: Card) -> list[Created]:
    found = []
    for suggestion in card.get("suggestions", []):
        for action in suggestion["actions"]:
            if action["type"] == "create":
                resource = action["resource"]
                agents = (
                    agents_of(resource)
                    if resource["resourceType"] == "MedicationRequest"
                    else frozenset()
                )
                found.append(Created(agents, resource))
    return found


def agents_suggested(cards: list[Card]) -> frozenset[str]:
    """Every agent any suggestion on any card would create."""
    return frozenset(a for card in cards for c in creations(card) for a in c.agents)


def agents_added(cards: list[Card]) -> frozenset[str]:
    """Agents created by a suggestion that stops nothing: an add-on, not a switch."""
    found: set[str] = set()
    for card in cards:
        for suggestion in card.get("suggestions", []):
            actions = suggestion["actions"]
            if any(a["type"] in ("update", "delete") for a in actions):
                continue
            for action in actions:
                if action["type"] == "create" and action["resource"]["resourceType"] == (
                    "MedicationRequest"
                ):
                    found |= agents_of(action["resource"])
    return frozenset(found)


def services_suggested(cards: list[Card]) -> list[str]:
    """The lower-cased words of every ServiceRequest a suggestion would create."""
    return [
        json.dumps(c.resource.get("code", {})).lower()
        for card in cards
        for c in creations(card)
        if c.resource["resourceType"] == "ServiceRequest"
    ]


def stops(action: dict[str, Any], resource_id: str) -> bool:
    """An action that stops (update → stopped) or removes the order with this id."""
    if action["type"] == "update":
        resource = action.get("resource", {})
        return bool(resource.get("id") == resource_id and resource.get("status") == "stopped")
    return False


def switch_suggestions(cards: list[Card], current_id: str) -> list[dict[str, Any]]:
    """Suggestions that stop the current order `current_id`."""
    return [
        s
        for card in cards
        for s in card.get("suggestions", [])
        if any(stops(a, current_id) for a in s["actions"])
    ]


def mentions_mg_per_day(cards: list[Card], value: int) -> bool:
    pattern = re.compile(rf"(?<![\d.]){value}(\.0+)?\s*mg\s*(/|per)\s*day")
    return any(pattern.search(words(c)) for c in cards)
