"""arq entry points: thin wrappers that turn outcomes into queue behaviour.

Job arguments are ids only; every job is idempotent (it checks the state it
is about to change), because arq runs jobs at least once.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from arq import Retry
from sqlalchemy.exc import DBAPIError
from sqlmodel import select

from service.context import AppContext
from service.db import lost_a_conflict, transaction
from service.dispatch import broadcast, service, sms_send
from service.dispatch.models import Dispatch
from service.dispatch.outcomes import Failed, Outcome, RetryLater
from service.dispatch.registry import ChannelRegistry
from service.logs import log_context
from service.queue.outbox import relay

log = logging.getLogger(__name__)
_T = TypeVar("_T")
CONFLICT_RETRY_S = 0.2


_Job = Callable[..., Awaitable[_T]]


def _rerun_on_conflict(job: _Job[_T]) -> _Job[_T]:
    """Run the job again, soon, when PostgreSQL aborted it to break a deadlock.

    Locks are taken in one order where one order exists (the audit tip always
    last), but an alert and the one that cancels it are locked in either
    order by different jobs. PostgreSQL then aborts one transaction; it is
    rolled back whole, and running the job again is what the stall sweep
    would do 45 s later, only sooner. A job's earlier transactions may have
    committed (an SMS batch claims its attempt first), so the second try
    resumes that attempt (``resumed``) instead of taking it for a duplicate.
    """

    @functools.wraps(job)
    async def rerun(ctx: dict[str, Any], *args: Any) -> _T:
        try:
            return await job(ctx, *args)
        except DBAPIError as exc:
            if not lost_a_conflict(exc):
                raise
            tries = int(ctx.get("job_try", 1))
            log.warning("lost a lock conflict; running the job again", extra={"try": tries})
            raise Retry(defer=CONFLICT_RETRY_S * tries) from exc

    return rerun


def _app(ctx: dict[str, Any]) -> tuple[AppContext, ChannelRegistry]:
    return ctx["app"], ctx["registry"]


async def _relay_now(app: AppContext, job_ids: list[str]) -> None:
    if job_ids and app.queue is not None:
        await relay(app.sessions, app.queue, job_ids=job_ids)


async def plan_alert(ctx: dict[str, Any], alert_id: str) -> int:
    """Targeting, then (once approved) the plan; relays the planned jobs at once."""
    app, _ = _app(ctx)
    with log_context(alert_id=alert_id):
        job_ids = await service.process_alert(app, alert_id)
        await _relay_now(app, job_ids)
    return len(job_ids)


async def plan_sms(ctx: dict[str, Any], alert_id: str) -> int:
    """An alert's SMS batches, once its broadcasts have left; relays them at once."""
    app, _ = _app(ctx)
    with log_context(alert_id=alert_id):
        job_ids = await service.plan_pending_sms(app, alert_id)
        await _relay_now(app, job_ids)
    return len(job_ids)


async def _log_ids(app: AppContext, dispatch_id: str, attempt: int) -> dict[str, str]:
    """The ids a dispatch job's log lines carry; the alert's is one primary-key read away."""
    async with transaction(app.readers) as session:
        query = select(Dispatch.alert_id).where(Dispatch.id == dispatch_id)
        alert_id = (await session.exec(query)).first()
    ids = {"dispatch_id": dispatch_id, "attempt": str(attempt)}
    return ids if alert_id is None else {"alert_id": alert_id, **ids}


async def run_broadcast(ctx: dict[str, Any], dispatch_id: str, attempt: int) -> str:
    app, registry = _app(ctx)
    with log_context(**await _log_ids(app, dispatch_id, attempt)):
        outcome = await broadcast.run_broadcast(app, registry, dispatch_id, attempt)
        return await _finish(app, outcome)


async def run_sms_batch(ctx: dict[str, Any], dispatch_id: str, attempt: int) -> str:
    app, registry = _app(ctx)
    with log_context(**await _log_ids(app, dispatch_id, attempt)):
        # A second try of the same job resumes the attempt its first try claimed.
        resumed = int(ctx.get("job_try", 1)) > 1
        outcome = await sms_send.run_sms_batch(app, registry, dispatch_id, attempt, resumed=resumed)
        return await _finish(app, outcome)


async def _finish(app: AppContext, outcome: Outcome) -> str:
    if isinstance(outcome, RetryLater):
        await _relay_now(app, [outcome.job_id])
        return f"retry in {outcome.after.total_seconds():.1f} s"
    if isinstance(outcome, Failed):
        log.warning("dispatch failed", extra={"reason": outcome.reason})
        return f"failed: {outcome.reason}"
    await _relay_now(app, list(outcome.job_ids))
    return "done"


FUNCTIONS = [
    _rerun_on_conflict(job) for job in (plan_alert, plan_sms, run_broadcast, run_sms_batch)
]
