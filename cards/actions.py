"""The guideline's alternatives → one-click suggestions (CDS Hooks actions).

For a swap the `create` comes first, then the `delete` or `update`: some CDS clients apply
only the first action (GUIDELINE §5). Stopping a current order is an `update` carrying the
whole order with status `stopped`, so the EHR's own resource is needed: `Originals` looks it
up. A suggestion that cannot be built whole (an order without an id, an order whose resource
is not at hand) is left out rather than offered half, which could stack two agents.

At order time no suggestion starts with an `update`. Some clients (the CDS Hooks sandbox
among them) apply one action only, and apply a `create` or `update` that names a medication
to the draft being written: a switch whose only action stopped the current nortriptyline
turned the duloxetine draft into nortriptyline, the opposite of its label. So a switch
towards a drafted agent starts by re-creating that draft as written (a copy without its id,
dose and directions kept), then deletes the original draft, then stops the current order. A
client that applies only the first action keeps duloxetine as drafted, and the next hook call
warns again about the nortriptyline; one that applies all three ends with the same draft and
nortriptyline stopped. (The sandbox skips a `create` whose medication equals the draft's and
applies the next action, the `delete`: the draft is cleared, never turned into the drug being
stopped. No order of these actions does better there: the sandbox cannot stop another order,
and whatever reaches it first names a drug or clears the draft.)
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
    # The draft orders of the request, by reference: a switch re-creates a draft from it.
    drafts: Originals = no_originals
    # False when the patient's allergies and intolerances could not be obtained: the
    # suggestions were then not checked against them, and the cards say so.
    allergies_checked: bool = True

    def create(self, therapy: Therapy) -> Action:
        name = self.catalog.label(therapy)
        resource = self.catalog.resource(therapy, self.patient_id, self.reason)
        return Action(
            type="create", description=draft_description(name, resource), resource=resource
        )

    def redraft(self, order: MedicationFact) -> Action | None:
        """The draft again, as written: a copy with no id (a new resource), its dose and
        directions kept. The EHR's identifiers and metadata belong to the original."""
        original = self.drafts(order.reference) if is_relative_reference(order.reference) else None
        if original is None:
            return None
        resource = {k: copy.deepcopy(v) for k, v in original.items() if k not in _NOT_COPIED}
        resource["status"] = "draft"
        name = agents([order])
        return Action(
            type="create",
            description=f"Draft order: {name[:1].upper()}{name[1:]}, as drafted "
            "(dose and directions kept)",
            resource=resource,
        )

    def delete(
        self, order: MedicationFact | SplintOrder, *, redrafted: bool = False
    ) -> Action | None:
        if not is_relative_reference(order.reference):
            return None
        what = (
            order.label if isinstance(order, SplintOrder) else f"the draft order for {order.label}"
        )
        copied = " (its copy above takes its place)" if redrafted else ""
        return Action(
            type="delete", description=f"Remove {what}{copied}", resourceId=order.reference
        )

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
        redrafted = _redrafted(alternative)
        actions.extend(self.redraft(o) for o in redrafted)
        actions.extend(self.delete(o, redrafted=True) for o in redrafted)
        actions.extend(self.delete(o) for o in alternative.removes)
        actions.extend(self.stop(o) for o in alternative.stops)
        if not actions or any(a is None for a in actions):
            return None
        return Suggestion(label=self.label(alternative), actions=[a for a in actions if a])

    def switch(self, therapy: Therapy, stops: tuple[MedicationFact, ...]) -> Suggestion | None:
        return self.suggestion(Alternative(Change.SWITCH, therapy, stops=stops))

    def label(self, alternative: Alternative) -> str:
        change, therapy, stops = alternative.change, alternative.therapy, alternative.stops
        removed = [o for o in alternative.removes if isinstance(o, MedicationFact)]
        if therapy is not None:
            to = self.catalog.label(therapy).lower()
            if stops and removed:
                return (
                    f"Switch to {to}: remove the {agents(removed)} draft and stop {agents(stops)}"
                )
            if stops:
                return f"Switch from {agents(stops)} to {to}"
            return f"Replace with {to}"
        if change is Change.STOP_CURRENT:
            dropped = agents((*removed, *stops))
            if all(k.current for k in alternative.keeps):
                return f"Stop {dropped}; continue {agents(alternative.keeps)}"
            return f"Switch from {dropped} to {agents(alternative.keeps)}"
        if not removed:
            return "Remove the splint order" + ("s" if len(alternative.removes) > 1 else "")
        also = f" and stop {agents(stops)}" if stops else ""
        if alternative.keeps:
            return f"Keep {agents(alternative.keeps)}: remove the {agents(removed)} draft{also}"
        return f"Remove the {agents(removed)} draft{also}"


# Left out of a re-created draft: the new resource gets its own id, metadata and identifiers.
_NOT_COPIED = frozenset({"id", "meta", "identifier"})


def _redrafted(alternative: Alternative) -> tuple[MedicationFact, ...]:
    """The drafts a suggestion re-creates first: those it keeps when it would otherwise start
    by stopping a current order (nothing created, no draft deleted)."""
    if alternative.therapy is not None or alternative.removes or not alternative.stops:
        return ()
    return tuple(k for k in alternative.keeps if not k.current)


def draft_description(name: str, resource: Mapping[str, Any]) -> str:
    """ "Draft order: Duloxetine (set dose and directions)": the same words on every card. A
    medication whose directions come with it still needs its dose; a service request needs
    the prescriber's details."""
    if resource.get("resourceType") != "MedicationRequest":
        return f"Draft order: {name} (complete the request)"
    if resource.get("dosageInstruction"):
        return f"Draft order: {name} (set dose; directions prefilled)"
    return f"Draft order: {name} (set dose and directions)"
