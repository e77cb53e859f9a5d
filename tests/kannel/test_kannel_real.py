"""The Kannel adapter against a REAL Kannel 1.4.5 (bearerbox + smsbox) on loopback.

Two routes: Kannel's fake SMSC (fed by fakesmsc), and Kannel's SMPP client
bound to our SMSC simulator, whose receipts make Kannel call our dlr-url
exactly as it would in production.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from urllib.parse import quote

import httpx
import pytest
import pytest_asyncio
from kannel_harness import KannelProcesses

from channels.errors import PermanentChannelError
from channels.simulators.smsc import ReceiptStyle, SmscSimulator
from channels.sms.encoding import encode_sms, reference_for
from channels.sms.gateway import OutboundSms
from channels.sms.kannel import KannelConfig, KannelGateway, parse_verified_kannel_dlr
from channels.sms.receipts import DeliveryReceipt, ReceiptState
from tests.kannel.conftest import DlrReceiver

pytestmark = pytest.mark.asyncio(loop_scope="module")
TO = "+447700900123"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as shared:
        yield shared


def config(
    kannel: KannelProcesses, receiver: DlrReceiver, smsc: str, **extra: object
) -> KannelConfig:
    setup = kannel.setup
    values: dict[str, object] = {
        "name": f"kannel-{smsc}",
        "sendsms_url": setup.sendsms_url,
        "username": setup.username,
        "password": setup.password,
        "sender": "ALERT",
        "smsc": smsc,
        "receipt_base_url": receiver.url,
        "dlr_key": "test-dlr-key",
        "status_url": setup.status_url,
        "status_password": setup.admin_password,
        "rate_per_second": None,
    }
    return KannelConfig.model_validate(values | extra)


async def reports(
    receiver: DlrReceiver, cfg: KannelConfig, cid: str, count: int
) -> list[DeliveryReceipt]:
    """Wait for `count` DLRs for `cid`, check their secret, parse them (sorted by segment, type)."""
    calls = await receiver.wait_for(cid, count)
    parsed = [parse_verified_kannel_dlr(cfg, call) for call in calls]
    return sorted(parsed, key=lambda r: (r.segment or 0, r.state.value))


async def test_fake_smsc_message_and_delivery_reports(
    kannel: KannelProcesses, dlr_receiver: DlrReceiver, client: httpx.AsyncClient
) -> None:
    cfg = config(kannel, dlr_receiver, "fake")
    result = await KannelGateway(cfg, client).submit(OutboundSms("fake-1", TO, "Storm: stay in"))
    assert result.state == ReceiptState.SUBMITTED
    receipts = await reports(dlr_receiver, cfg, "fake-1", 2)
    assert [r.state for r in receipts] == [ReceiptState.DELIVERED, ReceiptState.SUBMITTED]
    assert receipts[0].gateway_message_id  # Kannel's id for the message (%F)
    await kannel.wait_for_fakesmsc("ALERT 447700900123 text Storm: stay in")


async def test_a_refused_delivery_report_is_sent_again(
    kannel: KannelProcesses, dlr_receiver: DlrReceiver, client: httpx.AsyncClient
) -> None:
    """Tocsin answers 503 when it cannot store a report; smsbox's http-request-retry resends it."""
    cfg = config(kannel, dlr_receiver, "fake")
    dlr_receiver.refuse_next = 2
    await KannelGateway(cfg, client).submit(OutboundSms("fake-retry", TO, "Flood: move up"))
    receipts = await reports(dlr_receiver, cfg, "fake-retry", 2)
    assert [r.state for r in receipts] == [ReceiptState.DELIVERED, ReceiptState.SUBMITTED]
    assert [call["cid"] for call in dlr_receiver.refused] == ["fake-retry", "fake-retry"]
    assert dlr_receiver.refuse_next == 0


