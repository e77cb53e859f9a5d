"""The CBC simulator's TCP front door: a byte relay in front of uvicorn that can misbehave.

An ASGI app cannot refuse connections or cut one half-way through a request,
yet those are exactly the failures a real CBC link has (a restarted osmo-cbc,
a load balancer dropping an idle socket). So clients connect here, and this
relay forwards bytes to the private uvicorn port unless told to go down or to
drop the next request before or after the CBC processed it.
"""

from __future__ import annotations

import asyncio
import re
from typing import Literal

DropMode = Literal["before", "after"]
_REQUEST_START = re.compile(rb"^[A-Z]+ /")


class FrontDoor:
    """Listens on `host:port` and relays each connection to `backend_port`."""

    def __init__(self, host: str, port: int, backend_port: int) -> None:
        self.host, self.port, self.backend_port = host, port, backend_port
        self.drops: list[DropMode] = []
        self.down = False
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()

    async def open(self) -> int:
        """Start listening (again); returns the port, chosen by the OS when it was 0."""
        self.down = False
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    def close(self) -> None:
        """Refuse new connections and cut every open one, mid-request or not."""
        self.down = True
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._connections):
            writer.transport.abort()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.down:
            writer.transport.abort()
            return
        self._connections.add(writer)
        try:
            backend_reader, backend_writer = await asyncio.open_connection(
                self.host, self.backend_port
            )
        except OSError:
            writer.transport.abort()
            self._connections.discard(writer)
            return
        drop_response = asyncio.Event()
        try:
            await asyncio.gather(
                self._upstream(reader, writer, backend_writer, drop_response),
                self._downstream(backend_reader, writer, drop_response),
                return_exceptions=True,
            )
        finally:
            backend_writer.close()
            writer.close()
            self._connections.discard(writer)

    async def _upstream(
        self,
        reader: asyncio.StreamReader,
        client: asyncio.StreamWriter,
        backend: asyncio.StreamWriter,
        drop_response: asyncio.Event,
    ) -> None:
        while data := await reader.read(65536):
            # Only the first chunk of a request counts, so one drop order cuts one request.
            mode = self.drops.pop(0) if self.drops and _REQUEST_START.match(data) else None
            if mode == "before":
                client.transport.abort()
                backend.transport.abort()
                return
            if mode == "after":
                drop_response.set()
            backend.write(data)
            await backend.drain()
        backend.close()

    async def _downstream(
        self,
        backend: asyncio.StreamReader,
        client: asyncio.StreamWriter,
        drop_response: asyncio.Event,
    ) -> None:
        while data := await backend.read(65536):
            if drop_response.is_set():  # the CBC did the work; the client never hears of it
                client.transport.abort()
                return
            client.write(data)
            await client.drain()
        client.close()
