"""Every query on the audit tables."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

from sqlalchemy import bindparam
from sqlalchemy.orm import Session
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit.models import GENESIS_HASH, AuditEvent, AuditHead

_HEAD = AuditHead.__table__  # type: ignore[attr-defined]
# Built once: Core statements on the one-row table skip the ORM's bulk-update
# bookkeeping, and a statement object reused keeps its cache key.
_LOCK_HEAD = (
    _HEAD.update()
    .where(_HEAD.c.id == 1)
    .values(seq=_HEAD.c.seq)
    .returning(_HEAD.c.seq, _HEAD.c.hash)
)
_MOVE_HEAD = (
    _HEAD.update().where(_HEAD.c.id == 1).values(seq=bindparam("tip_seq"), hash=bindparam("tip"))
)


def lock_head(session: Session) -> tuple[int, str]:
    """Lock the chain's tip for the rest of the transaction; return (last seq, its hash).

    A no-op UPDATE on purpose: it takes the lock (row lock on PostgreSQL, the
    write lock on SQLite) that serialises appends, so concurrent appends form
    one chain, not a fork. Sync, like `move_head`: both run in the session's
    `before_commit` hook, inside the async session's greenlet, so the
    statements still go through the async driver.
    """
    row = session.connection().execute(_LOCK_HEAD).one_or_none()
    if row is None:
        session.add(AuditHead(id=1, seq=0, hash=GENESIS_HASH))
        session.flush()
        return 0, GENESIS_HASH
    return int(row[0]), str(row[1])


def move_head(session: Session, seq: int, digest: str) -> None:
    """Point the tip at the last event of this transaction (once, before commit)."""
    session.connection().execute(_MOVE_HEAD, {"tip_seq": seq, "tip": digest})


async def list_events(
    session: AsyncSession,
    *,
    after_seq: int = 0,
    limit: int = 100,
    alert_id: str | None = None,
    since: dt.datetime | None = None,
) -> list[AuditEvent]:
    """Events in chain order, after `after_seq`."""
    query = select(AuditEvent).where(col(AuditEvent.seq) > after_seq)
    if alert_id:
        query = query.where(col(AuditEvent.alert_id) == alert_id)
    if since:
        query = query.where(col(AuditEvent.at) >= since)
    query = query.order_by(col(AuditEvent.seq)).limit(limit)
    return list((await session.exec(query)).all())


async def iterate_all(session: AsyncSession, batch: int = 1000) -> AsyncIterator[AuditEvent]:
    """Every event in chain order, in batches, for verification."""
    after = 0
    while True:
        events = await list_events(session, after_seq=after, limit=batch)
        if not events:
            return
        for event in events:
            yield event
        after = events[-1].seq


async def head(session: AsyncSession) -> AuditHead | None:
    """The chain's tip as recorded."""
    return await session.get(AuditHead, 1)
