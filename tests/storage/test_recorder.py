"""The card recorder on each database: every hook call's cards are written, in few writes."""

from __future__ import annotations

from pathlib import Path

from cards.models import Card
from cards.source import source
from cds.storage.journal import CardJournal
from cds.storage.recorder import CardRecorder
from cds.storage.store import Store
from cds.storage.writer import MAX_BATCH
from guideline.findings import Severity
from tests.card_records import metric, recorded_uuids_async


def cards(count: int) -> list[Card]:
    return [
        Card(summary="TCA dose check", indicator=Severity.INFO, source=source("tca-dose"))
        for _ in range(count)
    ]


async def test_a_burst_of_hook_calls_is_recorded_whole_in_few_writes(
    store: Store, database_url: str, tmp_path: Path
) -> None:
    journal = CardJournal.open(tmp_path, database_url, max_cards=100_000)
    recorder = CardRecorder(journal, database_url, schema_ready=True)
    writes = metric("cds_card_write_seconds_count")
    recorded = metric("cds_cards_recorded_total")
    recorder.start()
    calls = 3 * MAX_BATCH
    submitted = [cards(2) for _ in range(calls)]
    for call in submitted:
        recorder.submit("phantom-limb-pain-order-sign", call)

    assert await recorder.drain()
    await recorder.close(budget_s=1.0)

    assert await store.cards_shown() == {"tca-dose": 2 * calls}
    assert await recorded_uuids_async(database_url) == sorted(
        card.uuid for call in submitted for card in call
    )
    assert metric("cds_cards_recorded_total") - recorded == 2 * calls
    # Batched: the writer takes whatever has queued, so a burst costs a few writes, not one
    # per hook call.
    assert metric("cds_card_write_seconds_count") - writes <= calls // 50
