"""The card rules live in the card models: a card that breaks them cannot be built."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from cards.models import Action, Card, OverrideReason, Suggestion
from cards.source import override_reasons, source
from guideline.findings import Severity

DRAFT = {"resourceType": "MedicationRequest", "status": "draft", "intent": "order"}


def card(**fields: Any) -> Card:
    base: dict[str, Any] = {
        "summary": "A summary",
        "indicator": Severity.INFO,
        "source": source("treatment-step"),
    }
    return Card(**(base | fields))


def suggestion(label: str = "Do it", **fields: Any) -> Suggestion:
    action = Action(type="create", description="Draft", resource=DRAFT)
    return Suggestion(label=label, actions=[action], **fields)


def test_a_valid_card_is_built() -> None:
    built = card(
        indicator=Severity.WARNING,
        suggestions=[suggestion()],
        selectionBehavior="at-most-one",
        overrideReasons=override_reasons("dose-intended"),
    )
    assert built.indicator is Severity.WARNING and built.selectionBehavior == "at-most-one"


@pytest.mark.parametrize("count", [1, 2])
def test_suggestions_need_a_selection_behavior(count: int) -> None:
    with pytest.raises(ValidationError, match="selectionBehavior"):
        card(suggestions=[suggestion() for _ in range(count)])


def test_no_selection_behavior_without_suggestions() -> None:
    with pytest.raises(ValidationError, match="without suggestions"):
        card(selectionBehavior="any")


def test_several_recommended_suggestions_need_any() -> None:
    recommended = [suggestion(isRecommended=True), suggestion(isRecommended=True)]
    with pytest.raises(ValidationError, match="any"):
        card(suggestions=recommended, selectionBehavior="at-most-one")
    assert card(suggestions=recommended, selectionBehavior="any").selectionBehavior == "any"


@pytest.mark.parametrize("severity", [Severity.WARNING, Severity.CRITICAL])
def test_warning_and_critical_need_override_reasons(severity: Severity) -> None:
    with pytest.raises(ValidationError, match="overrideReasons"):
        card(indicator=severity)
    with pytest.raises(ValidationError, match="overrideReasons"):
        card(indicator=severity, overrideReasons=[])


def test_an_override_reason_needs_a_display() -> None:
    with pytest.raises(ValidationError):
        OverrideReason(system="urn:x", code="c")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        OverrideReason(system="urn:x", code="c", display="")


def test_the_summary_is_under_140_characters() -> None:
    assert card(summary="x" * 139).summary
    with pytest.raises(ValidationError):
        card(summary="x" * 140)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"type": "delete"}, "resourceId"),
        ({"type": "delete", "resourceId": "draft-1"}, "Type/id"),
        (
            {"type": "delete", "resourceId": "MedicationRequest/d1", "resource": DRAFT},
            "no resource",
        ),
        ({"type": "update", "resource": DRAFT}, "resourceId"),
        ({"type": "update", "resourceId": "MedicationRequest/d1"}, "resource"),
        ({"type": "create"}, "resource"),
        (
            {"type": "create", "resource": DRAFT, "resourceId": "MedicationRequest/d1"},
            "no resourceId",
        ),
        ({"type": "create", "resource": DRAFT, "description": ""}, "description"),
    ],
)
def test_actions_have_their_shape(fields: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        Action(**({"description": "x"} | fields))


def test_well_formed_actions() -> None:
    assert Action(type="delete", description="x", resourceId="MedicationRequest/d-1.2").resourceId
    update = Action(
        type="update", description="x", resourceId="MedicationRequest/a1", resource=DRAFT
    )
    assert update.resource == DRAFT


def test_a_suggestion_with_an_empty_action_list_is_refused() -> None:
    with pytest.raises(ValidationError):
        Suggestion(label="x", actions=[])
