"""SMPP end to end: submit_sm, the SMSC's deliver_sm receipt, the message row `delivered`."""

from __future__ import annotations

import httpx
import pytest
from sqlmodel import select

from channels.simulators.smsc import ReceiptStyle, SmscSettings, running_smsc
from channels.sms import SmppConfig
from service.context import AppContext
from service.db import transaction
from service.delivery.models import SmsMessage, SmsState
from service.network.channels import ChannelsConfig
from service.recipients.models import Subscriber
from service.worker import running_worker
from tests.dispatch.conftest import make_network
from tests.dispatch.test_dispatch_e2e import (
    FAR,
    NAIROBI_POLYGON,
    _a_targeted_cell,
    delivery,
    eventually,
    post,
)
from tests.service.capdocs import cap_alert
from tests.service.conftest import Keys

pytestmark = pytest.mark.timeout(120)


async def _rows(ctx: AppContext) -> list[SmsMessage]:
    async with transaction(ctx.sessions) as session:
        return list((await session.exec(select(SmsMessage))).all())


@pytest.mark.parametrize("style", [ReceiptStyle(), ReceiptStyle(date_digits=12, tlvs=True)])
async def test_smpp_receipts_reach_the_message_rows(
    app_context: AppContext, api: httpx.AsyncClient, keys: Keys, style: ReceiptStyle
) -> None:
    async with running_smsc(SmscSettings(auto_receipt=style)) as smsc:
        config = SmppConfig(
            name="smsc1",
            host="127.0.0.1",
            port=smsc.port,
            system_id="tocsin",
            password="secret",
            source_addr="ALERT",
        )
        channels = ChannelsConfig.model_validate(
            {"sms": {"gateways": [{"kind": "smpp", "config": config}]}}
        )
        await make_network(app_context, "smppop", channels)
        cell = await _a_targeted_cell(app_context, api, keys, "smppop")
        async with transaction(app_context.sessions) as session:
            for n in range(3):
                session.add(
                    Subscriber(msisdn=f"25473000000{n}", operator_id="smppop", cell_id=cell)
                )
        async with running_worker(app_context):
            alert = await post(api, keys, cap_alert("smpp-1", expires=FAR, polygon=NAIROBI_POLYGON))

            async def all_delivered() -> bool:
                rows = await _rows(app_context)
                return len(rows) == 3 and all(r.state == SmsState.DELIVERED for r in rows)

            await eventually(all_delivered)
            summary = await delivery(api, keys, alert["id"])
    rows = await _rows(app_context)
    assert all(r.gateway == "smsc1" and r.gateway_message_id for r in rows)
    assert all(r.final_at is not None and r.raw_report for r in rows)
    assert summary["sms"]["delivered"] == 3
