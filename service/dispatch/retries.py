"""Staging the next attempt of a dispatch after a transient failure."""

from __future__ import annotations

import datetime as dt

from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import utcnow
from service.dispatch import events
from service.dispatch.models import Dispatch
from service.dispatch.outcomes import RetryLater
from service.dispatch.scheduling import schedule_dispatch


def schedule_retry(
    session: AsyncSession, dispatch: Dispatch, attempt: int, error: str, delay: dt.timedelta
) -> RetryLater:
    """Record why attempt `attempt` failed and stage the next one `delay` from now.

    In the caller's transaction, on a row it holds locked; managers get a
    `dispatch.retrying` event. The heartbeat is cleared: the job now waits in
    the queue, where the stall sweep may look for it.
    """
    dispatch.last_error = error
    dispatch.heartbeat_at = None
    events.record(
        session,
        "dispatch.retrying",
        alert_id=dispatch.alert_id,
        dispatch=dispatch,
        attempt=attempt,
        error=error,
        after_s=delay.total_seconds(),
    )
    return RetryLater(schedule_dispatch(session, dispatch, defer_until=utcnow() + delay), delay)
