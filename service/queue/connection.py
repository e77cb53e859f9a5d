"""Opening arq's Redis pool for the API (it relays the outbox) and the workers."""

from __future__ import annotations

from arq.connections import ArqRedis, RedisSettings, create_pool


async def open_queue(redis_url: str) -> ArqRedis:
    """An arq pool on `redis_url` (redis://, rediss:// or unix://).

    A few connection retries cover a Redis that is restarting; after that
    the caller sees the error (the API still accepts alerts: the outbox keeps
    them until the relay can send).
    """
    settings = RedisSettings.from_dsn(redis_url)
    settings.conn_retries = 3
    settings.conn_retry_delay = 1
    return await create_pool(settings)
