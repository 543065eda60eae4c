"""An order that splints or immobilises, and where."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class SplintSite(StrEnum):
    RESIDUAL_LIMB = "residual-limb"
    NOT_STATED = "not-stated"
    ELSEWHERE = "elsewhere"


@dataclass(frozen=True, slots=True)
class SplintOrder:
    reference: str
    label: str
    site: SplintSite
