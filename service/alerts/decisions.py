"""A manager's approval or rejection of an alert waiting for it."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from service.alerts import repository
from service.alerts.errors import AlertNotFoundError, DecisionError, SelfApprovalError
from service.alerts.lifecycle import became_dispatchable, change_state
from service.alerts.models import Alert
from service.alerts.states import AlertState
from service.auth.service import Principal
from service.db import utcnow


async def approve(session: AsyncSession, principal: Principal, alert_id: str) -> Alert:
    """Approve a pending alert; it becomes dispatchable.

    Raises:
        AlertNotFoundError: no such alert.
        DecisionError: the alert is not pending approval.
        SelfApprovalError: the approver's key submitted the alert.
    """
    alert = await _pending(session, principal, alert_id)
    alert.decided_by, alert.decided_at = principal.key_id, utcnow()
    await change_state(
        session, alert, AlertState.APPROVED, actor=principal.actor, reason="approved"
    )
    await became_dispatchable(session, alert, actor=principal.actor)
    return alert


async def reject(session: AsyncSession, principal: Principal, alert_id: str, reason: str) -> Alert:
    """Reject a pending alert with a reason the sender will see.

    Raises:
        AlertNotFoundError: no such alert.
        DecisionError: the alert is not pending approval.
        SelfApprovalError: the deciding key submitted the alert.
    """
    alert = await _pending(session, principal, alert_id)
    alert.decided_by, alert.decided_at = principal.key_id, utcnow()
    await change_state(
        session, alert, AlertState.REJECTED, actor=principal.actor, reason=reason or "rejected"
    )
    return alert


async def _pending(session: AsyncSession, principal: Principal, alert_id: str) -> Alert:
    alert = await repository.get(session, alert_id)
    if alert is None:
        raise AlertNotFoundError(f"no alert with id {alert_id}")
    if alert.state != AlertState.PENDING_APPROVAL:
        raise DecisionError(f"alert {alert_id} is {alert.state}, not pending approval")
    if alert.submitted_by == principal.key_id:
        raise SelfApprovalError("nobody approves or rejects an alert submitted with their own key")
    return alert
