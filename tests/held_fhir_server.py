"""A FHIR server on a real loopback socket that answers only when told to.

respx replaces httpx's connection pool, so a test of the pool itself needs a real server:
this one accepts connections, reads each GET, and holds its answer until `release()`. It
runs its own event loop in a thread.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import orjson


class HeldFhirServer:
    def __init__(self, bundle: dict[str, Any]) -> None:
        self._body = orjson.dumps(bundle)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._released: asyncio.Event | None = None
        self._server: asyncio.Server | None = None
        self.port = 0
        self.waiting = 0  # requests read and not yet answered

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/fhir"

    def __enter__(self) -> HeldFhirServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    def __exit__(self, *_: object) -> None:
        self.release()
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def release(self) -> None:
        """Answer every request held, and every later one at once."""
        assert self._released is not None
        self._loop.call_soon_threadsafe(self._released.set)

    async def _start(self) -> None:
        self._released = asyncio.Event()
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self._released is not None
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                self.waiting += 1
                try:
                    await self._released.wait()
                finally:
                    self.waiting -= 1
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/fhir+json\r\n"
                    + f"content-length: {len(self._body)}\r\n\r\n".encode()
                    + self._body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
