"""Every query on the audit tables."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit.models import GENESIS_HASH, AuditEvent, AuditHead


async def lock_head(session: AsyncSession) -> tuple[int, str]:
    """Reserve the next sequence number and return (seq, previous hash).

    The UPDATE comes first on purpose: it takes the lock that serialises
    appends for the rest of the transaction.
    """
    result = await session.exec(
        update(AuditHead)
        .where(col(AuditHead.id) == 1)
        .values(seq=AuditHead.seq + 1)
        .returning(col(AuditHead.seq), col(AuditHead.hash))
    )
    row = result.one_or_none()
    if row is None:
        session.add(AuditHead(id=1, seq=1, hash=GENESIS_HASH))
        await session.flush()
        return 1, GENESIS_HASH
    return int(row[0]), str(row[1])


async def store_event(session: AsyncSession, event: AuditEvent) -> None:
    """Insert `event` and move the chain's tip to it."""
    session.add(event)
    await session.exec(
        update(AuditHead).where(col(AuditHead.id) == 1).values(seq=event.seq, hash=event.hash)
    )


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
