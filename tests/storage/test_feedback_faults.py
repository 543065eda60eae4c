"""Feedback against a real PostgreSQL server that hangs or deadlocks: a 503 within the
deadline, reports taken in one order, and a deadlock retried once, then a 409."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from fastapi.testclient import TestClient

from bench.tcp_proxy import TcpProxy
from cds.app import create_app
from cds.settings import Settings
from cds.storage.database import Database, StorageConflict
from cds.storage.records import FeedbackRecord
from cds.storage.store import Store
from tests.card_records import serving, show_cards_async
from tests.feedback_requests import (
    PATIENT_VIEW,
    drain_card_records,
    overridden,
    send_feedback,
    show_cards,
)
from tests.storage.test_store import AT

DEADLINE_S = 0.5


def settings_for(url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=url, cds_state_dir=str(tmp_path / "state"), cds_db_timeout_s=DEADLINE_S
    )


@contextmanager
def sql(postgres_url: str) -> Iterator[Any]:
    """A cursor of our own on the test's database (not through the service)."""
    connection = psycopg2.connect(postgres_url)
    try:
        yield connection.cursor()
        connection.commit()
    finally:
        connection.close()


def card_on_record(postgres_url: str, uuid: str) -> bool:
    with sql(postgres_url) as cursor:
        cursor.execute("SELECT count(*) FROM emitted_cards WHERE card_uuid = %s", (uuid,))
        found: int = cursor.fetchone()[0]
        return found == 1


def stored_reports(postgres_url: str) -> int:
    with sql(postgres_url) as cursor:
        cursor.execute("SELECT count(*) FROM feedback")
        count: int = cursor.fetchone()[0]
        return count


def test_a_table_held_by_another_transaction_gives_503_within_the_deadline(
    postgres_url: str, tmp_path: Path
) -> None:
    with TestClient(create_app(settings_for(postgres_url, tmp_path))) as client:
        card = show_cards(client)[0]
        holder = psycopg2.connect(postgres_url)
        try:
            holder.cursor().execute("LOCK TABLE feedback IN ACCESS EXCLUSIVE MODE")
            response = send_feedback(client, overridden(card))
            # Answered while the lock is still held: the request did not wait for it.
            assert response.status_code == 503
            [issue] = response.json()["issue"]
            assert issue["code"] == "transient"
        finally:
            holder.rollback()
            holder.close()
        assert send_feedback(client, overridden(card)).status_code == 200
    assert stored_reports(postgres_url) == 1


def test_a_frozen_database_gives_503_for_feedback_and_readiness(
    proxied_url: str, proxy: TcpProxy, tmp_path: Path
) -> None:
    with TestClient(create_app(settings_for(proxied_url, tmp_path))) as client:
        card = show_cards(client)[0]
        proxy.freeze()
        try:
            assert send_feedback(client, overridden(card)).status_code == 503
            readiness = client.get("/readyz")
            assert readiness.status_code == 503
            assert readiness.json()["issue"][0]["diagnostics"] == (
                f"database: unreachable: readiness: no answer from the database within "
                f"{DEADLINE_S:g} s"
            )
        finally:
            proxy.thaw()
        drain_card_records(client)
        assert send_feedback(client, overridden(card)).status_code == 200
        assert client.get("/readyz").status_code == 200


