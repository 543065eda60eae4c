"""Card records through database faults on a real PostgreSQL server, as the service sees them
through a TCP proxy: stopped and started again under load, and a write that committed but
whose acknowledgement never came."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

from bench.tcp_proxy import TcpProxy
from cds.settings import Settings
from cds.storage.database import Database
from cds.storage.deadline import within
from cds.storage.records import EmittedCard
from cds.storage.store import Store
from cds.storage.tables import emitted_cards
from cds.storage.writer import writer_session_settings
from tests.card_records import (
    metric,
    recorded_uuids_async,
    recorder_of,
    serving,
    show_cards_async,
    wait_until_async,
)

LOSS_REASONS = ("journal_full", "journal_error", "queue_full", "unreadable")


def settings_for(url: str, tmp_path: Path, timeout_s: float = 1.0) -> Settings:
    return Settings(
        database_url=url,
        cds_state_dir=str(tmp_path / "state"),
        cds_record_timeout_s=timeout_s,
        cds_record_retry_max_s=0.2,
    )


def lost() -> float:
    return sum(metric("cds_cards_lost_total", reason=r) for r in LOSS_REASONS)


async def test_a_database_stopped_and_started_under_load_loses_no_card(
    postgres_url: str, proxied_url: str, proxy: TcpProxy, tmp_path: Path
) -> None:
    returned: list[str] = []
    lost_before = lost()
    failures = metric("cds_card_write_failures_total")
    async with serving(settings_for(proxied_url, tmp_path)) as (app, client):
        recorder = recorder_of(app)

        async def load(calls: int) -> None:
            async def user(n: int) -> None:
                for _ in range(n):
                    returned.extend(await show_cards_async(client))

            await asyncio.gather(*(user(calls // 4) for _ in range(4)))

        await load(40)
        proxy.stop()
        await load(40)
        await wait_until_async(lambda: recorder.state().failed_writes >= 2, "failed writes")
        await load(40)
        held = recorder.state().journal_cards
        proxy.start()
        await load(40)
        assert await recorder.drain(timeout_s=30)

    assert held > 0, "the outage held records in the journal"
    assert metric("cds_card_write_failures_total") >= failures + 2
    assert lost() == lost_before
    assert await recorded_uuids_async(postgres_url) == sorted(returned)


async def test_a_write_committed_but_never_acknowledged_is_neither_lost_nor_doubled(
    postgres_url: str, proxied_url: str, proxy: TcpProxy, tmp_path: Path
) -> None:
    async with serving(settings_for(proxied_url, tmp_path, timeout_s=0.5)) as (app, client):
        recorder = recorder_of(app)
        first = await show_cards_async(client)
        assert await recorder.drain()
        recorded, failures, lost_before = (
            metric("cds_cards_recorded_total"),
            metric("cds_card_write_failures_total"),
            lost(),
        )

        # The server commits the next write, but its answer to COMMIT is held back: the
        # writer's deadline passes with the rows already in the database.
        proxy.hold_replies_after(b"COMMIT")
        shown = await show_cards_async(client)
        await wait_until_async(
            lambda: metric("cds_card_write_failures_total") > failures, "the write's deadline"
        )
        assert proxy.replies_held
        assert await recorded_uuids_async(postgres_url) == sorted(first + shown)
        assert recorder.state().journal_cards == len(shown)

        # Written again once the database answers: the repeat adds no row and no count.
        proxy.thaw()
        assert await recorder.drain(timeout_s=30)

    assert await recorded_uuids_async(postgres_url) == sorted(first + shown)
    assert metric("cds_cards_recorded_total") - recorded == len(shown)
    assert lost() == lost_before


async def test_a_dead_writers_unfinished_write_does_not_hold_up_its_rewrite(
    postgres_url: str, proxied_url: str, proxy: TcpProxy
) -> None:
    """A worker killed mid-write leaves a transaction holding the rows it inserted; the
    worker that writes them again from the journal would wait for it until TCP noticed the
    client gone, which can take hours. The writer's sessions tell the server to end a
    transaction left idle longer than a write may take."""
    await Database(postgres_url).migrate()
    card = EmittedCard("c-1", "svc", "tca-dose", "warning", "TCA dose", datetime.now(UTC))
    dead = Database(
        proxied_url, schema_ready=True, pre_ping=False, session_settings=writer_session_settings(0)
    )
    connection = await dead.engine.connect()
    await connection.begin()
    row = {k: v for k, v in asdict(card).items() if k not in ("issuer", "override_reasons")}
    await connection.execute(insert(emitted_cards), [row])
    proxy.freeze()  # its client is gone: nothing more comes from it, and no COMMIT
    try:
        survivor = Database(postgres_url, schema_ready=True)
        await within(10, Store(survivor).record_cards([card]), "the rewrite")
        await survivor.dispose()
    finally:
        proxy.thaw()
        with contextlib.suppress(Exception):
            await connection.close()
        await dead.dispose()
    assert await recorded_uuids_async(postgres_url) == ["c-1"]
