"""Which failures mean "not taken" and which mean "may have been taken" (OutcomeUnknown)."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from channels.errors import TransientChannelError
from channels.simulators.smsc import SmscSettings, running_smsc
from channels.sms import HttpJsonConfig, HttpJsonGateway, KannelGateway, OutboundSms, OutcomeUnknown
from channels.sms.http_errors import transport_error
from channels.sms.signing import IDEMPOTENCY_HEADER
from channels.sms.smpp.gateway import SmppGateway
from tests.channels.sms.test_sms_kannel_adapter import kannel_config
from tests.channels.sms.test_sms_smpp import config as smpp_config

REQUEST = httpx.Request("POST", "http://gw/v1/messages")


@pytest.mark.parametrize(
    ("exc", "unknown"),
    [
        (httpx.ConnectError("refused", request=REQUEST), False),
        (httpx.ConnectTimeout("connect", request=REQUEST), False),
        (httpx.PoolTimeout("pool", request=REQUEST), False),
        (httpx.ReadTimeout("read", request=REQUEST), True),
        (httpx.WriteTimeout("write", request=REQUEST), True),
        (httpx.RemoteProtocolError("dropped", request=REQUEST), True),
        (httpx.ReadError("reset", request=REQUEST), True),
    ],
)
def test_transport_errors_before_and_after_sending(
    exc: httpx.TransportError, unknown: bool
) -> None:
    error = transport_error("gw", exc)
    assert isinstance(error, TransientChannelError)
    assert isinstance(error, OutcomeUnknown) is unknown


async def test_json_submit_many_repeats_the_same_requests_and_keys() -> None:
    keys: list[list[str]] = []
    answers = iter(["timeout", "ok", "ok"])

    def handle(request: httpx.Request) -> httpx.Response:
        keys.append([request.headers[IDEMPOTENCY_HEADER]])
        if next(answers) == "timeout":
            raise httpx.ReadTimeout("slow", request=request)
        body = json.loads(request.content)
        results = [
            {"correlation_id": m["correlation_id"], "status": "accepted"} for m in body["messages"]
        ]
        return httpx.Response(200, json={"results": results})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as client:
        config = HttpJsonConfig(
            name="j", base_url="http://gw", secret="s", rate_per_second=None, max_batch=3
        )
        gateway = HttpJsonGateway(config, client)
        messages = [OutboundSms(f"c{n}", "+254700000001", "hi") for n in range(3)]
        first = await gateway.submit_many(messages)
        assert all(isinstance(o, OutcomeUnknown) for o in first)
        # Someone else's submit at the same time does not join our request.
        second, _other = await asyncio.gather(
            gateway.submit_many(messages),
            gateway.submit(OutboundSms("other", "+254700000002", "x")),
        )
    assert not any(isinstance(o, Exception) for o in second)
    assert keys[0] == keys[1] or keys[0] == keys[2]


async def test_kannel_segment_refused_after_earlier_ones_is_unknown() -> None:
    calls = 0

    def handle(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            return httpx.Response(202, text="0: Accepted for delivery")
        return httpx.Response(503, text="Temporal failure, try again later.")

    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as client:
        gateway = KannelGateway(kannel_config("http://k/cgi-bin/sendsms", "http://t"), client)
        (outcome,) = await gateway.submit_many([OutboundSms("c1", "+254700000001", "x" * 200)])
        assert isinstance(outcome, OutcomeUnknown)  # segment 1 went: never resent
        calls = 1  # the first segment refused: nothing went, a plain transient
        (again,) = await gateway.submit_many([OutboundSms("c2", "+254700000001", "x" * 200)])
        assert isinstance(again, TransientChannelError)
        assert not isinstance(again, OutcomeUnknown)


async def test_smpp_submit_without_answer_is_unknown() -> None:
    async with running_smsc(SmscSettings(response_delay=2.0)) as smsc:
        gateway = SmppGateway(smpp_config(smsc.port, response_timeout=0.2))
        try:
            await gateway.start()
            (outcome,) = await gateway.submit_many([OutboundSms("c1", "+254700000001", "hi")])
        finally:
            await gateway.close()
    assert isinstance(outcome, OutcomeUnknown)
