"""Readiness: each dependency the configuration uses, checked by name within a deadline.

- `database`: answers a query.
- `redis`: answers a PING, when client authentication keeps its replay cache there (without
  it every authenticated call is refused).
- `recorder`: the card writer runs, its journal takes records, and the database takes its
  writes (one failed write is a blip; two in a row are not).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from cds.runtime import Runtime
from cds.security.replay import RedisReplayStore
from cds.storage.database import StorageUnavailable, describe_error
from cds.storage.deadline import within
from cds.storage.writer import Status

# Consecutive failed card writes after which the recorder is reported failing.
FAILING_AFTER = 2


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str
    facts: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"status": "ok" if self.ok else "failing", "detail": self.detail, **self.facts}


async def checks(runtime: Runtime) -> list[Check]:
    timeout = runtime.settings.cds_db_timeout_s
    probes = [_database(runtime, timeout)]
    verifier = runtime.verifier
    if verifier is not None and isinstance(verifier.replay, RedisReplayStore):
        probes.append(_redis(verifier.replay, timeout))
    found = list(await asyncio.gather(*probes))
    found.append(_recorder(runtime))
    return found


async def _database(runtime: Runtime, timeout: float) -> Check:
    database = runtime.database
    if database is None:
        return Check("database", False, "storage is not open")
    try:
        await within(timeout, database.ping(), "readiness")
    except StorageUnavailable as error:
        return Check("database", False, f"unreachable: {error}")
    return Check("database", True, "answers")


async def _redis(replay: RedisReplayStore, timeout: float) -> Check:
    try:
        async with asyncio.timeout(timeout):
            await replay.ping()
    except TimeoutError:
        return Check("redis", False, f"no answer within {timeout:g} s; client JWTs are refused")
    except Exception as error:
        return Check(
            "redis", False, f"unreachable ({describe_error(error)}); client JWTs are refused"
        )
    return Check("redis", True, "answers (JWT replay cache)")


def _recorder(runtime: Runtime) -> Check:
    recorder = runtime.recorder
    if recorder is None:
        return Check("recorder", False, "storage is not open")
    state = recorder.state()
    facts = {"journal_cards": state.journal_cards, "lost_cards": state.lost_cards}
    if state.status is Status.STOPPED:
        return Check("recorder", False, "the card writer is not running", facts)
    if state.status is Status.JOURNAL_FULL:
        return Check("recorder", False, "the card journal is full: cards are being lost", facts)
    if state.failed_writes >= FAILING_AFTER:
        detail = (
            f"{state.failed_writes} card writes in a row failed ({state.last_error}); "
            "records wait in the journal"
        )
        return Check("recorder", False, detail, facts)
    return Check("recorder", True, "writing", facts)
