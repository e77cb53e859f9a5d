"""One bound SMPP connection (ESME side) on asyncio streams.

Requests are asynchronous: each gets a sequence number and a future that the
reader task resolves when the matching response arrives, so many submit_sm
can be outstanding at once (the window is the caller's semaphore). The
reader also answers the SMSC's requests (deliver_sm, enquire_link, unbind);
a keep-alive task sends enquire_link and closes the session when the SMSC
stops answering, which is the signal to rebind.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass

from channels.errors import TransientChannelError
from channels.sms.gateway import OutcomeUnknown
from channels.sms.smpp.pdu import (
    BindBody,
    Command,
    Pdu,
    PduError,
    Status,
    decode_id_body,
    encode_id_body,
    read_pdu,
    response_id,
)

log = logging.getLogger(__name__)

DeliverHandler = Callable[[Pdu], None]
ResponseHook = Callable[[Pdu], None]


class BindRefused(Exception):
    """The SMSC answered the bind with an error status (wrong password, already bound...)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"bind refused with status 0x{status:02X}")
        self.status = status


@dataclass(frozen=True, slots=True)
class SessionSettings:
    """What one connection needs; the gateway builds it from its config."""

    host: str
    port: int
    bind: BindBody
    connect_timeout: float
    response_timeout: float
    enquire_link_interval: float


class SmppSession:
    """A bound transceiver session. Use `open`; watch `closed` for the end."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        settings: SessionSettings,
        on_deliver: DeliverHandler,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._settings = settings
        self._on_deliver = on_deliver
        self._sequence = itertools.count(1)
        self._pending: dict[int, tuple[asyncio.Future[Pdu], ResponseHook | None]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.closed = asyncio.Event()
        self.system_id = ""

    @classmethod
    async def open(cls, settings: SessionSettings, on_deliver: DeliverHandler) -> SmppSession:
        """Connect and bind as transceiver.

        Raises:
            OSError, TimeoutError: no TCP connection, or no bind response in time.
            BindRefused: the SMSC refused the bind.
            PduError: the bind response is malformed.
        """
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(settings.host, settings.port), settings.connect_timeout
        )
        session = cls(reader, writer, settings, on_deliver)
        session._tasks.append(asyncio.create_task(session._read_loop()))
        try:
            resp = await session.request(Command.BIND_TRANSCEIVER, settings.bind.encode())
            if resp.status != Status.OK:
                raise BindRefused(resp.status)
            session.system_id = decode_id_body(resp.body)
        except BindRefused:
            await session.close()
            raise
        except TransientChannelError as exc:
            await session.close()
            raise TimeoutError(f"bind to {settings.host}:{settings.port}: {exc}") from exc
        except PduError:
            await session.close()
            raise
        session._tasks.append(asyncio.create_task(session._keep_alive()))
        return session

    def _next_sequence(self) -> int:
        # Sequence numbers are 1..0x7FFFFFFF; wrap rather than overflow.
        return (next(self._sequence) - 1) % 0x7FFFFFFF + 1

    def _write(self, pdu: Pdu) -> None:
        if self.closed.is_set():
            raise TransientChannelError("SMPP connection closed")
        self._writer.write(pdu.encode())

    async def request(
        self, command_id: int, body: bytes = b"", *, on_response: ResponseHook | None = None
    ) -> Pdu:
        """Send a request and wait for its response (whatever its status).

        `on_response` runs in the reader as soon as the response arrives,
        before any later PDU is read: that is where a submit_sm's message id
        must be recorded, or a fast receipt could overtake it.

        Raises:
            TransientChannelError: the connection was closed before the request went.
            OutcomeUnknown: it went (or may have), and no response came in time or
                the connection was lost while waiting: the peer may have acted on it.
        """
        sequence = self._next_sequence()
        future: asyncio.Future[Pdu] = asyncio.get_running_loop().create_future()
        self._pending[sequence] = (future, on_response)
        try:
            self._write(Pdu(command_id, 0, sequence, body))
            await self._writer.drain()
            return await asyncio.wait_for(future, self._settings.response_timeout)
        except (TimeoutError, ConnectionError) as exc:
            raise OutcomeUnknown(f"SMPP: no response to 0x{command_id:X}: {exc!r}") from exc
        finally:
            self._pending.pop(sequence, None)

    async def _read_loop(self) -> None:
        try:
            while True:
                pdu = await read_pdu(self._reader)
                if pdu.is_response:
                    self._resolve(pdu)
                else:
                    self._answer(pdu)
        except (asyncio.IncompleteReadError, ConnectionError, PduError) as exc:
            log.info("SMPP connection to %s ended: %r", self._settings.host, exc)
        finally:
            self._mark_closed()

    def _resolve(self, pdu: Pdu) -> None:
        entry = self._pending.pop(pdu.sequence, None)
        if entry is None:
            log.warning("SMPP response 0x%X for unknown sequence %d", pdu.command_id, pdu.sequence)
            return
        future, hook = entry
        if hook is not None and pdu.status == Status.OK:
            hook(pdu)
        if not future.done():
            future.set_result(pdu)

    def _answer(self, pdu: Pdu) -> None:
        """Answer a request from the SMSC; receipts go to the handler first."""
        command = pdu.command_id
        if command == Command.DELIVER_SM:
            self._on_deliver(pdu)
            reply = Pdu(response_id(command), Status.OK, pdu.sequence, encode_id_body(""))
        elif command in (Command.ENQUIRE_LINK, Command.UNBIND):
            reply = Pdu(response_id(command), Status.OK, pdu.sequence)
        else:
            reply = Pdu(Command.GENERIC_NACK, Status.INVALID_COMMAND_ID, pdu.sequence)
        with contextlib.suppress(TransientChannelError):
            self._write(reply)
        if command == Command.UNBIND:
            self._writer.close()

    async def _keep_alive(self) -> None:
        """enquire_link every interval; no answer means the link is dead."""
        while not self.closed.is_set():
            await asyncio.sleep(self._settings.enquire_link_interval)
            try:
                await self.request(Command.ENQUIRE_LINK)
            except TransientChannelError:
                log.warning("SMPP %s: enquire_link unanswered, dropping", self._settings.host)
                self._writer.close()
                return

    def _mark_closed(self) -> None:
        self.closed.set()
        for future, _ in self._pending.values():
            if not future.done():
                future.set_exception(OutcomeUnknown("SMPP connection lost while waiting"))
        self._pending.clear()
        self._writer.close()

    async def close(self, *, unbind: bool = False) -> None:
        """Close the session, politely (unbind first) when asked."""
        if unbind and not self.closed.is_set():
            with contextlib.suppress(TransientChannelError):
                await asyncio.wait_for(self.request(Command.UNBIND), 1.0)
        self._writer.close()
        for task in self._tasks:
            if task is not asyncio.current_task():
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._mark_closed()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()
