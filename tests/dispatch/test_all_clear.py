"""The agency's all-clear: a Cancel sends it by SMS to exactly those the warning reached."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from channels.simulators.cbc import CbcSimulator
from channels.simulators.sms_http import SmsHttpSimulator
from service.context import AppContext
from service.db import transaction
from service.delivery.models import SmsMessage, SmsState
from service.dispatch.models import Channel, Dispatch, DispatchState
from service.dispatch.progress import locked_alert, settle
from service.dispatch.service import process_alert
from service.recipients.models import Subscriber
from service.worker import running_worker
from tests.dispatch.conftest import channels_for, make_network, plan_now
from tests.dispatch.test_dispatch_e2e import (
    FAR,
    NAIROBI_POLYGON,
    _a_targeted_cell,
    _state,
    eventually,
    post,
)
from tests.service.capdocs import cap_alert, reference_to
from tests.service.conftest import Keys, make_keys

pytestmark = pytest.mark.timeout(120)
ALL_CLEAR = {"en": "All clear: the flood warning is over.", "sw": "Hatari ya mafuriko imekwisha."}


async def test_agency_sets_reads_and_removes_its_all_clear(
    app_context: AppContext, api: httpx.AsyncClient, keys: Keys
) -> None:
    url = f"/api/v1/agencies/{keys.agency_id}/all-clear"
    assert (await api.get(url, headers=keys.manager)).json() == {"texts": {}}
    put = await api.put(url, json={"texts": ALL_CLEAR}, headers=keys.sender)
    assert put.status_code == 200, put.text
    assert (await api.get(url, headers=keys.manager)).json() == {"texts": ALL_CLEAR}
    bad = await api.put(url, json={"texts": {"english!": "x"}}, headers=keys.admin)
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    empty = await api.put(url, json={"texts": {"en": "   "}}, headers=keys.admin)
    assert empty.status_code == 422
    others = await make_keys(app_context, ["other@tocsin.dev"])
    foreign = await api.put(url, json={"texts": {"en": "hijack"}}, headers=others.sender)
    assert foreign.status_code == 404  # another agency's key cannot even see it
    assert (await api.put(url, json={"texts": ALL_CLEAR}, headers=keys.manager)).status_code == 403
    assert (await api.delete(url, headers=keys.sender)).status_code == 204
    assert (await api.get(url, headers=keys.sender)).json() == {"texts": {}}


async def test_a_cancel_sends_the_all_clear_once_to_each_phone_the_warning_reached(
    app_context: AppContext,
    api: httpx.AsyncClient,
    keys: Keys,
    cbc_sim: CbcSimulator,
    sms_sim: tuple[SmsHttpSimulator, str],
) -> None:
    simulator, sms_url = sms_sim
    await make_network(app_context, "clearing", channels_for([cbc_sim.base_url], sms_url))
    cell = await _a_targeted_cell(app_context, api, keys, "clearing")
    async with transaction(app_context.sessions) as session:
        for n in range(30):  # a third prefer Swahili; one subscriber is elsewhere
            language = "sw" if n % 3 == 0 else "en"
            session.add(
                Subscriber(
                    msisdn=f"2549{n:08d}", operator_id="clearing", cell_id=cell, language=language
                )
            )
        session.add(Subscriber(msisdn="254999999999", operator_id="clearing", cell_id="nowhere"))
    url = f"/api/v1/agencies/{keys.agency_id}/all-clear"
    assert (await api.put(url, json={"texts": ALL_CLEAR}, headers=keys.sender)).status_code == 200
    async with running_worker(app_context):
        alert = await post(api, keys, cap_alert("ac-1", expires=FAR, polygon=NAIROBI_POLYGON))
        await eventually(lambda: len(simulator.messages) == 30)
        await eventually(lambda: _state(api, keys, alert["id"], "active"))
        failed = await _ten_reported_failed(app_context)  # as if their delivery reports said so
        cancel = cap_alert(
            "ac-2",
            msg_type="Cancel",
            sent="2026-11-22T10:10:00+00:00",
            references=reference_to("ac-1"),
            expires=FAR,
        )
        cancelled = await post(api, keys, cancel)
        summary = await eventually(lambda: _state(api, keys, cancelled["id"], "completed"))
        await eventually(lambda: not cbc_sim.jobs)
    clears = [m for m in simulator.messages if m.text in ALL_CLEAR.values()]
    warned = {m.to for m in simulator.messages if m.text not in ALL_CLEAR.values()}
    warned -= {m.to for m in simulator.messages if m.to.lstrip("+") in failed}
    assert len(warned) == 20
    assert {m.to for m in clears} == warned  # the reached ones, not the failed, not the far one
    assert max(Counter(m.to for m in clears).values()) == 1
    swahili = {m.to for m in clears if m.text == ALL_CLEAR["sw"]}
    assert swahili == {m.to for m in clears if int(m.to[-8:]) % 3 == 0}
    assert summary["sms"]["total"] == 20
    assert any(d["action"] == "kill" for d in summary["dispatches"])


async def _ten_reported_failed(ctx: AppContext) -> set[str]:
    """Mark ten recipients' SMS failed; their numbers, without a leading +."""
    async with transaction(ctx.sessions) as session:
        rows = (
            await session.exec(select(SmsMessage).order_by(col(SmsMessage.msisdn)).limit(10))
        ).all()
        for row in rows:
            row.state = SmsState.FAILED
            session.add(row)
        return {row.msisdn.lstrip("+") for row in rows}


