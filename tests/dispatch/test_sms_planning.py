"""SMS are planned by their own job, after the broadcasts have been committed and relayed."""

from __future__ import annotations

import datetime as dt

import httpx
from sqlalchemy import func
from sqlmodel import select

from service.alerts.models import Alert
from service.context import AppContext
from service.db import transaction, utcnow
from service.delivery.models import SmsMessage
from service.dispatch.models import Channel, Dispatch
from service.dispatch.service import expire_broadcasts, plan_pending_sms, process_alert
from service.dispatch.sweep import resend_stalled
from service.queue.outbox import OutboxMessage
from service.recipients.models import Subscriber
from tests.dispatch.conftest import channels_for, make_network, plan_now
from tests.dispatch.test_dispatch_e2e import FAR, NAIROBI_POLYGON, _a_targeted_cell, post
from tests.service.capdocs import cap_alert, reference_to
from tests.service.conftest import Keys


async def _subscribers(ctx: AppContext, api: httpx.AsyncClient, keys: Keys, count: int) -> None:
    await make_network(ctx, "both", channels_for(["http://127.0.0.1:9"], "http://127.0.0.1:9"))
    cell = await _a_targeted_cell(ctx, api, keys, "both")
    async with transaction(ctx.sessions) as session:
        for n in range(count):
            session.add(Subscriber(msisdn=f"2547{n:08d}", operator_id="both", cell_id=cell))


async def _counts(ctx: AppContext, alert_id: str) -> tuple[int, int, bool]:
    async with transaction(ctx.readers) as session:
        broadcasts = (
            await session.exec(
                select(func.count()).where(
                    Dispatch.alert_id == alert_id, Dispatch.channel == Channel.CELL_BROADCAST
                )
            )
        ).one()
        rows = (
            await session.exec(
                select(func.count()).select_from(SmsMessage).where(SmsMessage.alert_id == alert_id)
            )
        ).one()
        alert = await session.get(Alert, alert_id)
        assert alert is not None
        return int(broadcasts), int(rows), alert.sms_pending


async def test_the_broadcasts_commit_before_any_recipient_row_is_written(
    app_context: AppContext, api: httpx.AsyncClient, keys: Keys
) -> None:
    await _subscribers(app_context, api, keys, 2_500)
    alert = await post(api, keys, cap_alert("sp-1", expires=FAR, polygon=NAIROBI_POLYGON))
    await process_alert(app_context, alert["id"])  # the plan job: broadcasts only
    assert await _counts(app_context, alert["id"]) == (1, 0, True)
    async with transaction(app_context.readers) as session:
        staged = (
            await session.exec(
                select(OutboxMessage.job_id).where(OutboxMessage.function == "plan_sms")
            )
        ).all()
    assert staged == [f"plan-sms:{alert['id']}"]  # durable: the relay sends it after a crash

    job_ids = await plan_pending_sms(app_context, alert["id"])  # the SMS plan job
    assert len(job_ids) == 3  # batches of at most 1,000
    assert await _counts(app_context, alert["id"]) == (1, 2_500, False)
    assert await plan_pending_sms(app_context, alert["id"]) == []  # a rerun does nothing
    assert await _counts(app_context, alert["id"]) == (1, 2_500, False)


async def test_a_cancel_before_the_sms_are_planned_means_they_never_are(
    app_context: AppContext, api: httpx.AsyncClient, keys: Keys
) -> None:
    await _subscribers(app_context, api, keys, 10)
    alert = await post(api, keys, cap_alert("sp-2", expires=FAR, polygon=NAIROBI_POLYGON))
    await process_alert(app_context, alert["id"])
    cancel = await post(
        api, keys, cap_alert("sp-3", msg_type="Cancel", references=reference_to("sp-2"))
    )
    await process_alert(app_context, cancel["id"])
    assert (await _counts(app_context, alert["id"]))[2] is False  # the mark is gone
    assert await plan_pending_sms(app_context, alert["id"]) == []
    assert (await _counts(app_context, alert["id"]))[1] == 0  # nobody gets the cancelled text


