"""CDS Hooks 2.0 response rules (digest §2 and §4) checked on every response a test sees."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B import get_fhir_model_class


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


def assert_conformant(response: dict[str, Any]) -> None:
    assert set(response) <= {"cards", "systemActions"}
    assert isinstance(response["cards"], list)
    assert_no_empty(response)
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
