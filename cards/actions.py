"""The guideline's alternatives → one-click suggestions (CDS Hooks actions).

For a swap the `create` comes first, then the `delete` or `update`: some CDS clients apply
only the first action (GUIDELINE §5). Stopping a current order is an `update` carrying the
whole order with status `stopped`, so the EHR's own resource is needed: `Originals` looks it
up. A suggestion that cannot be built whole (an order without an id, an order whose resource
is not at hand) is left out rather than offered half, which could stack two agents.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from cards.catalog import Catalog
from cards.models import Action, Suggestion, is_relative_reference
from cards.wording import agents
from facts.medications import MedicationFact
from facts.orders import SplintOrder
from guideline.findings import Alternative, Change
from guideline.therapies import Therapy

# The EHR's resource for a reference (`MedicationRequest/123`), or None when not at hand.
Originals = Callable[[str], Mapping[str, Any] | None]


def no_originals(reference: str) -> Mapping[str, Any] | None:
    return None


def json_copy(resource: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of FHIR JSON, through orjson: 2 µs for an order where copy.deepcopy takes
    16. Anything orjson cannot write (not JSON) is copied the slow way."""
    try:
        copied: dict[str, Any] = orjson.loads(orjson.dumps(resource))
    except orjson.JSONEncodeError:
        return copy.deepcopy(resource)
    return copied


@dataclass(frozen=True, slots=True)
class Drafting:
    """What every suggestion needs: the catalogue, the patient, the reason to cite."""

    catalog: Catalog
    patient_id: str
    reason: str | None
    originals: Originals = no_originals
    # False when the patient's allergies and intolerances could not be obtained: the
    # suggestions were then not checked against them, and the cards say so.
    allergies_checked: bool = True

    def create(self, therapy: Therapy) -> Action:
        name = self.catalog.label(therapy)
        return Action(
            type="create",
            description=f"Draft order: {name} (set dose and directions)",
            resource=self.catalog.resource(therapy, self.patient_id, self.reason),
        )

    def delete(self, order: MedicationFact | SplintOrder) -> Action | None:
        if not is_relative_reference(order.reference):
            return None
        what = (
            order.label if isinstance(order, SplintOrder) else f"the draft order for {order.label}"
        )
        return Action(type="delete", description=f"Remove {what}", resourceId=order.reference)

    def stop(self, order: MedicationFact) -> Action | None:
        original = (
            self.originals(order.reference) if is_relative_reference(order.reference) else None
        )
        if original is None:
            return None
        stopped = json_copy(dict(original)) | {"status": "stopped"}
        return Action(
            type="update",
            description=f"Stop {order.reference} ({agents([order])})",
            resource=stopped,
            resourceId=order.reference,
        )

    def suggestion(self, alternative: Alternative) -> Suggestion | None:
        actions: list[Action | None] = []
        if alternative.therapy is not None:
            actions.append(self.create(alternative.therapy))
        actions.extend(self.delete(o) for o in alternative.removes)
        actions.extend(self.stop(o) for o in alternative.stops)
        if not actions or any(a is None for a in actions):
            return None
        return Suggestion(label=self.label(alternative), actions=[a for a in actions if a])

    def switch(self, therapy: Therapy, stops: tuple[MedicationFact, ...]) -> Suggestion | None:
        return self.suggestion(Alternative(Change.SWITCH, therapy, stops=stops))

    def label(self, alternative: Alternative) -> str:
        change, therapy = alternative.change, alternative.therapy
        if therapy is not None:
            to = self.catalog.label(therapy).lower()
            if change is Change.SWITCH:
                return f"Switch from {agents(alternative.stops)} to {to}"
            return f"Replace with {to}"
        removed = [o for o in alternative.removes if isinstance(o, MedicationFact)]
        if change is Change.STOP_CURRENT:
            dropped = agents((*removed, *alternative.stops))
            if all(k.current for k in alternative.keeps):
                return f"Stop {dropped}; continue {agents(alternative.keeps)}"
            return f"Switch from {dropped} to {agents(alternative.keeps)}"
        if not removed:
            return "Remove the splint order" + ("s" if len(alternative.removes) > 1 else "")
        if alternative.keeps:
            return f"Keep {agents(alternative.keeps)}: remove the {agents(removed)} draft"
        return f"Remove the {agents(removed)} draft"
