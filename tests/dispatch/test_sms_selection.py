"""Who the planner picks: last known cell in the targeted cells, or registered location inside."""

from __future__ import annotations

import httpx
from sqlmodel import select

from service.context import AppContext
from service.db import transaction
from service.delivery.models import SmsMessage
from service.recipients.models import Subscriber
from tests.dispatch.conftest import channels_for, make_network, plan_now
from tests.dispatch.test_dispatch_e2e import FAR, NAIROBI_POLYGON, _a_targeted_cell, post
from tests.service.capdocs import cap_alert
from tests.service.conftest import Keys


async def test_registered_location_inside_the_area_is_warned_without_a_cell(
    app_context: AppContext, api: httpx.AsyncClient, keys: Keys
) -> None:
    await make_network(app_context, "geo", channels_for([], "http://127.0.0.1:9"))
    cell = await _a_targeted_cell(app_context, api, keys, "geo")
    async with transaction(app_context.sessions) as session:
        add = session.add
        add(Subscriber(msisdn="254750000001", operator_id="geo", cell_id=cell))
        add(Subscriber(msisdn="254750000002", operator_id="geo", lon=36.85, lat=-1.25))
        add(Subscriber(msisdn="254750000003", operator_id="geo", lon=36.95, lat=-1.25))  # east
        add(  # both: once
            Subscriber(msisdn="254750000004", operator_id="geo", cell_id=cell, lon=36.81, lat=-1.21)
        )
        add(Subscriber(msisdn="254750000005", operator_id="geo", cell_id="elsewhere"))
        add(  # a tester is a subscriber too
            Subscriber(msisdn="254750000006", operator_id="geo", lon=36.82, lat=-1.22, test=True)
        )
    alert = await post(api, keys, cap_alert("geo-1", expires=FAR, polygon=NAIROBI_POLYGON))
    await plan_now(app_context, alert["id"])
    async with transaction(app_context.sessions) as session:
        rows = (await session.exec(select(SmsMessage.msisdn))).all()
    assert sorted(rows) == ["254750000001", "254750000002", "254750000004", "254750000006"]


async def test_a_test_alert_picks_only_testers_by_location_too(
    app_context: AppContext, api: httpx.AsyncClient, keys: Keys
) -> None:
    await make_network(app_context, "geo", channels_for([], "http://127.0.0.1:9"))
    async with transaction(app_context.sessions) as session:
        session.add(Subscriber(msisdn="254750000011", operator_id="geo", lon=36.85, lat=-1.25))
        session.add(
            Subscriber(msisdn="254750000012", operator_id="geo", lon=36.85, lat=-1.25, test=True)
        )
    body = cap_alert("geo-2", status="Exercise", expires=FAR, polygon=NAIROBI_POLYGON)
    alert = await post(api, keys, body)
    await plan_now(app_context, alert["id"])
    async with transaction(app_context.sessions) as session:
        rows = (await session.exec(select(SmsMessage.msisdn))).all()
    assert list(rows) == ["254750000012"]
