"""The dispatch use cases the jobs call: process an accepted alert, expire broadcasts."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from service.alerts import repository as alerts
from service.alerts.lifecycle import change_state
from service.alerts.models import Alert
from service.alerts.states import AlertState, DispatchClass
from service.cap import CapAlert
from service.context import AppContext
from service.db import transaction, utcnow
from service.dispatch import events, repository
from service.dispatch.content import load_cap
from service.dispatch.occupancy import IN_FLIGHT
from service.dispatch.planner import plan_alert, plan_alert_sms, plan_cancel, plan_kill
from service.dispatch.progress import WORKER, after_success, locked_alert, settle
from service.dispatch.scheduling import schedule_dispatch
from service.dispatch.sms_location import plan_expired_stops
from service.queue.names import dispatch_job_id


async def process_alert(ctx: AppContext, alert_id: str) -> list[str]:
    """Resolve an accepted alert's targeting; once approved, plan its dispatch.

    Idempotent: targeting is stored once per inventory version, and an alert
    is planned only while it is `approved` (planning moves it on).
    Returns the job ids to relay at once.
    """
    cap = await _prepare(ctx, alert_id)
    async with transaction(ctx.sessions) as session:
        alert = await session.get(Alert, alert_id)
        if alert is None or alert.state != AlertState.APPROVED:
            return []
        if alert.dispatch_class == DispatchClass.NONE:
            return []
        await change_state(session, alert, AlertState.DISPATCHING, actor=WORKER, reason="planned")
        if alert.msg_type == "Cancel":
            chains = await alerts.chains_affected_by(session, alert)
            planned = await plan_cancel(session, alert, chains | {alert.chain_id})
            references = True
        else:
            cap = cap or await load_cap(session, alert_id)
            planned = await plan_alert(session, alert, cap)
            references = bool(cap.references)
        # Only an alert that references others can have cancelled one of their broadcasts.
        overtook = references and await _overtook(session, alert)
        if not planned and not alert.sms_pending and not overtook:
            await _nothing_to_send(session, alert)
        return [dispatch_job_id(dispatch.id, dispatch.attempts + 1) for dispatch in planned]


async def plan_pending_sms(ctx: AppContext, alert_id: str) -> list[str]:
    """Plan the alert's SMS batches if still wanted (`sms_planning`); the job ids to relay.

    Idempotent: the mark is taken off in the same transaction that writes the
    batches, so a rerun finds nothing to do.
    """
    async with transaction(ctx.sessions) as session:
        alert = await locked_alert(session, alert_id)
        if alert is None or not alert.sms_pending:
            return []
        alert.sms_pending = False
        session.add(alert)
        planned = []
        if alert.state == AlertState.DISPATCHING:  # not cancelled or expired meanwhile
            planned = await plan_alert_sms(session, alert, await load_cap(session, alert_id))
        job_ids = [schedule_dispatch(session, dispatch) for dispatch in planned]
        await settle(session, alert)  # nothing planned: the broadcasts may all be done
        return job_ids


async def _overtook(session: AsyncSession, alert: Alert) -> bool:
    """Whether `alert` cancelled a broadcast or location job being submitted right now.

    Its kill or stop is planned under `alert` once the submission lands:
    until then the alert stays `dispatching` (`progress.settle`).
    """
    since = utcnow() - IN_FLIGHT
    return await repository.count_cancelled_in_flight(session, alert.id, since=since) > 0


async def _nothing_to_send(session: AsyncSession, alert: Alert) -> None:
    events.record(session, "alert.nothing-to-send", alert_id=alert.id)
    target = AlertState.COMPLETED if alert.msg_type == "Cancel" else AlertState.ACTIVE
    await change_state(session, alert, target, actor=WORKER, reason="no channel to send on")


async def _prepare(ctx: AppContext, alert_id: str) -> CapAlert | None:
    """Resolve targeting; the CAP model when the alert is about to be planned.

    Both are asked in a read first: the write lock that every intake needs
    (SQLite has one writer) is taken only when there is targeting to store,
    and parsing the document (milliseconds for a large alert) happens here,
    not inside the planning transaction.
    """
    from service.network.targeting import compute_targeting, targeting_is_current

    async with transaction(ctx.readers) as session:
        # Loaded first and held: the session keeps loaded rows only while they are referenced.
        alert = await session.get(Alert, alert_id)
        current = await targeting_is_current(session, alert_id)
        cap = None
        if alert is not None and alert.state == AlertState.APPROVED and alert.msg_type != "Cancel":
            cap = await load_cap(session, alert_id)
    if not current:
        async with transaction(ctx.sessions) as session:
            await compute_targeting(session, ctx.cell_indexes, alert_id)
    return cap


async def expire_broadcasts(ctx: AppContext) -> list[str]:
    """Kill broadcasts past their end (CAP expiry or the operator's maximum); job ids to relay."""
    job_ids: list[str] = []
    async with transaction(ctx.sessions) as session:
        for live in await repository.expired_broadcasts(session, utcnow()):
            kill = await plan_kill(session, live, alert_id=live.alert_id, reason="expired")
            if kill is not None:
                job_ids.append(schedule_dispatch(session, kill))
            alert = await session.get(Alert, live.alert_id)
            if alert is not None and alert.state in {AlertState.ACTIVE, AlertState.DISPATCHING}:
                await change_state(
                    session, alert, AlertState.EXPIRED, actor=WORKER, reason="expired"
                )
                events.record(session, "alert.expired", alert_id=alert.id)
        # Operator location-SMS jobs past their expiry are stopped too (DELETE, durably).
        job_ids += await plan_expired_stops(session, utcnow())
        # An alert with nothing on air (SMS only, or broadcasts already ended) expires too.
        for alert in await alerts.active_past_expiry(session, utcnow()):
            await change_state(session, alert, AlertState.EXPIRED, actor=WORKER, reason="expired")
            events.record(session, "alert.expired", alert_id=alert.id)
    return job_ids


__all__ = ["after_success", "expire_broadcasts", "plan_pending_sms", "process_alert"]
