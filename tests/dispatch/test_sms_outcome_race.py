"""A delivery report that overtakes the gateway's answer is not overwritten by it.

Kannel calls the dlr-url as soon as the SMSC reports, which can be before
its HTTP reply to our sendsms reaches the worker; the worker then records
`submitted` for a message the report already marked `delivered`.
"""

from __future__ import annotations

import httpx
from sqlmodel import select

from channels.sms import SubmitResult
from channels.sms.receipts import DeliveryReceipt, ReceiptState
from service.context import AppContext
from service.db import transaction
from service.delivery.models import SmsMessage, SmsState
from service.delivery.receipt_batch import IncomingReceipt, apply_receipts
from service.dispatch.sms_send import _record, _take_window
from service.recipients.models import Subscriber
from tests.dispatch.conftest import channels_for, make_network, plan_now
from tests.dispatch.test_dispatch_e2e import FAR, NAIROBI_POLYGON, _a_targeted_cell, post
from tests.service.capdocs import cap_alert
from tests.service.conftest import Keys


async def test_a_report_that_arrives_first_keeps_its_state(
    app_context: AppContext, api: httpx.AsyncClient, keys: Keys
) -> None:
    await make_network(app_context, "racy", channels_for([], "http://127.0.0.1:9"))
    cell = await _a_targeted_cell(app_context, api, keys, "racy")
    async with transaction(app_context.sessions) as session:
        for n in range(3):
            session.add(Subscriber(msisdn=f"25470000000{n}", operator_id="racy", cell_id=cell))
    alert = await post(api, keys, cap_alert("race-1", expires=FAR, polygon=NAIROBI_POLYGON))
    await plan_now(app_context, alert["id"])  # plans the batch, no worker needed
    async with transaction(app_context.sessions) as session:
        dispatch_id = (await session.exec(select(SmsMessage.dispatch_id))).first()
    assert dispatch_id is not None
    window = await _take_window(app_context, dispatch_id)
    assert window is not None
    assert len(window) == 3
    early = DeliveryReceipt(ReceiptState.DELIVERED, correlation_id=str(window[0].id), raw="early")
    failed = DeliveryReceipt(
        ReceiptState.FAILED, correlation_id=str(window[1].id), raw="undeliv", error_code="34"
    )
    async with transaction(app_context.sessions) as session:
        await apply_receipts(
            session, [IncomingReceipt("simsms", early), IncomingReceipt("simsms", failed)]
        )
        reported = {
            m.id: (m.final_at, m.error) for m in (await session.exec(select(SmsMessage))).all()
        }
    results = [
        SubmitResult(str(m.id), "simsms", ReceiptState.SUBMITTED, 2, "gsm7", (f"gw-{m.id}",))
        for m in window
    ]
    await _record(app_context, window, results, "simsms", True)
    async with transaction(app_context.sessions) as session:
        rows = {m.id: m for m in (await session.exec(select(SmsMessage))).all()}
    first, second, third = (rows[m.id] for m in window)
    assert first.state == SmsState.DELIVERED  # the report's news stands
    assert first.gateway_message_id == f"gw-{first.id}"  # the answer's facts are still kept
    assert first.submitted_at is not None
    assert second.state == SmsState.FAILED
    for row in (first, second):  # when the report came, and why it failed, are kept
        assert row.final_at is not None
        assert (row.final_at, row.error) == reported[row.id]
        assert row.segments == 1  # what the report was read against
    assert second.error == "gateway error 34"
    assert third.state == SmsState.SUBMITTED
    assert (third.final_at, third.error, third.segments) == (None, None, 2)
