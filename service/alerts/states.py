"""The alert lifecycle: which state may follow which.

    received -> pending-approval -> approved -> dispatching -> active
             -> completed | expired | cancelled
    received -> approved (no approval required)
    pending-approval -> rejected        any live state -> failed

A Draft or System alert is stored and stays `received`: nothing dispatches it.
"""

from __future__ import annotations

from enum import StrEnum


class AlertState(StrEnum):
    RECEIVED = "received"
    PENDING_APPROVAL = "pending-approval"
    APPROVED = "approved"
    DISPATCHING = "dispatching"
    ACTIVE = "active"
    COMPLETED = "completed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    FAILED = "failed"


_LIVE = {AlertState.APPROVED, AlertState.DISPATCHING, AlertState.ACTIVE}
_ENDINGS = {AlertState.COMPLETED, AlertState.EXPIRED, AlertState.CANCELLED, AlertState.FAILED}

ALLOWED_TRANSITIONS: dict[AlertState, frozenset[AlertState]] = {
    AlertState.RECEIVED: frozenset(
        {AlertState.PENDING_APPROVAL, AlertState.APPROVED, AlertState.REJECTED}
    ),
    AlertState.PENDING_APPROVAL: frozenset({AlertState.APPROVED, AlertState.REJECTED}),
    AlertState.APPROVED: frozenset({AlertState.DISPATCHING} | _ENDINGS),
    AlertState.DISPATCHING: frozenset({AlertState.ACTIVE} | _ENDINGS),
    AlertState.ACTIVE: frozenset(_ENDINGS),
    AlertState.COMPLETED: frozenset(),
    AlertState.EXPIRED: frozenset(),
    AlertState.CANCELLED: frozenset(),
    AlertState.REJECTED: frozenset(),
    AlertState.FAILED: frozenset(),
}

LIVE_STATES = frozenset(_LIVE)
FINAL_STATES = frozenset(_ENDINGS | {AlertState.REJECTED})


class IllegalTransitionError(ValueError):
    """A state change the lifecycle does not allow."""


def check_transition(current: AlertState, target: AlertState) -> None:
    """Raise unless `current -> target` is allowed.

    Raises:
        IllegalTransitionError: the lifecycle forbids the change.
    """
    if target not in ALLOWED_TRANSITIONS[current]:
        raise IllegalTransitionError(f"an alert cannot go from {current} to {target}")


class DispatchClass(StrEnum):
    """Which audience later stages may ever send an alert to.

    Derived once at intake from CAP `status` and `scope`, stored, and checked
    again by every channel: only `public` may use public identifiers.
    """

    PUBLIC = "public"  # status Actual, scope Public
    TEST = "test"  # Exercise or Test: exercise/test identifiers and test recipients only
    NONE = "none"  # Draft, System, and non-public scopes: never dispatched


def dispatch_class_for(status: str, scope: str) -> DispatchClass:
    """The audience an alert of this CAP status and scope may reach."""
    if status in {"Exercise", "Test"}:
        return DispatchClass.TEST
    if status == "Actual" and scope == "Public":
        return DispatchClass.PUBLIC
    return DispatchClass.NONE
