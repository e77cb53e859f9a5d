"""Writing jobs with the state change that causes them, and relaying them to Redis.

A job row is written in the caller's transaction. After commit, the caller
asks for an immediate relay (low latency); a loop in every worker relays
whatever is still unsent (nothing is lost if the process dies in between).
Relaying the same row twice is harmless: the arq job id is deterministic.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from redis.asyncio import Redis
from sqlalchemy import update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import transaction, utcnow
from service.queue.models import OutboxMessage
from service.queue.names import Queue

log = logging.getLogger(__name__)
# A Redis list of at most one entry: "rows were committed", for the relay loops.
WAKE_KEY = "tocsin:outbox:wake"


class JobQueue(Protocol):
    """What the relay needs from arq's Redis pool."""

    async def enqueue_job(
        self,
        function: str,
        *args: Any,
        _job_id: str | None = None,
        _queue_name: str | None = None,
        _defer_until: dt.datetime | None = None,
    ) -> object: ...


def add_job(
    session: AsyncSession,
    *,
    queue: Queue,
    function: str,
    job_id: str,
    args: Sequence[Any],
    defer_until: dt.datetime | None = None,
) -> OutboxMessage:
    """Stage a job in the caller's transaction; it is sent only if that commits."""
    message = OutboxMessage(
        queue=queue.value,
        function=function,
        job_id=job_id,
        args=list(args),
        defer_until=defer_until,
    )
    session.add(message)
    return message


async def wake_relay(redis: Redis[bytes]) -> None:
    """Tell a relay loop waiting in `wait_for_wake` that jobs were committed.

    The API commits jobs and only rings: a worker's relay sends them in
    batches. Enqueueing from the request itself (an arq transaction and a
    second database write per alert) cost the intake about a quarter of its
    time. The list is trimmed to one entry, so rings with no worker running
    cost no memory.
    """
    async with redis.pipeline(transaction=False) as pipe:
        pipe.lpush(WAKE_KEY, 1)
        pipe.ltrim(WAKE_KEY, 0, 0)
        await pipe.execute()


async def wait_for_wake(redis: Redis[bytes], timeout_s: float) -> None:
    """Block until `wake_relay` rings (or `timeout_s` passes: the relay also polls)."""
    await redis.blpop([WAKE_KEY], timeout=timeout_s)


async def relay(
    sessions: async_sessionmaker[AsyncSession],
    queue: JobQueue,
    *,
    job_ids: Sequence[str] | None = None,
    limit: int = 500,
    readers: async_sessionmaker[AsyncSession] | None = None,
) -> int:
    """Enqueue unsent outbox rows (all of them, or those with `job_ids`); return how many.

    Rows are marked sent only after Redis took them; a failure leaves them
    for the next relay. `readers` finds them without the write lock (SQLite),
    which matters for a loop that often finds nothing.
    """
    async with transaction(readers or sessions) as session:
        rows = await _unsent(session, job_ids, limit)
    if not rows:
        return 0
    sent: list[int] = []
    try:
        for row in rows:
            await queue.enqueue_job(
                row.function,
                *row.args,
                _job_id=row.job_id,
                _queue_name=row.queue,
                _defer_until=row.defer_until,
            )
            assert row.id is not None
            sent.append(row.id)
    finally:
        if sent:
            async with transaction(sessions) as session:
                await session.exec(
                    update(OutboxMessage)
                    .where(col(OutboxMessage.id).in_(sent))
                    .values(enqueued_at=utcnow())
                )
    return len(sent)


async def _unsent(
    session: AsyncSession, job_ids: Sequence[str] | None, limit: int
) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(col(OutboxMessage.enqueued_at).is_(None))
    if job_ids is not None:
        query = query.where(col(OutboxMessage.job_id).in_(job_ids))
    query = query.order_by(col(OutboxMessage.id)).limit(limit)
    return list((await session.exec(query)).all())


async def oldest_unsent_age(session: AsyncSession) -> float:
    """Seconds since the oldest unsent row was written (0 when none): the outbox lag."""
    query = select(OutboxMessage.created_at).where(col(OutboxMessage.enqueued_at).is_(None))
    oldest = (await session.exec(query.order_by(col(OutboxMessage.id)).limit(1))).first()
    return 0.0 if oldest is None else (utcnow() - oldest).total_seconds()