async def test_reordered_concurrent_feedback_batches_all_succeed_without_deadlock(
    postgres_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rounds, per_request = 10, 40
    # Many reports about one card, so that every request holds the same rows.
    settings = settings_for(postgres_url, tmp_path).model_copy(
        # The deadline is not under test here: on a loaded machine three batches queued on
        # the same rows may take longer than the default 2 s, which would be a 503, not a
        # deadlock.
        update={"cds_feedback_max_reports_per_card": rounds * per_request, "cds_db_timeout_s": 30.0}
    )
    async with serving(settings) as (_, client):
        [uuid] = await show_cards_async(client)
        card = {"uuid": uuid}
        url = f"/cds-services/{PATIENT_VIEW}/feedback"
        # Deadlocks are under test, not feedback racing its card's record: wait for the record.
        # (Under heavy CPU load a report sent within milliseconds of its card has been refused
        # as unknown — see the closing note of issue 14.)
        for _ in range(500):
            if card_on_record(postgres_url, uuid):
                break
            await asyncio.sleep(0.01)
        with caplog.at_level(logging.WARNING, logger="cds.storage"):
            for r in range(rounds):
                reports = [
                    overridden(card, at=f"2026-11-24T{r:02d}:{i // 60:02d}:{i % 60:02d}Z")
                    for i in range(per_request)
                ]
                answers = await asyncio.gather(
                    client.post(url, json={"feedback": reports}),
                    client.post(url, json={"feedback": reports[::-1]}),
                    client.post(url, json={"feedback": reports[1::2] + reports[::2]}),
                )
                statuses = [a.status_code for a in answers]
                assert statuses == [200, 200, 200], [a.text[:300] for a in answers]
    assert stored_reports(postgres_url) == rounds * per_request
    # Taken in one order, the batches waited for each other instead of deadlocking.
    assert "deadlock" not in caplog.text


INJECTED_DEADLOCKS = """
CREATE TABLE deadlock_budget (deadlocks integer NOT NULL);
INSERT INTO deadlock_budget VALUES (0);
CREATE SEQUENCE deadlocks_seen;
CREATE FUNCTION inject_deadlock() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A sequence is not rolled back with the transaction it aborts: it counts attempts.
    IF nextval('deadlocks_seen') <= (SELECT deadlocks FROM deadlock_budget) THEN
        RAISE EXCEPTION 'deadlock detected (injected by the test)' USING ERRCODE = '40P01';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER inject_deadlock BEFORE INSERT ON feedback
    FOR EACH ROW EXECUTE FUNCTION inject_deadlock();
"""


def deadlocks_ahead(postgres_url: str, count: int) -> None:
    with sql(postgres_url) as cursor:
        cursor.execute("UPDATE deadlock_budget SET deadlocks = %s", (count,))
        cursor.execute("SELECT setval('deadlocks_seen', 1, false)")


def test_a_deadlock_is_retried_once_and_one_that_persists_is_a_409(
    postgres_url: str, tmp_path: Path
) -> None:
    with TestClient(create_app(settings_for(postgres_url, tmp_path))) as client:
        first, second = show_cards(client)[0], show_cards(client)[0]
        with sql(postgres_url) as cursor:
            cursor.execute(INJECTED_DEADLOCKS)

        deadlocks_ahead(postgres_url, 1)
        assert send_feedback(client, overridden(first)).status_code == 200

        deadlocks_ahead(postgres_url, 2)
        response = send_feedback(client, overridden(second))
        assert response.status_code == 409
        [issue] = response.json()["issue"]
        assert issue["code"] == "conflict"
        assert "send it again" in issue["diagnostics"]
    assert stored_reports(postgres_url) == 1


async def test_the_store_retries_a_deadlock_only_once(postgres_url: str) -> None:
    database = Database(postgres_url)
    await database.migrate()
    with sql(postgres_url) as cursor:
        cursor.execute(INJECTED_DEADLOCKS)
    deadlocks_ahead(postgres_url, 3)
    with pytest.raises(StorageConflict):
        await Store(database).save_feedback([FeedbackRecord("c1", "svc", "overridden", AT)])
    await database.dispose()
    with sql(postgres_url) as cursor:
        cursor.execute("SELECT last_value FROM deadlocks_seen")
        assert cursor.fetchone()[0] == 2


def test_feedback_about_a_card_still_on_its_way_is_later_not_unknown(
    postgres_url: str, tmp_path: Path
) -> None:
    """The database answers queries but takes no card records (a lock on their table): a
    card just shown waits in the journal, and feedback about it is told to come back, not
    that the card is unknown."""
    settings = Settings(database_url=postgres_url, cds_state_dir=str(tmp_path / "state"))
    with TestClient(create_app(settings)) as client:
        holder = psycopg2.connect(postgres_url)
        try:
            holder.cursor().execute("LOCK TABLE emitted_cards IN EXCLUSIVE MODE")
            card = show_cards(client)[0]
            response = send_feedback(client, overridden(card))
            assert response.status_code == 503
            assert response.json()["issue"][0]["code"] == "transient"
        finally:
            holder.rollback()
            holder.close()
        drain_card_records(client)
        assert send_feedback(client, overridden(card)).status_code == 200
