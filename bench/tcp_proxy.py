"""A TCP proxy between the service and its database, for fault injection.

The PostgreSQL server of a test machine is shared, so it cannot be stopped; the service's
view of a fault can be made here instead, at the network boundary:

- `stop()`: the server is down. Open connections are cut and new ones refused, as when the
  server process is stopped; `start()` brings it back on the same port.
- `freeze()`: the server hangs. Connections stay open but no byte moves either way, as when
  the server is SIGSTOPped or its host stalls; `thaw()` lets everything held through.
- `hold_replies_after(marker)`: once a client sends `marker` (e.g. b"COMMIT"), the server's
  replies are held until `thaw()`: the statement ran, but the client never heard so.

It runs its own event loop in a thread, so synchronous code and any other event loop can
drive it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")
_CHUNK = 64 * 1024


@dataclass(eq=False)
class _Link:
    client: asyncio.StreamWriter
    server: asyncio.StreamWriter
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def abort(self) -> None:
        for writer in (self.client, self.server):
            writer.transport.abort()
        for task in self.tasks:
            task.cancel()


class TcpProxy:
    def __init__(self, target_host: str, target_port: int, host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.host = host
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._to_server = asyncio.Event()
        self._to_client = asyncio.Event()
        self._marker: bytes | None = None
        # Counts stops: a connection whose upstream was still being opened when the proxy
        # stopped is cut once it is open, instead of outliving the stop.
        self._stops = 0
        self.connections = 0

    def __enter__(self) -> TcpProxy:
        self._thread.start()
        self._call(self._open_events())
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    # -- controls -------------------------------------------------------------------------

    def start(self) -> None:
        """Listen (again): the database is up."""
        self._call(self._listen())

    def stop(self) -> None:
        """Cut every connection and refuse new ones: the database is down."""
        self._call(self._shut())

    def freeze(self) -> None:
        """Hold every byte in both directions: the database hangs."""
        self._call(self._set_gates(to_server=False, to_client=False))

    def thaw(self) -> None:
        """Let held bytes through and forward freely again."""
        self._marker = None
        self._call(self._set_gates(to_server=True, to_client=True))

    def hold_replies_after(self, marker: bytes) -> None:
        """From the next client message holding `marker` on, hold the server's replies."""
        self._marker = marker

    @property
    def replies_held(self) -> bool:
        return not self._to_client.is_set()

    # -- the loop's side ------------------------------------------------------------------

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    async def _open_events(self) -> None:
        self._to_server.set()
        self._to_client.set()

    async def _set_gates(self, *, to_server: bool, to_client: bool) -> None:
        for gate, is_open in ((self._to_server, to_server), (self._to_client, to_client)):
            if is_open:
                gate.set()
            else:
                gate.clear()

    async def _listen(self) -> None:
        if self._server is not None:
            return
        self._server = await asyncio.start_server(
            self._accept, self.host, self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _shut(self) -> None:
        self._stops += 1
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for link in list(self._links):
            link.abort()
        self._links.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._server is None:
            # Accepted before a stop, handed to this task after it.
            writer.transport.abort()
            return
        stops = self._stops
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        if self._stops != stops:
            # Stopped while this connection was being opened.
            writer.transport.abort()
            upstream_writer.transport.abort()
            return
        self.connections += 1
        link = _Link(client=writer, server=upstream_writer)
        self._links.add(link)
        link.tasks = [
            asyncio.create_task(self._pump(reader, upstream_writer, self._to_server, True)),
            asyncio.create_task(self._pump(upstream_reader, writer, self._to_client, False)),
        ]
        # When either side goes, by a close or a reset, the other is cut too, as a real
        # path would: a server must see its client gone (and end its transaction).
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait(link.tasks, return_when=asyncio.FIRST_COMPLETED)
        link.abort()
        self._links.discard(link)

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        gate: asyncio.Event,
        from_client: bool,
    ) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(_CHUNK):
                await gate.wait()
                writer.write(data)
                await writer.drain()
                if from_client and self._marker is not None and self._marker in data:
                    self._marker = None
                    self._to_client.clear()
            writer.close()
