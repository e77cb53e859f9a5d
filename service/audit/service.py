"""Recording audit events and proving the trail has not been altered."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit import repository
from service.audit.chain import event_hash
from service.audit.models import GENESIS_HASH, AuditEvent
from service.db import utcnow

# session.info slot: (seq, hash) of this transaction's last event, until commit.
_TIP_KEY = "tocsin.audit_tip"


async def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    alert_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the chain, inside the caller's transaction.

    The first event of a transaction locks the chain's tip; later ones
    continue from the tip the session remembers, and the tip row is moved
    once, just before commit (`_move_tip`): an intake writes three events
    with two statements on the tip instead of six.
    """
    tip: tuple[int, str] | None = session.info.get(_TIP_KEY)
    last_seq, prev_hash = await repository.lock_head(session) if tip is None else tip
    seq = last_seq + 1
    at = utcnow()
    detail = detail or {}
    digest = event_hash(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        alert_id=alert_id,
        detail=detail,
        prev_hash=prev_hash,
    )
    event = AuditEvent(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        alert_id=alert_id,
        detail=detail,
        prev_hash=prev_hash,
        hash=digest,
    )
    session.add(event)
    session.info[_TIP_KEY] = (seq, digest)
    return event


@sa_event.listens_for(Session, "before_commit")
def _move_tip(session: Session) -> None:
    """Write the tip this transaction's events reached (on the sync session of an AsyncSession)."""
    tip: tuple[int, str] | None = session.info.pop(_TIP_KEY, None)
    if tip is not None:
        repository.move_head(session, *tip)


@sa_event.listens_for(Session, "after_rollback")
def _forget_tip(session: Session) -> None:
    """A rolled-back transaction's events are gone; the next one starts from the stored tip."""
    session.info.pop(_TIP_KEY, None)


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
