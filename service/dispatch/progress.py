"""Moving an alert along as its dispatches finish."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.alerts.lifecycle import change_state
from service.alerts.models import Alert
from service.alerts.states import AlertState
from service.dispatch import events, repository
from service.dispatch.models import Dispatch

WORKER = "worker"


async def after_success(session: AsyncSession, dispatch: Dispatch) -> list[str]:
    """Once nothing of the alert is left to send: Alert/Update -> active, Cancel -> completed.

    Returns follow-up job ids to relay (none today; kept so callers need not change).
    """
    # Locked: two dispatches of one alert finishing at once (on PostgreSQL, on two
    # operators) would each count the other as still open, and neither would move it on.
    query = (
        select(Alert)
        .where(Alert.id == dispatch.alert_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    alert = (await session.exec(query)).first()
    if alert is None or alert.state != AlertState.DISPATCHING:
        return []
    if await repository.count_open(session, alert.id) > 0:
        return []
    target = AlertState.COMPLETED if alert.msg_type == "Cancel" else AlertState.ACTIVE
    await change_state(session, alert, target, actor=WORKER, reason="every dispatch handed over")
    events.record(session, f"alert.{target.value}", alert_id=alert.id)
    return []
