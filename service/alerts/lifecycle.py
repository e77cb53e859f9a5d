"""State changes, each checked against the lifecycle and written to the audit trail."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from service.alerts import repository
from service.alerts.models import Alert
from service.alerts.states import LIVE_STATES, AlertState, check_transition
from service.audit import service as audit
from service.db import utcnow
from service.dispatch.scheduling import schedule_planning


async def change_state(
    session: AsyncSession,
    alert: Alert,
    target: AlertState,
    *,
    actor: str,
    reason: str | None = None,
) -> None:
    """Move `alert` to `target`, audited.

    Raises:
        IllegalTransitionError: the lifecycle forbids the change.
    """
    previous = AlertState(alert.state)
    check_transition(previous, target)
    alert.state = target
    alert.state_reason = reason
    alert.state_changed_at = utcnow()
    session.add(alert)
    audit.record(
        session,
        actor=actor,
        action="alert.state",
        alert_id=alert.id,
        detail={"from": previous.value, "to": target.value, "reason": reason},
    )


async def became_dispatchable(
    session: AsyncSession, alert: Alert, *, actor: str, chains: set[str] | None = None
) -> None:
    """What follows when an alert is approved (by a manager, or at once).

    An Update supersedes the live alerts of its chain (and of every chain it
    references): they complete, and the dispatcher replaces their broadcasts
    with the Update's. `chains` saves the lookup when the caller knows them.
    The planning job is written to the outbox here, in the same transaction
    as the approval.
    """
    schedule_planning(session, alert.id, "approved")
    if alert.msg_type != "Update":
        return
    if chains is None:
        chains = await repository.chains_affected_by(session, alert)
    for earlier in await repository.in_states(session, chains, set(LIVE_STATES)):
        if earlier.id != alert.id:
            await change_state(
                session,
                earlier,
                AlertState.COMPLETED,
                actor=actor,
                reason=f"superseded by update {alert.id}",
            )
    for pending in await repository.in_states(session, chains, {AlertState.PENDING_APPROVAL}):
        if pending.id != alert.id:
            await change_state(
                session,
                pending,
                AlertState.REJECTED,
                actor=actor,
                reason=f"superseded by update {alert.id} before approval",
            )
