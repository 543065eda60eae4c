"""A deadline on database work that holds even when the database hangs.

`asyncio.wait_for` cancels the work at the deadline and then waits for it to unwind; a
connection cancelled mid-statement unwinds by talking to the server again (a rollback, a
cancel request), which against a frozen server hangs too. Here the caller gets its answer at
the deadline and the cancelled work finishes unwinding in the background.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from cds.storage.database import StorageUnavailable

T = TypeVar("T")

# Work abandoned at its deadline, kept referenced until it has unwound.
_unwinding: set[asyncio.Task[Any]] = set()


class StorageTimeout(StorageUnavailable):
    """The database did not finish the work within its deadline."""


async def within(seconds: float, work: Coroutine[Any, Any, T], what: str) -> T:
    """The result of `work`, or StorageTimeout after `seconds` (the work is then cancelled)."""
    task = asyncio.ensure_future(work)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    except asyncio.CancelledError:
        _abandon(task)
        raise
    if not done:
        _abandon(task)
        raise StorageTimeout(f"{what}: no answer from the database within {seconds:g} s")
    return task.result()


async def unwound(seconds: float) -> None:
    """Give the work abandoned on this event loop up to `seconds` to unwind (before the loop
    closes: its driver threads would otherwise report into a closed loop)."""
    loop = asyncio.get_running_loop()
    mine = {task for task in _unwinding if task.get_loop() is loop}
    if mine:
        await asyncio.wait(mine, timeout=seconds)


def _abandon(task: asyncio.Task[Any]) -> None:
    task.cancel()
    _unwinding.add(task)
    task.add_done_callback(_unwound)


def _unwound(task: asyncio.Task[Any]) -> None:
    _unwinding.discard(task)
    if not task.cancelled():
        # Retrieved so that an error of abandoned work is not reported as never retrieved.
        task.exception()
