"""CDS Hooks 2.0 response rules (digest §2 and §4) checked on every response a test sees."""

from __future__ import annotations

import json
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}


def assert_no_empty(value: Any, where: str = "response") -> None:
    assert value is not None, f"{where} is null"
    if isinstance(value, dict):
        assert value, f"{where} is an empty object"
        for key, item in value.items():
            if where == "response" and key == "cards":
                assert isinstance(item, list)
                for i, card in enumerate(item):
                    assert_no_empty(card, f"cards[{i}]")
                continue
            assert_no_empty(item, f"{where}.{key}")
    elif isinstance(value, list):
        assert value, f"{where} is an empty list"
        for i, item in enumerate(value):
            assert_no_empty(item, f"{where}[{i}]")
    elif isinstance(value, str):
        assert value, f"{where} is an empty string"


def assert_valid_fhir(resource: dict[str, Any]) -> None:
    model = get_fhir_model_class(resource["resourceType"])
    model.model_validate(resource)


def assert_well_arranged(cards: list[dict[str, Any]]) -> None:
    """The service's own rules for what a client receives (GUIDELINE §5, cards/arrange.py):
    the most serious cards first (clients may not sort); each suggestion offered once in the
    response; a suggestion that creates or deletes starts with a `create` or a `delete`,
    never an `update` (a client applying only the first action, to the draft being written,
    could turn the draft into the order being stopped; on the chart a bare stop of a current
    order is all updates); a source `url`, if any, an absolute web address (never "#")."""
    ranks = [SEVERITY_RANK[c["indicator"]] for c in cards]
    assert ranks == sorted(ranks), f"cards out of order: {[c['indicator'] for c in cards]}"
    seen: set[str] = set()
    for card in cards:
        url = card["source"].get("url")
        assert url is None or url.startswith(("https://", "http://")), url
        for suggestion in card.get("suggestions", []):
            types = [a["type"] for a in suggestion["actions"]]
            assert types[0] != "update" or set(types) == {"update"}, suggestion
            what = json.dumps(
                [{k: v for k, v in a.items() if k != "description"} for a in suggestion["actions"]],
                sort_keys=True,
            )
            assert what not in seen, f"offered twice: {suggestion['label']}"
            seen.add(what)


def assert_conformant(response: dict[str, Any]) -> None:
    assert set(response) <= {"cards", "systemActions"}
    assert isinstance(response["cards"], list)
    assert_no_empty(response)
    assert_well_arranged(response["cards"])
    for card in response["cards"]:
        assert len(card["summary"]) < 140
        assert card["indicator"] in ("info", "warning", "critical")
        assert card["source"]["label"]
        assert card["source"]["topic"]["code"] and card["source"]["topic"]["system"]
        assert card["uuid"]
        if card.get("suggestions"):
            assert card["selectionBehavior"] in ("at-most-one", "any")
            recommended = [s for s in card["suggestions"] if s.get("isRecommended")]
            if len(recommended) > 1:
                assert card["selectionBehavior"] == "any"
        else:
            assert "selectionBehavior" not in card
        if card["indicator"] in ("warning", "critical"):
            assert card["overrideReasons"]
        for reason in card.get("overrideReasons", []):
            assert reason["display"] and reason["code"] and reason["system"]
        for suggestion in card.get("suggestions", []):
            assert suggestion["label"] and suggestion["uuid"]
            for action in suggestion["actions"]:
                assert action["description"]
                if action["type"] == "delete":
                    assert "resource" not in action
                    assert action["resourceId"].count("/") == 1
                else:
                    assert_valid_fhir(action["resource"])
