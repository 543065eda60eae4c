"""Every hook's work grows linearly with the drafts and resources it is sent: 4,000 drafts
must not cost a worker seconds (and block /healthz). Measured in Python function calls
(cProfile's count, deterministic), not in time: quadratic work shows as a call count
that grows with the square of the drafts."""

from __future__ import annotations

import asyncio
import cProfile
import pstats
from typing import Any

import pytest

from cds.api.hooks import answer
from cds.api.models import HookRequest
from cds.api.services import SERVICES
from cds.fhir.patient_data import no_resolution, prefetch_only
from cds.settings import Settings
from tests.fhir import SERVICE_IDS, bundle, condition, dosage, hook_request, med, plp

NORTRIPTYLINE_10MG = "198045"


def request(hook: str, drafts: int, resources: int) -> dict[str, Any]:
    orders = [
        med(NORTRIPTYLINE_10MG, status="draft", id=f"draft-{n}", dosages=[dosage(10, "mg")])
        for n in range(drafts)
    ]
    context: dict[str, Any] = {"draftOrders": bundle(*orders, type="collection")}
    if hook == "order-select":
        # Half as bare ids, half as Type/id: both forms are matched to their drafts.
        context["selections"] = [
            f"MedicationRequest/draft-{n}" if n % 2 else f"draft-{n}" for n in range(drafts)
        ]
    conditions = [plp()] + [condition("I10", id=f"htn-{n}") for n in range(resources)]
    medications = [
        med(NORTRIPTYLINE_10MG, id=f"active-{n}", dosages=[dosage(10, "mg")])
        for n in range(resources)
    ]
    return hook_request(
        hook, conditions=bundle(*conditions), medications=bundle(*medications), **context
    )


def calls(hook: str, drafts: int, resources: int) -> int:
    body = HookRequest.model_validate(request(hook, drafts, resources))
    service = SERVICES[SERVICE_IDS[hook]]
    profile = cProfile.Profile()
    profile.enable()
    response = asyncio.run(answer(service, body, prefetch_only, no_resolution, Settings()))
    profile.disable()
    assert response.cards
    return pstats.Stats(profile).total_calls  # type: ignore[attr-defined, no-any-return]


@pytest.mark.parametrize("hook", ["order-sign", "order-select", "patient-view"])
def test_work_grows_linearly_with_drafts_and_resources(hook: str) -> None:
    small, large = calls(hook, 250, 250), calls(hook, 1000, 1000)
    # Four times the input: about four times the calls (plus fixed costs), where quadratic
    # work would be sixteen times.
    assert large / small < 4.5, f"{small} calls for 250 drafts, {large} for 1000"