async def test_the_sweep_restages_an_sms_plan_job_redis_lost(
    app_context: AppContext, api: httpx.AsyncClient, keys: Keys
) -> None:
    await _subscribers(app_context, api, keys, 5)
    alert = await post(api, keys, cap_alert("sp-4", expires=FAR, polygon=NAIROBI_POLYGON))
    await process_alert(app_context, alert["id"])
    async with transaction(app_context.sessions) as session:
        row = await session.get(Alert, alert["id"])
        assert row is not None
        row.state_changed_at = utcnow() - dt.timedelta(minutes=5)  # long ago: the job was lost
    await _staged_long_ago(app_context)
    restaged = [j for j in await resend_stalled(app_context) if j.startswith("plan-sms:")]
    assert len(restaged) == 1
    assert restaged[0].startswith(f"plan-sms:{alert['id']}:")
    # The next sweep (2 s later) finds the job just staged: no second one per sweep.
    assert not [j for j in await resend_stalled(app_context) if j.startswith("plan-sms:")]
    assert len(await _plan_sms_jobs(app_context)) == 2  # the lost one and one re-staged
    assert len(await plan_pending_sms(app_context, alert["id"])) == 1
    assert not [j for j in await resend_stalled(app_context) if j.startswith("plan-sms:")]


async def test_the_sweep_restages_again_once_the_restaged_job_is_lost_too(
    app_context: AppContext, api: httpx.AsyncClient, keys: Keys
) -> None:
    await _subscribers(app_context, api, keys, 5)
    alert = await post(api, keys, cap_alert("sp-6", expires=FAR, polygon=NAIROBI_POLYGON))
    await process_alert(app_context, alert["id"])
    async with transaction(app_context.sessions) as session:
        row = await session.get(Alert, alert["id"])
        assert row is not None
        row.state_changed_at = utcnow() - dt.timedelta(minutes=5)
    await _staged_long_ago(app_context)
    assert len([j for j in await resend_stalled(app_context) if j.startswith("plan-sms:")]) == 1
    await _staged_long_ago(app_context)  # the re-staged job was lost as well
    assert len([j for j in await resend_stalled(app_context) if j.startswith("plan-sms:")]) == 1
    assert len(await _plan_sms_jobs(app_context)) == 3


async def _staged_long_ago(ctx: AppContext) -> None:
    """Every SMS plan job in the outbox was staged five minutes ago."""
    async with transaction(ctx.sessions) as session:
        for row in (
            await session.exec(select(OutboxMessage).where(OutboxMessage.function == "plan_sms"))
        ).all():
            row.created_at = utcnow() - dt.timedelta(minutes=5)
            session.add(row)


async def _plan_sms_jobs(ctx: AppContext) -> list[str]:
    async with transaction(ctx.readers) as session:
        query = select(OutboxMessage.job_id).where(OutboxMessage.function == "plan_sms")
        return list((await session.exec(query)).all())


async def test_an_sms_only_alert_expires_at_its_cap_expiry(
    app_context: AppContext, api: httpx.AsyncClient, keys: Keys
) -> None:
    """Nothing on air ends it: the expiry step moves an active alert past its expiry on."""
    await make_network(app_context, "smsonly", channels_for([], "http://127.0.0.1:9"))
    alert = await post(api, keys, cap_alert("sp-5", expires=FAR, polygon=NAIROBI_POLYGON))
    await plan_now(app_context, alert["id"])  # no subscriber: nothing to send, active
    async with transaction(app_context.sessions) as session:
        row = await session.get(Alert, alert["id"])
        assert row is not None
        assert row.state == "active"
        row.expires_at = utcnow() - dt.timedelta(seconds=1)
    await expire_broadcasts(app_context)
    async with transaction(app_context.readers) as session:
        row = await session.get(Alert, alert["id"])
        assert row is not None
        assert row.state == "expired"
