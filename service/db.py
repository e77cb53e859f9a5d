"""Database engine, sessions and the column types every feature shares.

SQLite (embedded default) and PostgreSQL are both first-class. SQLite gets
WAL, a busy timeout and ``BEGIN IMMEDIATE`` so that concurrent writers queue
for the lock instead of failing half-way through a transaction.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import DateTime, Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.types import TypeDecorator
from sqlmodel.ext.asyncio.session import AsyncSession

SQLITE_BUSY_TIMEOUT_MS = 30_000


def is_postgres(session: AsyncSession) -> bool:
    """Whether the session talks to PostgreSQL (else SQLite)."""
    return session.get_bind().dialect.name == "postgresql"


def upsert_into(session: AsyncSession, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT on `table` in the session's dialect, so it can take ON CONFLICT clauses."""
    return postgresql.insert(table) if is_postgres(session) else sqlite.insert(table)


def utcnow() -> dt.datetime:
    """The current time, timezone-aware in UTC."""
    return dt.datetime.now(dt.UTC)


def new_id() -> str:
    """A random public identifier for a stored row."""
    return uuid.uuid4().hex


class UtcDateTime(TypeDecorator[dt.datetime]):
    """An aware datetime stored as UTC; SQLite would otherwise drop the offset."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware one")
        return value.astimezone(dt.UTC)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def create_engine(url: str, *, pool_size: int = 10, read_only: bool = False) -> AsyncEngine:
    """An async engine for `url` (already in async-driver form).

    On SQLite, `read_only` engines begin ordinary (deferred) transactions:
    in WAL mode readers never wait for the writer, so reads must not queue
    for the write lock that `BEGIN IMMEDIATE` takes.
    """
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        _configure_sqlite(engine, immediate=not read_only)
        return engine
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def _configure_sqlite(engine: AsyncEngine, *, immediate: bool) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers take the write lock up front: a deferred transaction that reads
        # and then writes fails with SQLITE_BUSY when another writer got in between.
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def session_maker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@asynccontextmanager
async def transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit when the block ends normally, roll back otherwise.

    Request dependencies, jobs and CLI commands own transactions through this;
    service functions never commit.
    """
    async with sessions() as session, session.begin():
        yield session
