"""An SMPP 3.4 SMSC simulator on asyncio, for tests, the demo and Kannel.

It binds ESMEs (transceiver, transmitter, receiver), answers submit_sm with
message ids in hex or decimal, keeps a window (beyond it: ESME_RTHROTTLED),
throttles or fails on demand, drops connections on demand (to exercise
rebinding), answers enquire_link, and sends delivery receipts in the shape
asked for: 10- or 12-digit dates, hex or decimal ids, `text:` or `Text:`,
with or without the receipted_message_id / message_state TLVs.

    python -m channels.simulators.smsc --port 2775 --receipt DELIVRD
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from channels.sms.smpp.pdu import (
    BindBody,
    Command,
    MessageBody,
    Pdu,
    PduError,
    Status,
    cstring,
    encode_id_body,
    read_pdu,
    response_id,
)

log = logging.getLogger(__name__)

BINDS = (Command.BIND_TRANSCEIVER, Command.BIND_TRANSMITTER, Command.BIND_RECEIVER)
_MESSAGE_STATES = {"ENROUTE": 1, "DELIVRD": 2, "EXPIRED": 3, "DELETED": 4, "UNDELIV": 5}
_MESSAGE_STATES |= {"ACCEPTD": 6, "UNKNOWN": 7, "REJECTD": 8}


@dataclass(frozen=True, slots=True)
class ReceiptStyle:
    """How a receipt looks and when it comes (the deviations of telecom.md §3.2)."""

    stat: str = "DELIVRD"
    err: str = "000"
    date_digits: Literal[10, 12] = 10
    id_format: Literal["same", "hex", "decimal"] = "same"
    text_key: Literal["text", "Text"] = "text"
    tlvs: bool = False
    delay: float = 0.0


@dataclass(frozen=True, slots=True)
class SmscSettings:
    """`password` None accepts any; `auto_receipt` answers registered_delivery by itself."""

    system_id: str = "tocsin-smsc"
    password: str | None = None
    window: int = 10
    response_delay: float = 0.0
    id_format: Literal["hex", "decimal"] = "hex"
    auto_receipt: ReceiptStyle | None = None


@dataclass(slots=True)
class SubmittedSm:
    """A submit_sm as the simulator accepted it."""

    system_id: str
    body: MessageBody
    number: int
    message_id: str


@dataclass(slots=True, eq=False)  # identity: connections live in a set
class _Connection:
    writer: asyncio.StreamWriter
    system_id: str = ""
    bound: bool = False
    can_receive: bool = False
    sequence: int = 0x10000
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def send(self, pdu: Pdu) -> None:
        if not self.writer.is_closing():
            self.writer.write(pdu.encode())

    def next_sequence(self) -> int:
        self.sequence += 1
        return self.sequence


class SmscSimulator:
    """Start with `start()` or `running_smsc()`; steer with the methods; read the counters."""

    def __init__(self, settings: SmscSettings | None = None) -> None:
        self.settings = settings or SmscSettings()
        self.submitted: list[SubmittedSm] = []
        self.binds = 0
        self.enquire_links = 0
        self.receipts_sent = 0
        self.receipts_acked = 0
        self.max_outstanding = 0
        self.window_violations = 0
        self.answer_enquire_link = True
        self._outstanding = 0
        self._counter = 0
        self._injected: list[int] = []
        self._connections: set[_Connection] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on `host`:`port` (0: a free port, see `.port`)."""
        self._server = await asyncio.start_server(self._serve, host, port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        await self.drop_connections()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # --- steering -----------------------------------------------------------

    def throttle_next(self, count: int, status: int = Status.THROTTLED) -> None:
        """Answer the next `count` submit_sm with `status` (0x58, 0x14, or any error)."""
        self._injected.extend([status] * count)

    async def drop_connections(self) -> None:
        """Close every connection without unbind, as a network failure would."""
        for conn in list(self._connections):
            conn.writer.close()
            for task in conn.tasks:
                task.cancel()
        self._connections.clear()

    def format_id(self, number: int, style: Literal["hex", "decimal"]) -> str:
        return f"{number:08X}" if style == "hex" else str(number)

    def send_receipt(self, submitted: SubmittedSm, style: ReceiptStyle | None = None) -> None:
        """Send (after `style.delay`) a receipt for `submitted` to a bound receiver."""
        style = style or ReceiptStyle()
        conn = next((c for c in self._connections if c.can_receive), None)
        if conn is None:
            raise RuntimeError("no bound receiver to send the receipt to")
        task = asyncio.get_running_loop().create_task(self._receipt_later(conn, submitted, style))
        conn.tasks.add(task)
        task.add_done_callback(conn.tasks.discard)

    async def _receipt_later(
        self, conn: _Connection, submitted: SubmittedSm, style: ReceiptStyle
    ) -> None:
        if style.delay:
            await asyncio.sleep(style.delay)
        body = self.receipt_body(submitted, style)
        conn.send(Pdu(Command.DELIVER_SM, 0, conn.next_sequence(), body.encode()))
        self.receipts_sent += 1

    def receipt_body(self, submitted: SubmittedSm, style: ReceiptStyle) -> MessageBody:
        """The deliver_sm carrying a receipt for `submitted`, in `style`."""
        if style.id_format == "same":
            receipt_id = submitted.message_id
        else:
            receipt_id = self.format_id(submitted.number, style.id_format)
        stamp = datetime.now(UTC).strftime("%y%m%d%H%M%S")[: style.date_digits]
        delivered = "001" if style.stat == "DELIVRD" else "000"
        text = (
            f"id:{receipt_id} sub:001 dlvrd:{delivered} submit date:{stamp} done date:{stamp}"
            f" stat:{style.stat} err:{style.err} {style.text_key}:"
            + submitted.body.short_message[:20].decode("latin-1")
        )
        tlvs: tuple[tuple[int, bytes], ...] = ()
        if style.tlvs:
            state = _MESSAGE_STATES.get(style.stat, 7)
            tlvs = ((0x001E, cstring(submitted.message_id)), (0x0427, bytes((state,))))
        original = submitted.body
        return MessageBody(
            source_addr=original.destination_addr,
            destination_addr=original.source_addr,
            short_message=text.encode("latin-1"),
            source_addr_ton=original.dest_addr_ton,
            source_addr_npi=original.dest_addr_npi,
            dest_addr_ton=original.source_addr_ton,
            dest_addr_npi=original.source_addr_npi,
            esm_class=0x04,
            tlvs=tlvs,
        )

    # --- serving ------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _Connection(writer)
        self._connections.add(conn)
        try:
            while True:
                self._handle(conn, await read_pdu(reader))
        except (asyncio.IncompleteReadError, ConnectionError, PduError):
            pass
        finally:
            self._connections.discard(conn)
            writer.close()

    def _handle(self, conn: _Connection, pdu: Pdu) -> None:
        command = pdu.command_id
        if command in BINDS:
            self._bind(conn, pdu)
        elif command == Command.ENQUIRE_LINK:
            self.enquire_links += 1
            if self.answer_enquire_link:
                conn.send(Pdu(response_id(command), Status.OK, pdu.sequence))
        elif command == Command.UNBIND:
            conn.send(Pdu(response_id(command), Status.OK, pdu.sequence))
            conn.writer.close()
        elif command == Command.SUBMIT_SM:
            self._submit(conn, pdu)
        elif command == response_id(Command.DELIVER_SM):
            self.receipts_acked += 1
        elif not pdu.is_response:
            conn.send(Pdu(Command.GENERIC_NACK, Status.INVALID_COMMAND_ID, pdu.sequence))

    def _bind(self, conn: _Connection, pdu: Pdu) -> None:
        bind = BindBody.decode(pdu.body)
        wanted = self.settings.password
        status = Status.OK
        if conn.bound:
            status = Status.ALREADY_BOUND
        elif wanted is not None and bind.password != wanted:
            status = Status.INVALID_PASSWORD
        if status == Status.OK:
            conn.bound, conn.system_id = True, bind.system_id
            conn.can_receive = pdu.command_id != Command.BIND_TRANSMITTER
            self.binds += 1
        body = encode_id_body(self.settings.system_id)
        conn.send(Pdu(response_id(pdu.command_id), status, pdu.sequence, body))

    def _submit(self, conn: _Connection, pdu: Pdu) -> None:
        respond = response_id(Command.SUBMIT_SM)
        if not conn.bound:
            conn.send(Pdu(respond, Status.INCORRECT_BIND_STATUS, pdu.sequence))
            return
        self._outstanding += 1
        self.max_outstanding = max(self.max_outstanding, self._outstanding)
        if self._outstanding > self.settings.window:
            self.window_violations += 1
            self._answer(conn, Pdu(respond, Status.THROTTLED, pdu.sequence))
            return
        if self._injected:
            self._answer(conn, Pdu(respond, self._injected.pop(0), pdu.sequence))
            return
        try:
            body = MessageBody.decode(pdu.body)
        except PduError:
            self._answer(conn, Pdu(respond, Status.INVALID_MESSAGE_LENGTH, pdu.sequence))
            return
        self._counter += 1
        message_id = self.format_id(self._counter, self.settings.id_format)
        submitted = SubmittedSm(conn.system_id, body, self._counter, message_id)
        self.submitted.append(submitted)
        self._answer(conn, Pdu(respond, Status.OK, pdu.sequence, encode_id_body(message_id)))
        auto = self.settings.auto_receipt
        if auto is not None and body.registered_delivery & 0x03 and conn.can_receive:
            self.send_receipt(submitted, auto)

    def _answer(self, conn: _Connection, pdu: Pdu) -> None:
        """Answer after `response_delay`; the request counts as outstanding until then."""

        def send() -> None:
            self._outstanding -= 1
            conn.send(pdu)

        delay = self.settings.response_delay
        if delay > 0:
            asyncio.get_running_loop().call_later(delay, send)
        else:
            send()


@contextlib.asynccontextmanager
async def running_smsc(settings: SmscSettings | None = None) -> AsyncIterator[SmscSimulator]:
    """An SMSC simulator on 127.0.0.1 and a free port, stopped on exit."""
    smsc = SmscSimulator(settings)
    await smsc.start()
    try:
        yield smsc
    finally:
        await smsc.stop()


def main() -> None:
    """`python -m channels.simulators.smsc`: serve until interrupted."""
    parser = argparse.ArgumentParser(description="SMPP 3.4 SMSC simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2775)
    parser.add_argument("--password", default=None, help="required bind password (any if unset)")
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--id-format", choices=("hex", "decimal"), default="hex")
    parser.add_argument("--receipt", default="DELIVRD", help="auto receipt stat, or 'none'")
    parser.add_argument("--receipt-delay", type=float, default=1.0)
    parser.add_argument("--date-digits", type=int, choices=(10, 12), default=10)
    args = parser.parse_args()
    auto = None
    if args.receipt.lower() != "none":
        auto = ReceiptStyle(
            stat=args.receipt, delay=args.receipt_delay, date_digits=args.date_digits
        )
    settings = SmscSettings(
        password=args.password, window=args.window, id_format=args.id_format, auto_receipt=auto
    )
    logging.basicConfig(level=logging.INFO)

    async def serve() -> None:
        smsc = SmscSimulator(settings)
        await smsc.start(args.host, args.port)
        log.info("SMSC simulator on %s:%d", args.host, smsc.port)
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
