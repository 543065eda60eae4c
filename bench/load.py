"""A lean HTTP/1.1 load client that keeps what the service answered: the uuid of every card
in every 200 response, so that cards returned can be compared with cards recorded.

Raw asyncio streams, one pre-built request, no HTTP library: on a two-core machine the client
must leave the server its core. Two shapes of load:

- `closed_loop`: N keep-alive connections, each sending its next call as soon as the last
  one is answered (saturation);
- `open_loop`: calls started at a fixed rate whatever the answers, each on a connection of
  its own (so they spread over the workers, and a killed worker fails only its own calls).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import orjson

# Calls in flight at most in an open loop: beyond it calls are not started, and counted.
MAX_IN_FLIGHT = 2_000


@dataclass(slots=True)
class LoadOutcome:
    calls: int = 0
    ok: int = 0
    failed: int = 0  # an answer other than 200, or no answer
    not_started: int = 0  # open loop only: too many calls already in flight
    card_uuids: list[str] = field(default_factory=list)
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)

    def merge(self, other: LoadOutcome) -> None:
        self.calls += other.calls
        self.ok += other.ok
        self.failed += other.failed
        self.not_started += other.not_started
        self.card_uuids += other.card_uuids
        self.latencies_ms += other.latencies_ms


def request_bytes(host: str, port: int, path: str, body: bytes, *, close: bool) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    )
    if close:
        head += "Connection: close\r\n"
    return head.encode() + b"\r\n" + body


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = await reader.readexactly(length) if length else b""
    return status, body


def _keep(outcome: LoadOutcome, status: int, body: bytes) -> None:
    outcome.calls += 1
    if status != 200:
        outcome.failed += 1
        return
    outcome.ok += 1
    outcome.card_uuids += [card["uuid"] for card in orjson.loads(body)["cards"]]


async def closed_loop(
    host: str, port: int, path: str, body: bytes, *, concurrency: int, seconds: float
) -> LoadOutcome:
    request = request_bytes(host, port, path, body, close=False)
    outcome = LoadOutcome()
    started = time.monotonic()
    until = started + seconds

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.monotonic() < until:
                sent = time.monotonic()
                try:
                    status, answer = await _exchange(reader, writer, request)
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    outcome.calls += 1
                    outcome.failed += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                    continue
                outcome.latencies_ms.append((time.monotonic() - sent) * 1000)
                _keep(outcome, status, answer)
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    outcome.seconds = time.monotonic() - started
    return outcome


class OpenLoop:
    """Calls at `rate` per second until stopped; read `outcome` after `stop()`."""

    def __init__(self, host: str, port: int, path: str, body: bytes, rate: float) -> None:
        self.host, self.port = host, port
        self.request = request_bytes(host, port, path, body, close=True)
        self.rate = rate
        self.outcome = LoadOutcome()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._runner: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._runner = asyncio.create_task(self._run())

    async def stop(self) -> LoadOutcome:
        self._stopping = True
        assert self._runner is not None
        await self._runner
        if self._in_flight:
            await asyncio.wait(self._in_flight, timeout=30)
        return self.outcome

    async def _run(self) -> None:
        started = time.monotonic()
        sent = 0
        while not self._stopping:
            due = started + sent / self.rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            sent += 1
            if len(self._in_flight) >= MAX_IN_FLIGHT:
                self.outcome.not_started += 1
                continue
            task = asyncio.create_task(self._call())
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
        self.outcome.seconds = time.monotonic() - started

    async def _call(self) -> None:
        sent = time.monotonic()
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), 10
            )
        except (OSError, TimeoutError):
            self.outcome.calls += 1
            self.outcome.failed += 1
            return
        try:
            status, body = await asyncio.wait_for(_exchange(reader, writer, self.request), 30)
        except (OSError, asyncio.IncompleteReadError, ValueError, TimeoutError):
            self.outcome.calls += 1
            self.outcome.failed += 1
            return
        finally:
            writer.close()
        self.outcome.latencies_ms.append((time.monotonic() - sent) * 1000)
        _keep(self.outcome, status, body)
