"""The card recorder under load: every hook call's cards are written, in few INSERTs."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from cards.models import Card
from cards.source import source
from cds.storage.recorder import MAX_BATCH, CardRecorder
from cds.storage.records import EmittedCard
from cds.storage.store import Store
from guideline.findings import Severity


def cards(count: int) -> list[Card]:
    return [
        Card(summary="TCA dose check", indicator=Severity.INFO, source=source("tca-dose"))
        for _ in range(count)
    ]


async def test_a_burst_of_hook_calls_is_recorded_whole_in_batches(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[int] = []
    original = Store.record_cards

    async def counted(self: Store, batch: Sequence[EmittedCard]) -> None:
        writes.append(len(batch))
        await original(self, batch)

    monkeypatch.setattr(Store, "record_cards", counted)
    recorder = CardRecorder(store)
    calls = 3 * MAX_BATCH
    for _ in range(calls):
        recorder.submit("phantom-limb-pain-order-sign", cards(2))
    assert recorder.pending == calls

    await recorder.drain()

    assert recorder.pending == 0
    assert await store.cards_shown() == {"tca-dose": 2 * calls}
    # The first write starts with the first call; the rest are gathered into full batches.
    assert sum(writes) == 2 * calls
    assert len(writes) <= 4
