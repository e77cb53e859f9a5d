"""Putting a dispatch on its queue: an outbox row in the caller's transaction."""

from __future__ import annotations

import datetime as dt

from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import utcnow
from service.dispatch.models import Channel, Dispatch, DispatchState
from service.queue.names import Queue, dispatch_job_id
from service.queue.outbox import add_job

BROADCAST_JOB = "run_broadcast"
SMS_JOB = "run_sms_batch"
PLAN_JOB = "plan_alert"


def schedule_dispatch(
    session: AsyncSession,
    dispatch: Dispatch,
    *,
    defer_until: dt.datetime | None = None,
    resend_tag: str | None = None,
) -> str:
    """Queue the next attempt of `dispatch`; returns the job id (deterministic per attempt).

    `resend_tag` marks a re-send of a job Redis may have lost (see `sweep`).
    """
    attempt = dispatch.attempts + 1
    job_id = dispatch_job_id(dispatch.id, attempt)
    if resend_tag is not None:
        job_id += f":resend-{resend_tag}"
    is_broadcast = dispatch.channel == Channel.CELL_BROADCAST
    add_job(
        session,
        queue=Queue.CELL_BROADCAST if is_broadcast else Queue.SMS,
        function=BROADCAST_JOB if is_broadcast else SMS_JOB,
        job_id=job_id,
        args=[dispatch.id, attempt],
        defer_until=defer_until,
    )
    dispatch.state = DispatchState.QUEUED
    dispatch.queued_at = utcnow()
    session.add(dispatch)
    return job_id


def schedule_planning(session: AsyncSession, alert_id: str, stage: str) -> str:
    """Queue the job that resolves targeting and, once approved, plans the alert.

    `stage` ("received", "approved") keeps the two jobs of one alert apart.
    """
    job_id = f"plan:{alert_id}:{stage}"
    add_job(session, queue=Queue.CELL_BROADCAST, function=PLAN_JOB, job_id=job_id, args=[alert_id])
    return job_id
