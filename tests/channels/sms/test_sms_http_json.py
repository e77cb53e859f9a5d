"""The generic HTTP JSON adapter against the HTTP simulator (a real server on loopback)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sms_callbacks import Receiver

from channels.errors import PermanentChannelError, TransientChannelError
from channels.simulators.sms_http import SmsHttpSettings, SmsHttpSimulator, running_sms_http
from channels.sms.encoding import SegmentLimitExceeded
from channels.sms.gateway import InvalidNumber, OutboundSms, SubmitResult
from channels.sms.http_json import HttpJsonConfig, HttpJsonGateway
from channels.sms.location import LocationSms
from channels.sms.receipts import ReceiptState, parse_http_receipts
from channels.sms.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER

SECRET = "shared-secret"
TO = "+447700900123"


@pytest.fixture
async def gateway_sim() -> AsyncIterator[tuple[SmsHttpSimulator, str]]:
    async with running_sms_http(SmsHttpSettings(secret=SECRET, report_delay=None)) as running:
        yield running


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as shared:
        yield shared


def gateway(client: httpx.AsyncClient, base_url: str, **overrides: object) -> HttpJsonGateway:
    values: dict[str, object] = {
        "name": "json1",
        "base_url": base_url,
        "secret": SECRET,
        "rate_per_second": None,
    }
    return HttpJsonGateway(HttpJsonConfig.model_validate(values | overrides), client)


def outbound(count: int, prefix: str = "m") -> list[OutboundSms]:
    return [OutboundSms(f"{prefix}{n}", TO, f"Alert {n}: shelter in place.") for n in range(count)]


async def test_batches_of_max_batch(
    gateway_sim: tuple[SmsHttpSimulator, str], client: httpx.AsyncClient
) -> None:
    sim, url = gateway_sim
    results = await gateway(client, url, max_batch=100).submit_many(outbound(250))
    assert all(isinstance(r, SubmitResult) for r in results)
    assert sim.requests == 3  # 100 + 100 + 50, not 250 requests
    first = results[0]
    assert isinstance(first, SubmitResult)
    assert first.message_ids == (sim.find("m0")[0].gateway_message_id,)
    assert (first.segments, first.encoding, first.state) == (1, "gsm7", ReceiptState.SUBMITTED)
    assert sim.find("m0")[0].to == TO


async def test_wrong_secret_is_permanent(
    gateway_sim: tuple[SmsHttpSimulator, str], client: httpx.AsyncClient
) -> None:
    _, url = gateway_sim
    with pytest.raises(PermanentChannelError, match="401"):
        await gateway(client, url, secret="wrong").submit(outbound(1)[0])


async def test_5xx_then_recovery(
    gateway_sim: tuple[SmsHttpSimulator, str], client: httpx.AsyncClient
) -> None:
    sim, url = gateway_sim
    adapter = gateway(client, url)
    sim.fail_next(1, 503)
    with pytest.raises(TransientChannelError, match="503"):
        await adapter.submit(OutboundSms("r1", TO, "first try"))
    assert sim.find("r1") == []
    result = await adapter.submit(OutboundSms("r1", TO, "first try"))
    assert result.message_ids == (sim.find("r1")[0].gateway_message_id,)


async def test_429_carries_retry_after(
    gateway_sim: tuple[SmsHttpSimulator, str], client: httpx.AsyncClient
) -> None:
    sim, url = gateway_sim
    sim.throttle_next(1, retry_after=2.5)
    results = await gateway(client, url).submit_many(outbound(3))
    assert all(isinstance(r, TransientChannelError) and r.retry_after == 2.5 for r in results)


async def test_rejected_and_invalid_numbers(
    gateway_sim: tuple[SmsHttpSimulator, str], client: httpx.AsyncClient
) -> None:
    sim, url = gateway_sim
    sim.reject_numbers.add("447700900999")
    good, rejected, invalid = await gateway(client, url).submit_many(
        [
            OutboundSms("ok", TO, "hi"),
            OutboundSms("no", "+44 7700 900999", "hi"),
            OutboundSms("bad", "12ab", "hi"),
        ]
    )
    assert isinstance(good, SubmitResult)
    assert isinstance(rejected, InvalidNumber)
    assert isinstance(invalid, InvalidNumber)
    assert sim.requests == 1  # the malformed number never left the process


async def test_segment_cap(
    gateway_sim: tuple[SmsHttpSimulator, str], client: httpx.AsyncClient
) -> None:
    _, url = gateway_sim
    with pytest.raises(SegmentLimitExceeded, match="3 segments"):
        await gateway(client, url, max_segments=2).submit(OutboundSms("long", TO, "a" * 400))


async def test_retried_batch_is_recognised(
    gateway_sim: tuple[SmsHttpSimulator, str], client: httpx.AsyncClient
) -> None:
    sim, url = gateway_sim
    adapter = gateway(client, url)
    first = await adapter.submit(OutboundSms("same", TO, "hi"))
    again = await adapter.submit(OutboundSms("same", TO, "hi"))
    assert first.message_ids == again.message_ids
    assert len(sim.find("same")) == 1


async def test_rate_limit_is_honoured(
    gateway_sim: tuple[SmsHttpSimulator, str], client: httpx.AsyncClient
) -> None:
    _, url = gateway_sim
    adapter = gateway(client, url, rate_per_second=200, burst=20, max_batch=10)
    started = time.monotonic()
    results = await adapter.submit_many(outbound(120))
    elapsed = time.monotonic() - started
    assert all(isinstance(r, SubmitResult) for r in results)
    assert 0.45 <= elapsed <= 3.0  # (120 - 20 burst) / 200 per s = 0.5 s at least


async def test_receipts_come_back_signed(client: httpx.AsyncClient, receiver: Receiver) -> None:
    settings = SmsHttpSettings(secret=SECRET, report_delay=0.05, callback_batch=10)
    async with running_sms_http(settings) as (sim, url):
        adapter = gateway(client, url, callback_url=f"{receiver.url}/receipts/json1")
        await adapter.submit_many(outbound(25))
        calls = await receiver.wait_for(3)  # 25 receipts in batches of 10
        # The receiver records a call before the simulator reads its answer:
        # wait for the simulator's own count before it is stopped.
        for _ in range(500):
            if sim.reporter.sent >= 25:
                break
            await asyncio.sleep(0.01)
    receipts = []
    for call in calls:
        assert adapter.verify_receipt_callback(
            timestamp=call.headers[TIMESTAMP_HEADER.lower()],
            signature=call.headers[SIGNATURE_HEADER.lower()],
            body=call.body,
        )
        assert not adapter.verify_receipt_callback(
            timestamp=call.headers[TIMESTAMP_HEADER.lower()],
            signature=call.headers[SIGNATURE_HEADER.lower()],
            body=call.body + b" ",
        )
        receipts += parse_http_receipts(call.body)
    assert sorted(r.correlation_id or "" for r in receipts) == sorted(f"m{n}" for n in range(25))
    assert {r.state for r in receipts} == {ReceiptState.DELIVERED}
    assert sim.reporter.sent == 25


async def test_location_job_and_cancel(
    gateway_sim: tuple[SmsHttpSimulator, str], client: httpx.AsyncClient
) -> None:
    sim, url = gateway_sim
    adapter = gateway(client, url)
    job = LocationSms(
        correlation_id="lbs-1",
        alert_ref="urn:oid:2.49.0.1.578.0.2026.1",
        operator="op1",
        cells=["24201-1001-17", "24201-1001-18"],
        texts={"no": "Flom: gå til høyere terreng.", "en": "Flood: move to higher ground."},
        default_language="no",
        expires_at=datetime(2030, 1, 1, tzinfo=UTC) + timedelta(hours=6),
    )
    job_id = await adapter.submit_location_job(job)
    stored = sim.location_jobs[job_id]
    assert stored.cells == ["24201-1001-17", "24201-1001-18"]
    assert stored.texts["en"] == "Flood: move to higher ground."
    await adapter.cancel_location_job(job_id)
    assert sim.cancelled_jobs == [job_id]
    await adapter.cancel_location_job(job_id)  # already gone: not an error
    with pytest.raises(PermanentChannelError, match="no text for 'de'"):
        await adapter.submit_location_job(
            LocationSms("lbs-2", "ref", "op1", ["c"], {"en": "x"}, "de", job.expires_at)
        )
    with pytest.raises(SegmentLimitExceeded):
        await adapter.submit_location_job(
            LocationSms("lbs-3", "ref", "op1", ["c"], {"en": "x" * 1000}, "en", job.expires_at)
        )


async def test_check_and_unreachable(
    gateway_sim: tuple[SmsHttpSimulator, str], client: httpx.AsyncClient
) -> None:
    _, url = gateway_sim
    assert (await gateway(client, url).check()).up
    dead = gateway(client, "http://127.0.0.1:9", timeout_seconds=1)
    assert not (await dead.check()).up
    with pytest.raises(TransientChannelError, match="ConnectError"):
        await dead.submit(OutboundSms("x", TO, "hi"))
