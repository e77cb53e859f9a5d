"""An Update stops the original's SMS not yet sent; the new area gets the new text, once."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest
from sqlmodel import select

from channels.simulators.sms_http import SmsHttpSimulator
from service.context import AppContext
from service.db import transaction
from service.delivery.models import SmsMessage, SmsState
from service.dispatch.models import Dispatch, DispatchState
from service.recipients.models import Subscriber
from service.worker import running_worker
from tests.dispatch.conftest import channels_for, make_network, plan_now
from tests.dispatch.test_dispatch_e2e import FAR, NAIROBI_POLYGON, _state, eventually, post
from tests.service.capdocs import cap_alert, reference_to
from tests.service.conftest import Keys

pytestmark = pytest.mark.timeout(120)
SMALLER = "-1.2,36.8 -1.2,36.84 -1.24,36.84 -1.24,36.8 -1.2,36.8"


async def _cells(
    ctx: AppContext, api: httpx.AsyncClient, keys: Keys, name: str, polygon: str
) -> set[str]:
    from service.network.targeting import compute_targeting

    draft = await post(api, keys, cap_alert(name, status="Draft", expires=FAR, polygon=polygon))
    async with transaction(ctx.sessions) as session:
        rows = await compute_targeting(session, ctx.cell_indexes, draft["id"])
    return {cell for row in rows for cell in row.cells}


async def test_an_update_stops_the_old_text_and_sends_the_new_one_once(
    app_context: AppContext,
    api: httpx.AsyncClient,
    keys: Keys,
    sms_sim: tuple[SmsHttpSimulator, str],
) -> None:
    simulator, sms_url = sms_sim
    await make_network(app_context, "upd", channels_for([], sms_url))
    old_cells = await _cells(app_context, api, keys, "d-1", NAIROBI_POLYGON)
    new_cells = await _cells(app_context, api, keys, "d-2", SMALLER)
    inside, outside = sorted(new_cells)[0], sorted(old_cells - new_cells)[0]
    async with transaction(app_context.sessions) as session:
        for n in range(5):
            session.add(Subscriber(msisdn=f"25471000000{n}", operator_id="upd", cell_id=inside))
            session.add(Subscriber(msisdn=f"25472000000{n}", operator_id="upd", cell_id=outside))
    original = await post(api, keys, cap_alert("u-1", expires=FAR, polygon=NAIROBI_POLYGON))
    await plan_now(app_context, original["id"])  # planned, not sent: no worker yet
    update = cap_alert(
        "u-2",
        msg_type="Update",
        sent="2026-11-22T10:05:00+00:00",
        references=reference_to("u-1"),
        headline="Flood warning moved",
        expires=FAR,
        polygon=SMALLER,
    )
    updated = await post(api, keys, update)
    await plan_now(app_context, updated["id"])
    async with transaction(app_context.sessions) as session:
        query = select(Dispatch).where(Dispatch.alert_id == original["id"])
        old = (await session.exec(query)).all()
        rows = (await session.exec(select(SmsMessage))).all()
    assert [d.state for d in old] == [DispatchState.CANCELLED]
    assert {r.state for r in rows if r.alert_id == original["id"]} == {SmsState.CANCELLED}
    async with running_worker(app_context):
        await eventually(lambda: _state(api, keys, updated["id"], "active"))
        await eventually(lambda: len(simulator.messages) >= 5)
    sent = Counter(m.to for m in simulator.messages)
    assert sent == Counter({f"+25471000000{n}": 1 for n in range(5)})  # new area, once
    assert all("moved" in m.text for m in simulator.messages)  # never the old text
