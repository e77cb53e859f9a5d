"""SMPP: the PDU codec (vector #8) and the adapter against the SMSC simulator."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest

from channels.errors import PermanentChannelError, TransientChannelError
from channels.simulators.smsc import ReceiptStyle, SmscSettings, SmscSimulator, running_smsc
from channels.sms.encoding import encode_sms
from channels.sms.gateway import InvalidNumber, OutboundSms
from channels.sms.receipts import DeliveryReceipt, ReceiptState
from channels.sms.smpp.gateway import SmppConfig, SmppGateway
from channels.sms.smpp.pdu import BindBody, Command, MessageBody, Pdu, Status

VECTOR_8_ENQUIRE_LINK = "00000010000000150000000000000001"
VECTOR_8_SUBMIT_SM = (
    "00000036000000040000000000000002000500414c455254000101343437373030393030313233"
    "000000000000010000000454657374"
)
TO = "+447700900123"


def test_vector_8_enquire_link_and_submit_sm() -> None:
    assert Pdu(Command.ENQUIRE_LINK, 0, 1).encode().hex() == VECTOR_8_ENQUIRE_LINK
    body = MessageBody(
        "ALERT", "447700900123", b"Test", source_addr_ton=5, source_addr_npi=0,
        registered_delivery=1,
    )  # fmt: skip
    assert Pdu(Command.SUBMIT_SM, 0, 2, body.encode()).encode().hex() == VECTOR_8_SUBMIT_SM
    assert MessageBody.decode(bytes.fromhex(VECTOR_8_SUBMIT_SM)[16:]) == body


def test_bind_body_round_trip() -> None:
    bind = BindBody("tocsin", "secret", "ALERT")
    assert BindBody.decode(bind.encode()) == bind
    assert bind.encode() == b"tocsin\x00secret\x00ALERT\x00\x34\x00\x00\x00"


def config(port: int, **overrides: object) -> SmppConfig:
    values: dict[str, object] = {
        "name": "smsc1",
        "host": "127.0.0.1",
        "port": port,
        "system_id": "tocsin",
        "password": "pw",
        "source_addr": "ALERT",
        "rate_per_second": None,
        "rebind_initial_delay": 0.05,
        "rebind_max_delay": 0.2,
        "throttle_initial_delay": 0.05,
        "response_timeout": 2.0,
    }
    return SmppConfig.model_validate(values | overrides)


@pytest.fixture
async def smsc() -> AsyncIterator[SmscSimulator]:
    async with running_smsc(SmscSettings(password="pw")) as simulator:
        yield simulator


def messages(count: int, text: str = "Tsunami warning: move inland now.") -> list[OutboundSms]:
    return [OutboundSms(f"msg-{n}", TO, text) for n in range(count)]


async def until(condition: Callable[[], bool], within: float = 3.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_submit_returns_one_id_per_segment(smsc: SmscSimulator) -> None:
    async with SmppGateway(config(smsc.port)) as gateway:
        result = await gateway.submit(OutboundSms("c1", TO, "€" * 100, sender="CivilProt"))
    assert result.segments == 2
    assert result.message_ids == tuple(s.message_id for s in smsc.submitted)
    encoded = encode_sms("€" * 100, reference=smsc.submitted[0].body.short_message[3])
    first = smsc.submitted[0].body
    assert first.esm_class == 0x40
    assert first.short_message == encoded.segments[0].udh + encoded.segments[0].data
    assert (first.source_addr, first.source_addr_ton, first.source_addr_npi) == ("CivilProt", 5, 0)
    assert (first.destination_addr, first.dest_addr_ton, first.registered_delivery) == (
        "447700900123",
        1,
        1,
    )


async def test_window_is_respected() -> None:
    settings = SmscSettings(window=4, response_delay=0.02)
    async with running_smsc(settings) as smsc, SmppGateway(config(smsc.port, window=4)) as gw:
        results = await gw.submit_many(messages(40))
    assert all(not isinstance(r, Exception) for r in results)
    assert smsc.max_outstanding == 4  # the window was used, and never exceeded
    assert smsc.window_violations == 0


async def test_throttling_backs_off_and_resubmits(smsc: SmscSimulator) -> None:
    smsc.throttle_next(2, Status.THROTTLED)
    smsc.throttle_next(1, Status.MESSAGE_QUEUE_FULL)
    async with SmppGateway(config(smsc.port, throttle_initial_delay=0.1)) as gateway:
        started = time.monotonic()
        result = await gateway.submit(OutboundSms("c1", TO, "hello"))
        elapsed = time.monotonic() - started
    assert result.message_ids == (smsc.submitted[0].message_id,)
    assert len(smsc.submitted) == 1
    assert elapsed >= 0.1 + 0.2 + 0.4 - 0.05  # exponential back-off: 0.1, 0.2, 0.4 s


async def test_still_throttled_is_transient(smsc: SmscSimulator) -> None:
    smsc.throttle_next(10)
    async with SmppGateway(config(smsc.port, max_throttle_retries=2)) as gateway:
        with pytest.raises(TransientChannelError, match="throttled") as caught:
            await gateway.submit(OutboundSms("c1", TO, "hello"))
    assert caught.value.retry_after is not None


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (Status.INVALID_DEST_ADDRESS, InvalidNumber),
        (Status.SYSTEM_ERROR, TransientChannelError),
        (Status.INVALID_SOURCE_ADDRESS, PermanentChannelError),
    ],
)
async def test_error_statuses(smsc: SmscSimulator, status: int, error: type[Exception]) -> None:
    smsc.throttle_next(1, status)
    async with SmppGateway(config(smsc.port)) as gateway:
        with pytest.raises(error):
            await gateway.submit(OutboundSms("c1", TO, "hello"))


async def test_rebind_after_connection_loss(smsc: SmscSimulator) -> None:
    async with SmppGateway(config(smsc.port)) as gateway:
        await gateway.submit(OutboundSms("before", TO, "one"))
        await smsc.drop_connections()
        await until(lambda: gateway.binds == 2)
        result = await gateway.submit(OutboundSms("after", TO, "two"))
        assert (await gateway.check()).up
    assert result.message_ids == (smsc.submitted[-1].message_id,)
    assert smsc.binds == 2


async def test_not_bound_is_transient_and_reported() -> None:
    async with (
        running_smsc(SmscSettings(password="other")) as smsc,
        SmppGateway(config(smsc.port, bind_wait=0.2)) as gateway,
    ):
        with pytest.raises(TransientChannelError, match="not bound"):
            await gateway.submit(OutboundSms("c1", TO, "hello"))
        status = await gateway.check()
    assert not status.up
    assert "0x0E" in status.detail  # ESME_RINVPASWD


async def test_enquire_link_keeps_the_link_and_detects_silence(smsc: SmscSimulator) -> None:
    cfg = config(smsc.port, enquire_link_interval=0.05, response_timeout=0.2)
    async with SmppGateway(cfg) as gateway:
        await until(lambda: smsc.enquire_links >= 3)
        assert gateway.binds == 1
        smsc.answer_enquire_link = False
        await until(lambda: not gateway._bound.is_set(), within=2.0)
        smsc.answer_enquire_link = True
        await until(lambda: gateway.binds == 2, within=2.0)


@pytest.mark.parametrize(
    "style",
    [
        ReceiptStyle(date_digits=12, id_format="decimal"),
        ReceiptStyle(date_digits=10, id_format="hex", text_key="Text", stat="EXPIRED"),
        ReceiptStyle(tlvs=True, id_format="decimal", stat="UNDELIV"),
    ],
    ids=["12-digit-decimal", "10-digit-Text-expired", "tlvs"],
)
async def test_receipts_reach_the_handler(style: ReceiptStyle) -> None:
    received: list[DeliveryReceipt] = []

    async def on_receipt(receipt: DeliveryReceipt) -> None:
        received.append(receipt)

    settings = SmscSettings(auto_receipt=style, id_format="hex")
    async with running_smsc(settings) as smsc, SmppGateway(config(smsc.port), on_receipt) as gw:
        result = await gw.submit(OutboundSms("alert-7", TO, "x" * 200))
        await until(lambda: len(received) == 2)
    expected = {"DELIVRD": "delivered", "EXPIRED": "expired", "UNDELIV": "failed"}[style.stat]
    assert [(r.correlation_id, r.segment, r.state.value) for r in received] == [
        ("alert-7", 1, expected),
        ("alert-7", 2, expected),
    ]
    assert smsc.receipts_acked == 2  # every deliver_sm was answered
    if style.id_format == "decimal" and not style.tlvs:
        assert received[0].gateway_message_id == str(int(result.message_ids[0], 16))
    assert received[0].at is not None


async def test_receipt_for_an_unknown_id_still_arrives(smsc: SmscSimulator) -> None:
    received: list[DeliveryReceipt] = []

    async def on_receipt(receipt: DeliveryReceipt) -> None:
        received.append(receipt)

    async with SmppGateway(config(smsc.port), on_receipt) as gateway:
        await gateway.submit(OutboundSms("c1", TO, "hi"))
        stranger = smsc.submitted[0]
        stranger.message_id, stranger.number = "FFFFFF", 0xFFFFFF
        smsc.send_receipt(stranger, ReceiptStyle(stat="DELIVRD"))
        await until(lambda: len(received) == 1)
    assert received[0].correlation_id is None
    assert received[0].gateway_message_id == "FFFFFF"
    assert received[0].state == ReceiptState.DELIVERED


async def test_malformed_bind_response_keeps_rebinding() -> None:
    attempts = 0

    async def broken_smsc(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal attempts
        attempts += 1
        request = await reader.readexactly(16)
        sequence = int.from_bytes(request[12:16], "big")
        await reader.read(100)
        # bind_transceiver_resp whose system_id lacks its NUL terminator
        writer.write(Pdu(0x80000009, 0, sequence, b"oops").encode())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(broken_smsc, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with SmppGateway(config(port, bind_wait=0.1)) as gateway:
            await until(lambda: attempts >= 3)
            status = await gateway.check()
    finally:
        server.close()
        await server.wait_closed()
    assert not status.up
    assert "PduError" in status.detail