async def test_fake_smsc_concatenated_segments(
    kannel: KannelProcesses, dlr_receiver: DlrReceiver, client: httpx.AsyncClient
) -> None:
    cfg = config(kannel, dlr_receiver, "fake")
    text = "Evacuate the coastal zone now. " * 7
    result = await KannelGateway(cfg, client).submit(OutboundSms("fake-2", TO, text))
    assert result.segments == 2
    receipts = await reports(dlr_receiver, cfg, "fake-2", 4)
    assert [(r.segment, r.state) for r in receipts] == [
        (1, ReceiptState.DELIVERED),
        (1, ReceiptState.SUBMITTED),
        (2, ReceiptState.DELIVERED),
        (2, ReceiptState.SUBMITTED),
    ]
    reference = reference_for("fake-2")
    for segment in encode_sms(text, reference=reference).segments:
        udh = "".join(f"%{octet:02X}" for octet in segment.udh)
        data = quote(segment.text, safe="").replace("%20", "+")
        await kannel.wait_for_fakesmsc(f"ALERT 447700900123 udh {udh} data {data}")


@pytest.mark.parametrize(
    ("cid", "text", "data_coding"),
    [
        ("smpp-gsm", "Price {5€} [ok] ~x^ \\ | " * 8, 0),  # escape pairs across 2 segments
        ("smpp-ucs2", "Zażółć gęślą jaźń 🚨 " * 6, 8),  # surrogate pairs across 2 segments
    ],
)
async def test_smpp_segments_reach_the_smsc_byte_exact(
    kannel: KannelProcesses,
    smsc: SmscSimulator,
    dlr_receiver: DlrReceiver,
    client: httpx.AsyncClient,
    cid: str,
    text: str,
    data_coding: int,
) -> None:
    cfg = config(kannel, dlr_receiver, "smpp")
    before = len(smsc.submitted)
    result = await KannelGateway(cfg, client).submit(OutboundSms(cid, TO, text))
    receipts = await reports(dlr_receiver, cfg, cid, 4)  # type 8 and type 1 per segment
    encoded = encode_sms(text, reference=reference_for(cid))
    arrived = smsc.submitted[before:]
    assert result.segments == encoded.count == len(arrived) == 2
    for pdu, segment in zip(arrived, encoded.segments, strict=True):
        assert pdu.system_id == kannel.setup.smpp_system_id
        assert pdu.body.esm_class & 0x40
        assert pdu.body.data_coding == data_coding
        assert pdu.body.short_message == segment.udh + segment.data
        assert pdu.body.destination_addr == "447700900123"
    delivered = [r for r in receipts if r.state == ReceiptState.DELIVERED]
    # msg-id-type 0x01: Kannel read our hex ids, matched the decimal receipts, reports decimal.
    assert [r.gateway_message_id for r in delivered] == [str(pdu.number) for pdu in arrived]
    assert [r.error_code for r in delivered] == ["000", "000"]
    assert all(r.at is not None for r in receipts)


async def test_smpp_expired_receipt_with_twelve_digit_dates(
    kannel: KannelProcesses,
    smsc: SmscSimulator,
    dlr_receiver: DlrReceiver,
    client: httpx.AsyncClient,
) -> None:
    cfg = config(kannel, dlr_receiver, "smpp")
    original = smsc.settings
    expired = ReceiptStyle(stat="EXPIRED", err="027", date_digits=12, id_format="decimal")
    smsc.settings = dataclasses.replace(original, auto_receipt=expired)
    try:
        await KannelGateway(cfg, client).submit(OutboundSms("smpp-exp", TO, "too late"))
        receipts = await reports(dlr_receiver, cfg, "smpp-exp", 2)
    finally:
        smsc.settings = original
    final = next(r for r in receipts if r.state != ReceiptState.SUBMITTED)
    assert final.state == ReceiptState.EXPIRED  # DLR type 2, refined by stat:EXPIRED in %A
    assert final.error_code == "027"
    assert "stat:EXPIRED" in final.raw


async def test_link_status_and_refusals(
    kannel: KannelProcesses, dlr_receiver: DlrReceiver, client: httpx.AsyncClient
) -> None:
    for smsc_id in ("fake", "smpp"):
        status = await KannelGateway(config(kannel, dlr_receiver, smsc_id), client).check()
        assert status.up, status.detail
    missing = await KannelGateway(config(kannel, dlr_receiver, "nowhere"), client).check()
    assert not missing.up
    wrong = KannelGateway(config(kannel, dlr_receiver, "fake", password="wrong"), client)
    with pytest.raises(PermanentChannelError, match="403"):
        await wrong.submit(OutboundSms("refused", TO, "hi"))
