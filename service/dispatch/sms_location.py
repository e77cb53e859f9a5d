"""Stopping operator location-SMS jobs: on Cancel, on Update, at expiry; durably.

A location job that the operator accepted is `live` (its `result` keeps the
gateway's `job_id` and the gateway's name). Stopping it is a dispatch of its
own (channel `lbsms`, action `kill`, `replaces` = the job's dispatch),
written to the outbox in the planning transaction and retried with back-off
like every other job, so a crash or a gateway hiccup cannot leave a job
running. The job sends `DELETE /v1/location-jobs/{job_id}`; 404 counts as
already stopped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from channels.errors import ChannelError, TransientChannelError
from channels.sms import HttpJsonGateway
from service.context import AppContext
from service.db import transaction, utcnow
from service.dispatch import events, repository
from service.dispatch.models import Action, Channel, Dispatch, DispatchState
from service.dispatch.outcomes import KILL_MAX_ATTEMPTS, Failed, Outcome, Sent, backoff
from service.dispatch.progress import after_success
from service.dispatch.registry import ChannelRegistry
from service.dispatch.retries import schedule_retry
from service.dispatch.scheduling import schedule_dispatch
from service.network.models import Operator


def is_location_stop(dispatch: Dispatch) -> bool:
    return dispatch.channel == Channel.OPERATOR_SMS and dispatch.action == Action.KILL


async def plan_stop(
    session: AsyncSession, live: Dispatch, *, alert_id: str, reason: str
) -> Dispatch | None:
    """The stop of live location job `live` (None if one is already on its way)."""
    if await repository.pending_kill_of(session, live.id) is not None:
        return None
    stop = Dispatch(
        alert_id=alert_id,
        chain_id=live.chain_id,
        operator_id=live.operator_id,
        channel=Channel.OPERATOR_SMS,
        action=Action.KILL,
        replaces=live.id,
        endpoint=live.endpoint,
        payload={"reason": reason, "job_id": live.result.get("job_id")},
    )
    session.add(stop)
    events.record(session, "dispatch.planned", alert_id=alert_id, dispatch=stop, action="kill")
    return stop


async def live_location_jobs(
    session: AsyncSession,
    chains: Collection[str] | None = None,
    *,
    expired_by: dt.datetime | None = None,
) -> list[Dispatch]:
    """Location jobs the operator is running now: of `chains`, or past `expired_by`."""
    query = select(Dispatch).where(
        Dispatch.channel == Channel.OPERATOR_SMS,
        Dispatch.action == Action.SEND,
        col(Dispatch.live).is_(True),
    )
    if chains is not None:
        query = query.where(col(Dispatch.chain_id).in_(list(chains)))
    if expired_by is not None:
        query = query.where(col(Dispatch.expires_at) <= expired_by)
    return list((await session.exec(query.order_by(col(Dispatch.planned_at)))).all())


async def plan_stops(
    session: AsyncSession,
    chains: Collection[str],
    *,
    alert_id: str,
    reason: str,
    exclude_alert: str | None = None,
) -> list[Dispatch]:
    """Stops for every live location job of `chains` (not of `exclude_alert`); not scheduled."""
    planned: list[Dispatch] = []
    for live in await live_location_jobs(session, chains):
        if live.alert_id == exclude_alert:
            continue
        stop = await plan_stop(session, live, alert_id=alert_id, reason=reason)
        if stop is not None:
            planned.append(stop)
    return planned


async def plan_expired_stops(session: AsyncSession, now: dt.datetime) -> list[str]:
    """Stops for location jobs past their expiry, scheduled; their job ids (for the sweep)."""
    job_ids: list[str] = []
    for live in await live_location_jobs(session, expired_by=now):
        stop = await plan_stop(session, live, alert_id=live.alert_id, reason="expired")
        if stop is not None:
            job_ids.append(schedule_dispatch(session, stop))
    return job_ids


async def run_location_stop(
    ctx: AppContext, registry: ChannelRegistry, dispatch_id: str, attempt: int
) -> Outcome:
    """Attempt `attempt` of a stop: DELETE the operator's job through the gateway that took it."""
    async with transaction(ctx.sessions) as session:
        dispatch = await repository.get_for_update(session, dispatch_id)
        if (
            dispatch is None
            or dispatch.state != DispatchState.QUEUED
            or dispatch.attempts >= attempt
        ):
            return Sent()
        operator = await session.get(Operator, dispatch.operator_id)
        assert operator is not None
        dispatch.attempts = attempt
        dispatch.heartbeat_at = utcnow()
        session.add(dispatch)
        job_id = dispatch.payload.get("job_id")
        gateway_name = dispatch.endpoint
    jsons = [
        g
        for g in registry.gateways(operator.id, operator.channels)
        if isinstance(g, HttpJsonGateway)
    ]
    gateway = next((g for g in jsons if g.name == gateway_name), jsons[0] if jsons else None)
    if not job_id:
        return await _done(ctx, dispatch_id, DispatchState.DELIVERED, "no job id: nothing to stop")
    if gateway is None:
        reason = "no http-json gateway left to stop the location job on"
        return await _done(ctx, dispatch_id, DispatchState.FAILED, reason)
    try:
        await gateway.cancel_location_job(str(job_id))
    except TransientChannelError as exc:
        return await _retry_or_fail(ctx, dispatch_id, attempt, str(exc))
    except ChannelError as exc:
        return await _done(ctx, dispatch_id, DispatchState.FAILED, f"refused: {exc}")
    return await _done(ctx, dispatch_id, DispatchState.DELIVERED, None)


async def _retry_or_fail(ctx: AppContext, dispatch_id: str, attempt: int, error: str) -> Outcome:
    # Only stops come here: like a broadcast's kill, a stop halts a warning going
    # out, so it keeps trying as long (KILL_MAX_ATTEMPTS, about an hour).
    if attempt >= KILL_MAX_ATTEMPTS:
        reason = f"gave up after {attempt} attempts: {error}"
        return await _done(ctx, dispatch_id, DispatchState.FAILED, reason)
    async with transaction(ctx.sessions) as session:
        dispatch = await repository.get_for_update(session, dispatch_id)
        assert dispatch is not None
        return schedule_retry(session, dispatch, attempt, error, backoff(attempt))


async def _done(
    ctx: AppContext, dispatch_id: str, state: DispatchState, error: str | None
) -> Outcome:
    async with transaction(ctx.sessions) as session:
        dispatch = await repository.get_for_update(session, dispatch_id)
        assert dispatch is not None
        dispatch.state = state
        dispatch.last_error = error
        if state == DispatchState.DELIVERED:  # a failed stop submitted nothing
            dispatch.submitted_at = utcnow()
        dispatch.finished_at = utcnow()
        dispatch.heartbeat_at = None
        session.add(dispatch)
        if state == DispatchState.DELIVERED and dispatch.replaces is not None:
            job = await repository.get_for_update(session, dispatch.replaces)
            if job is not None:
                job.live = False
                job.finished_at = utcnow()
                session.add(job)
        kind = "dispatch.killed" if state == DispatchState.DELIVERED else "dispatch.failed"
        events.record(session, kind, alert_id=dispatch.alert_id, dispatch=dispatch, reason=error)
        await after_success(session, dispatch)
    failed = state == DispatchState.FAILED
    return Failed(error or "failed") if failed else Sent()
