"""The Kannel adapter against the simulator's sendsms (the real Kannel is in tests/kannel)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from sms_callbacks import Receiver

from channels.errors import PermanentChannelError, TransientChannelError
from channels.simulators.sms_http import SmsHttpSettings, SmsHttpSimulator, running_sms_http
from channels.sms.encoding import encode_sms, reference_for
from channels.sms.gateway import OutboundSms
from channels.sms.kannel import (
    KannelConfig,
    KannelGateway,
    ReceiptSecretMismatch,
    parse_verified_kannel_dlr,
    status_from_page,
)
from channels.sms.receipts import ReceiptState

TO = "+447700900123"


def kannel_config(sendsms_url: str, receipt_base: str, **overrides: object) -> KannelConfig:
    values: dict[str, object] = {
        "name": "kannel1",
        "sendsms_url": sendsms_url,
        "username": "tocsin",
        "password": "tocsin",
        "sender": "ALERT",
        "receipt_base_url": receipt_base,
        "dlr_key": "dlr-key",
        "rate_per_second": None,
    }
    return KannelConfig.model_validate(values | overrides)


@pytest.fixture
async def simulator() -> AsyncIterator[tuple[SmsHttpSimulator, str]]:
    async with running_sms_http(SmsHttpSettings(report_delay=0.02)) as running:
        yield running


async def test_segments_udh_coding_and_dlr_url(
    simulator: tuple[SmsHttpSimulator, str], receiver: Receiver
) -> None:
    sim, url = simulator
    config = kannel_config(f"{url}/cgi-bin/sendsms", receiver.url)
    text = "Ostrzeżenie: " + "ewakuacja " * 10  # UCS-2, 2 segments
    async with httpx.AsyncClient() as client:
        result = await KannelGateway(config, client).submit(OutboundSms("cid-1", TO, text))
        calls = await receiver.wait_for(4)  # per segment: type 8 (SMSC) and type 1 (phone)
    assert (result.segments, result.encoding, result.message_ids) == (2, "ucs2", ())
    encoded = encode_sms(text, reference=reference_for("cid-1"))
    assert [(m.udh, m.coding, m.text, m.to) for m in sim.messages] == [
        (s.udh, 2, s.text, "447700900123") for s in encoded.segments
    ]
    dlr_url = urlsplit(sim.messages[1].dlr_url or "")
    assert dlr_url.path == "/api/v1/receipts/kannel/kannel1"
    assert dict(parse_qsl(dlr_url.query))["seg"] == "2"
    receipts = [parse_verified_kannel_dlr(config, call.query) for call in calls]
    assert {(r.correlation_id, r.segment, r.state) for r in receipts} == {
        ("cid-1", 1, ReceiptState.SUBMITTED),
        ("cid-1", 2, ReceiptState.SUBMITTED),
        ("cid-1", 1, ReceiptState.DELIVERED),
        ("cid-1", 2, ReceiptState.DELIVERED),
    }
    forged = calls[0].query | {"cid": "cid-2"}
    with pytest.raises(ReceiptSecretMismatch):
        parse_verified_kannel_dlr(config, forged)


async def test_simulated_failures(simulator: tuple[SmsHttpSimulator, str]) -> None:
    sim, url = simulator
    sendsms = f"{url}/cgi-bin/sendsms"
    async with httpx.AsyncClient() as client:
        adapter = KannelGateway(kannel_config(sendsms, "http://r"), client)
        sim.fail_next(1, 503)
        with pytest.raises(TransientChannelError, match="503"):
            await adapter.submit(OutboundSms("a", TO, "hi"))
        sim.reject_numbers.add("447700900123")
        with pytest.raises(PermanentChannelError, match="400"):
            await adapter.submit(OutboundSms("b", TO, "hi"))
        wrong = KannelGateway(kannel_config(sendsms, "http://r", password="nope"), client)
        with pytest.raises(PermanentChannelError, match="403"):
            await wrong.submit(OutboundSms("c", "+33612345678", "hi"))
        sim.settings = SmsHttpSettings(latency=1.0)
        slow = KannelGateway(kannel_config(sendsms, "http://r", timeout_seconds=0.1), client)
        with pytest.raises(TransientChannelError, match="timeout"):
            await slow.submit(OutboundSms("d", "+33612345678", "hi"))


@pytest.mark.parametrize(
    ("status", "body", "headers", "outcome"),
    [
        (202, "0: Accepted for delivery", {}, ReceiptState.SUBMITTED),
        (202, "3: Queued for later delivery", {}, ReceiptState.QUEUED),
        (503, "Temporal failure, try again later.", {}, TransientChannelError),
        (429, "slow down", {"Retry-After": "7"}, TransientChannelError),
        (400, "Missing receiver number, rejected", {}, PermanentChannelError),
    ],
)
async def test_reply_mapping(
    status: int, body: str, headers: dict[str, str], outcome: object
) -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, text=body, headers=headers)

    async with httpx.AsyncClient(transport=httpx.MockTransport(reply)) as client:
        adapter = KannelGateway(kannel_config("http://kannel/cgi-bin/sendsms", "http://r"), client)
        if isinstance(outcome, ReceiptState):
            assert (await adapter.submit(OutboundSms("a", TO, "hi"))).state == outcome
            return
        assert isinstance(outcome, type)
        with pytest.raises(outcome) as caught:
            await adapter.submit(OutboundSms("a", TO, "hi"))
        if headers:
            assert isinstance(caught.value, TransientChannelError)
            assert caught.value.retry_after == 7


STATUS_PAGE = """Kannel bearerbox version `1.4.5'.

Status: running, uptime 0d 0h 0m 3s

SMSC connections:
    fake[fake]    FAKE:23002 (online 2s, rcvd: sms 0 / dlr 0, sent: sms 0 / dlr 0)
    smpp[smpp]    SMPP:127.0.0.1:2775/2775:kannel:VMA (re-connecting)
"""


def test_status_page() -> None:
    assert status_from_page(STATUS_PAGE, "fake").up
    smpp = status_from_page(STATUS_PAGE, "smpp")
    assert not smpp.up
    assert "smpp" in smpp.detail
    assert status_from_page(STATUS_PAGE, None).up
    assert not status_from_page("Status: shutting down", None).up
