"""Cards for order-select and order-sign: one card per precaution, with its one-click fixes.

The guideline has chosen each finding's severity for the hook and the alternatives to offer
(a fix never creates an order that raises a card of its own); here they are only worded.
"""

from __future__ import annotations

from cards.actions import Drafting
from cards.arrange import arrange
from cards.models import Card
from cards.precautions import render
from guideline.findings import Finding


def order_cards(findings: tuple[Finding, ...], drafting: Drafting) -> list[Card]:
    """The most serious first; a fix two cards reach is offered once (`cards.arrange`)."""
    return arrange(render(findings, drafting))
