"""Re-sending jobs Redis may have lost: dispatches and plans that stalled.

The outbox marks a row sent once Redis took it; if Redis then restarts
without persistence, the job is gone. Job ids are deterministic, so
enqueueing a job that still exists does nothing, and jobs are idempotent, so
a job that ran already does nothing either: re-sending is always safe.
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.alerts.models import Alert
from service.alerts.states import AlertState
from service.context import AppContext
from service.db import transaction, utcnow
from service.dispatch import repository
from service.dispatch.models import Dispatch, DispatchState
from service.dispatch.occupancy import IN_FLIGHT
from service.dispatch.progress import locked_alert, settle
from service.dispatch.scheduling import schedule_dispatch, schedule_planning
from service.dispatch.sms_planning import schedule_sms_planning, sms_planning_job_id
from service.queue.models import OutboxMessage


async def resend_stalled(ctx: AppContext, limit: int = 500) -> list[str]:
    """Write fresh outbox rows for work queued longer than the stall time; their job ids.

    The stall time (`TOCSIN_STALL_AFTER_S`, 45 s) outlasts the longest retry back-off.
    """
    cutoff = utcnow() - dt.timedelta(seconds=ctx.settings.stall_after_s)
    job_ids: list[str] = []
    async with transaction(ctx.sessions) as session:
        stalled = (
            await session.exec(
                select(Dispatch)
                .where(
                    Dispatch.state == DispatchState.QUEUED.value,
                    col(Dispatch.queued_at) < cutoff,
                    # A batch still being sent beats every window; only a silent one stalled.
                    or_(col(Dispatch.heartbeat_at).is_(None), col(Dispatch.heartbeat_at) < cutoff),
                )
                .limit(limit)
            )
        ).all()
        for dispatch in stalled:
            job_ids.append(_requeue(session, dispatch))
        approved = (
            await session.exec(
                select(Alert.id).where(
                    Alert.state == AlertState.APPROVED.value, col(Alert.state_changed_at) < cutoff
                )
            )
        ).all()
        for alert_id in approved:
            job_ids.append(_replan(session, alert_id))
        job_ids += await _restage_sms_planning(session, cutoff)
        await _settle_overtaking(session)
    return job_ids


async def _settle_overtaking(session: AsyncSession) -> None:
    """Cancels and Updates still waiting for a submission they overtook that went silent.

    Each waits while a broadcast or location job it cancelled is being sent
    (`progress.settle`); the job that lands or fails settles it. A worker that
    died mid-submission never does: once its heartbeat is older than
    `occupancy.IN_FLIGHT`, the alert is settled here.
    """
    waiting = (
        await session.exec(
            select(Alert.id).where(
                Alert.state == AlertState.DISPATCHING.value,
                Alert.msg_type != "Alert",
                col(Alert.sms_pending).is_(False),
                col(Alert.state_changed_at) < utcnow() - IN_FLIGHT,
            )
        )
    ).all()
    for alert_id in waiting:
        if await repository.count_open(session, alert_id) > 0:
            continue  # its own dispatches settle it when they finish
        alert = await locked_alert(session, alert_id)
        if alert is not None:
            await settle(session, alert)


async def _restage_sms_planning(session: AsyncSession, cutoff: dt.datetime) -> list[str]:
    """SMS plan jobs still to run long after the broadcasts were planned (Redis lost them).

    Only where no plan job of the alert (the first or a re-staged one) was
    staged since `cutoff`: restaging does not move `state_changed_at`, and a
    job per sweep (every 2 s) would pile up behind a slow SMS queue.
    """
    waiting = (
        await session.exec(
            select(Alert).where(
                col(Alert.sms_pending),
                Alert.state == AlertState.DISPATCHING.value,
                col(Alert.state_changed_at) < cutoff,
            )
        )
    ).all()
    return [
        schedule_sms_planning(session, alert, tag=resend_tag())
        for alert in waiting
        if not await _sms_plan_staged_since(session, alert.id, cutoff)
    ]


async def _sms_plan_staged_since(session: AsyncSession, alert_id: str, since: dt.datetime) -> bool:
    job_id = sms_planning_job_id(alert_id)
    query = (
        select(OutboxMessage.id)
        .where(
            or_(
                OutboxMessage.job_id == job_id,
                col(OutboxMessage.job_id).startswith(f"{job_id}:", autoescape=True),
            ),
            col(OutboxMessage.created_at) >= since,
        )
        .limit(1)
    )
    return (await session.exec(query)).first() is not None


def _requeue(session: AsyncSession, dispatch: Dispatch) -> str:
    return schedule_dispatch(session, dispatch, resend_tag=resend_tag())


def _replan(session: AsyncSession, alert_id: str) -> str:
    return schedule_planning(session, alert_id, f"resend-{resend_tag()}")


def resend_tag() -> str:
    """A tag making a re-sent job's outbox id new: the sweep time and a random part.

    The time alone collides: two workers' sweeps in one second, or the same time
    of day again, hit the outbox's unique job id and roll the whole sweep back.
    """
    return f"{utcnow():%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"