async def test_a_cancel_whose_kills_landed_completes_though_its_all_clear_failed(
    app_context: AppContext, api: httpx.AsyncClient, keys: Keys
) -> None:
    """The warning is off the air: a failed all-clear batch is that batch's failure only."""
    dead = "http://127.0.0.1:9"
    await make_network(app_context, "clearfail", channels_for([dead], dead))
    cell = await _a_targeted_cell(app_context, api, keys, "clearfail")
    async with transaction(app_context.sessions) as session:
        for n in range(3):
            session.add(Subscriber(msisdn=f"2548{n:08d}", operator_id="clearfail", cell_id=cell))
    url = f"/api/v1/agencies/{keys.agency_id}/all-clear"
    assert (await api.put(url, json={"texts": ALL_CLEAR}, headers=keys.sender)).status_code == 200
    alert = await post(api, keys, cap_alert("acf-1", expires=FAR, polygon=NAIROBI_POLYGON))
    await plan_now(app_context, alert["id"])
    async with transaction(app_context.sessions) as session:  # as if it had all gone out
        for dispatch in await _of(session, alert["id"]):
            if dispatch.channel == Channel.CELL_BROADCAST:
                dispatch.live, dispatch.endpoint = True, "cbc1"
            dispatch.state = DispatchState.SUBMITTED
            session.add(dispatch)
        for message in (await session.exec(select(SmsMessage))).all():
            message.state = SmsState.SUBMITTED
            session.add(message)
    cancel = cap_alert(
        "acf-2",
        msg_type="Cancel",
        sent="2026-11-22T10:10:00+00:00",
        references=reference_to("acf-1"),
        expires=FAR,
    )
    cancelled = await post(api, keys, cancel)
    await process_alert(app_context, cancelled["id"])
    async with transaction(app_context.sessions) as session:
        planned = await _of(session, cancelled["id"])
        assert {(d.action, d.channel) for d in planned} == {("kill", "cbs"), ("send", "sms")}
        for dispatch in planned:  # the kill lands, the all-clear batch gives up
            dispatch.state = DispatchState.DELIVERED if dispatch.action == "kill" else "failed"
            session.add(dispatch)
        row = await locked_alert(session, cancelled["id"])
        assert row is not None
        await settle(session, row)
    summary = await _state(api, keys, cancelled["id"], "completed")
    assert summary is not None
    assert [d["state"] for d in summary["dispatches"] if d["action"] == "send"] == ["failed"]


async def _of(session: AsyncSession, alert_id: str) -> list[Dispatch]:
    return list((await session.exec(select(Dispatch).where(Dispatch.alert_id == alert_id))).all())
