"""Recording audit events and proving the trail has not been altered."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit import repository
from service.audit.chain import event_hash
from service.audit.models import GENESIS_HASH, AuditEvent
from service.db import utcnow

# session.info slot: this transaction's events, sealed into the chain at commit.
_PENDING_KEY = "tocsin.audit_pending"


@dataclass(frozen=True)
class _Unsealed:
    """An event recorded in a transaction, not yet given its place in the chain."""

    actor: str
    action: str
    alert_id: str | None
    detail: dict[str, Any]


def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    alert_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one event to the chain, inside the caller's transaction.

    The event takes its place in the chain just before commit (`_seal`),
    with every other event of the transaction. The chain's tip is a lock
    that every writer shares, so it is taken last, after all the rows the
    transaction changes: a job holding an alert row and waiting for the tip
    can then never block one holding the tip and waiting for that alert
    (CI saw that deadlock on PostgreSQL). One lock and one move of the tip
    per transaction, however many events.
    """
    pending: list[_Unsealed] = session.info.setdefault(_PENDING_KEY, [])
    pending.append(_Unsealed(actor, action, alert_id, detail or {}))


@sa_event.listens_for(Session, "before_commit")
def _seal(session: Session) -> None:
    """Chain this transaction's events and move the tip (on the sync session of an AsyncSession)."""
    pending: list[_Unsealed] | None = session.info.pop(_PENDING_KEY, None)
    if not pending:
        return
    session.flush()  # every other row is locked first; the tip is the last lock taken
    seq, prev_hash = repository.lock_head(session)
    at = utcnow()  # at commit, so times rise with the sequence
    for unsealed in pending:
        seq += 1
        event = _sealed(unsealed, seq=seq, at=at, prev_hash=prev_hash)
        session.add(event)
        prev_hash = event.hash
    session.flush()
    repository.move_head(session, seq, prev_hash)


def _sealed(unsealed: _Unsealed, *, seq: int, at: dt.datetime, prev_hash: str) -> AuditEvent:
    digest = event_hash(
        seq=seq,
        at=at,
        actor=unsealed.actor,
        action=unsealed.action,
        alert_id=unsealed.alert_id,
        detail=unsealed.detail,
        prev_hash=prev_hash,
    )
    return AuditEvent(
        seq=seq,
        at=at,
        actor=unsealed.actor,
        action=unsealed.action,
        alert_id=unsealed.alert_id,
        detail=unsealed.detail,
        prev_hash=prev_hash,
        hash=digest,
    )


@sa_event.listens_for(Session, "after_rollback")
def _forget_pending(session: Session) -> None:
    """A rolled-back transaction's events are gone with it."""
    session.info.pop(_PENDING_KEY, None)


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of checking the whole chain."""

    events: int
    ok: bool
    problems: list[str]


async def verify(session: AsyncSession) -> VerifyReport:
    """Recompute every hash and link; report each place where the chain breaks.

    Detects an edited event (its hash no longer matches), a deleted or
    inserted event (a gap in `seq` or a broken `prev_hash` link), and a
    truncated tail (the recorded tip does not match the last event).
    """
    problems: list[str] = []
    expected_prev, expected_seq, count = GENESIS_HASH, 1, 0
    async for event in repository.iterate_all(session):
        count += 1
        if event.seq != expected_seq:
            problems.append(f"event {event.seq}: expected sequence {expected_seq} (missing events)")
        if event.prev_hash != expected_prev:
            problems.append(f"event {event.seq}: does not link to the event before it")
        recomputed = event_hash(
            seq=event.seq,
            at=event.at,
            actor=event.actor,
            action=event.action,
            alert_id=event.alert_id,
            detail=event.detail,
            prev_hash=event.prev_hash,
        )
        if recomputed != event.hash:
            problems.append(f"event {event.seq}: content was altered (hash mismatch)")
        expected_prev, expected_seq = event.hash, event.seq + 1
    tip = await repository.head(session)
    if tip is not None and (tip.seq != expected_seq - 1 or tip.hash != expected_prev):
        problems.append(
            f"the recorded tip (event {tip.seq}) does not match the last event "
            f"({expected_seq - 1}): events were removed from the end"
        )
    return VerifyReport(events=count, ok=not problems, problems=problems)
