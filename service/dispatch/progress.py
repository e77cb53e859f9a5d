"""Moving an alert along as its dispatches finish."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.alerts.lifecycle import change_state
from service.alerts.models import Alert
from service.alerts.states import AlertState
from service.db import utcnow
from service.dispatch import events, repository
from service.dispatch.models import Action, Dispatch
from service.dispatch.occupancy import IN_FLIGHT

WORKER = "worker"


async def after_success(session: AsyncSession, dispatch: Dispatch) -> list[str]:
    """Once nothing of the alert is left to send: Alert/Update -> active, Cancel -> completed.

    Returns follow-up job ids to relay (none today; kept so callers need not change).
    """
    alert = await locked_alert(session, dispatch.alert_id)
    if alert is not None:
        await settle(session, alert)
    await settle_canceller(session, dispatch)
    return []


async def settle_canceller(session: AsyncSession, dispatch: Dispatch) -> None:
    """The alert that cancelled `dispatch` while it was being sent may be done now.

    A Cancel (or Update) waits while a dispatch it cancelled is still being
    submitted (`settle`): the submission's follow-up kill or stop is its own.
    """
    canceller = cancelled_by(dispatch)
    if canceller is None or canceller == dispatch.alert_id:
        return
    alert = await locked_alert(session, canceller)
    if alert is not None:
        await settle(session, alert)


def cancelled_by(dispatch: Dispatch) -> str | None:
    """The alert whose Cancel or Update cancelled `dispatch`, if one did."""
    found = (dispatch.payload or {}).get("cancelled_by")
    return str(found) if found else None


async def locked_alert(session: AsyncSession, alert_id: str) -> Alert | None:
    """The alert, read afresh and locked for this transaction.

    Locked: two dispatches of one alert finishing at once (on PostgreSQL, on two
    operators) would each count the other as still open, and neither would move it on.
    """
    query = (
        select(Alert)
        .where(Alert.id == alert_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.exec(query)).first()


async def settle(session: AsyncSession, alert: Alert) -> None:
    """Move a dispatching alert (locked by the caller) on once nothing is left to send."""
    if alert.state != AlertState.DISPATCHING or alert.sms_pending:
        return
    if await repository.count_open(session, alert.id) > 0:
        return
    # A submission it overtook lands later: its kill or stop is planned under this alert.
    if alert.msg_type != "Alert":
        since = utcnow() - IN_FLIGHT
        if await repository.count_cancelled_in_flight(session, alert.id, since=since) > 0:
            return
    # A Cancel fails when a kill or stop failed; its all-clear SMS failures are
    # its batches' own (named in the summary), the warning is off the air.
    action = Action.KILL if alert.msg_type == "Cancel" else None
    failed, total = await repository.count_failed(session, alert.id, action=action)
    target, reason = _ending(alert, failed, total)
    await change_state(session, alert, target, actor=WORKER, reason=reason)
    events.record(session, f"alert.{target.value}", alert_id=alert.id, failed=failed, total=total)


def _ending(alert: Alert, failed: int, total: int) -> tuple[AlertState, str]:
    """Where an alert goes once none of its dispatches is open.

    A Cancel with a kill (or location-SMS stop) that failed did not stop the
    warning everywhere: `failed`, so managers do not read "completed" while a
    broadcast is on air. Its all-clear SMS batches do not count: one that
    failed is named in the summary, the warning itself is stopped. An Alert
    or Update reaching nobody at all is `failed`; one that reached some
    operators is `active`, its failures named in the summary.
    """
    if alert.msg_type == "Cancel":  # `failed` and `total` count its kills and stops only
        if failed:
            return AlertState.FAILED, f"{failed} of {total} kills failed"
        return AlertState.COMPLETED, "every dispatch handed over"
    if total and failed == total:
        return AlertState.FAILED, f"all {total} dispatches failed"
    if failed:
        return AlertState.ACTIVE, f"{failed} of {total} dispatches failed"
    return AlertState.ACTIVE, "every dispatch handed over"
