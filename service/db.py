"""Database engine, sessions and the column types every feature shares.

SQLite (embedded default) and PostgreSQL are both first-class. SQLite gets
WAL, a busy timeout and ``BEGIN IMMEDIATE`` so that concurrent writers queue
for the lock instead of failing half-way through a transaction.
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import fcntl
import logging
import os
import uuid
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import DateTime, Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.types import TypeDecorator
from sqlmodel.ext.asyncio.session import AsyncSession

from service.sqlite_inline import inline_connector

SQLITE_BUSY_TIMEOUT_MS = 30_000
log = logging.getLogger(__name__)


def is_postgres(session: AsyncSession) -> bool:
    """Whether the session talks to PostgreSQL (else SQLite)."""
    return session.get_bind().dialect.name == "postgresql"


def upsert_into(session: AsyncSession, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT on `table` in the session's dialect, so it can take ON CONFLICT clauses."""
    return postgresql.insert(table) if is_postgres(session) else sqlite.insert(table)


# PostgreSQL's deadlock_detected and serialization_failure: the transaction
# was aborted only because another one got in its way; run again, it passes.
_CONFLICT_SQLSTATES = frozenset({"40P01", "40001"})


def lost_a_conflict(exc: BaseException) -> bool:
    """Whether `exc` is a transaction the database aborted to break a lock conflict."""
    if not isinstance(exc, DBAPIError):
        return False
    return getattr(exc.orig, "sqlstate", None) in _CONFLICT_SQLSTATES


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
        connect = inline_connector(url, timeout_s=SQLITE_BUSY_TIMEOUT_MS / 1000)
        engine = create_async_engine(url, async_creator=connect)
        _configure_sqlite(engine, immediate=not read_only)
        if not read_only:
            _SQLITE_WRITERS[engine.sync_engine] = _WriterTurn(engine.sync_engine.url.database)
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
    async with _one_writer_at_a_time(sessions), sessions() as session, session.begin():
        yield session


class _ProcessTurn:
    """Writers of one SQLite database in different processes take turns, in order.

    The turn is an exclusive `flock` on a file beside the database, which the
    kernel hands on the moment it is released, where SQLite's busy handler
    would sleep. A lock alone is not fair: the releasing process can take it
    straight back for its next writer before a waiting process has even
    woken, so a busy worker could starve the API. So a writer first
    queues on a second file, the gate, and holds it while it waits for the
    turn: the next writer of the process that just finished finds the gate
    taken and lets the waiting one go first.
    """

    def __init__(self, database: str) -> None:
        self._paths = (f"{database}.writer-gate", f"{database}.writer-lock")
        self._fds: tuple[int, int] | None = None
        self._pid = 0

    def __del__(self) -> None:  # the engine is gone: so are its descriptors
        if self._fds is not None and self._pid == os.getpid():
            for fd in self._fds:
                os.close(fd)

    def _files(self) -> tuple[int, int]:
        if self._fds is None or self._pid != os.getpid():  # a forked child needs its own
            gate, turn = (os.open(p, os.O_RDWR | os.O_CREAT, 0o600) for p in self._paths)
            self._fds, self._pid = (gate, turn), os.getpid()
        return self._fds

    async def acquire(self) -> None:
        """Take the turn: at once when nobody queues, else waiting in a thread."""
        gate, turn = self._files()
        if _try_flock(gate):
            if _try_flock(turn):
                fcntl.flock(gate, fcntl.LOCK_UN)
                return
            fcntl.flock(gate, fcntl.LOCK_UN)  # queue properly: the thread takes it again
        waiting = asyncio.get_running_loop().run_in_executor(None, _take_in_order, gate, turn)
        try:
            await asyncio.shield(waiting)
        except asyncio.CancelledError:
            # The thread goes on waiting and will get the turn: give it straight back.
            waiting.add_done_callback(self._give_back)
            raise

    def _give_back(self, waited: asyncio.Future[None]) -> None:
        if not waited.cancelled() and waited.exception() is None:
            self.release()

    def release(self) -> None:
        """Let the next writer in."""
        if self._fds is not None and self._pid == os.getpid():
            fcntl.flock(self._fds[1], fcntl.LOCK_UN)


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _take_in_order(gate: int, turn: int) -> None:
    """Blocking: queue at the gate, wait for the turn, leave the gate to the next in line."""
    fcntl.flock(gate, fcntl.LOCK_EX)
    try:
        fcntl.flock(turn, fcntl.LOCK_EX)
    finally:
        fcntl.flock(gate, fcntl.LOCK_UN)


class _WriterTurn:
    """Writers of one SQLite database take turns: in this process, then across processes.

    SQLite admits one writer; the others wait in its busy handler, which sleeps
    in growing steps (up to 100 ms) rather than waking when the lock frees, so
    the lock sits idle between writers. Queued here, the next writer starts the
    moment the last one commits (200 concurrent one-row transactions: 4.0 ms
    each without, 1.3 ms with). A lock belongs to one event loop, so each loop
    gets its own. The holder of the asyncio lock then takes the turn between
    processes (`tocsin serve`'s API and its worker): `_ProcessTurn`.
    """

    def __init__(self, database: str | None) -> None:
        self._locks: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Lock]] = {}
        in_memory = not database or database == ":memory:"
        self.processes = None if in_memory or database is None else _ProcessTurn(database)

    def lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        held = self._locks.get(id(loop))
        if held is None or held[0] is not loop:
            self._locks = {k: v for k, v in self._locks.items() if not v[0].is_closed()}
            held = self._locks[id(loop)] = (loop, asyncio.Lock())
        return held[1]


_SQLITE_WRITERS: weakref.WeakKeyDictionary[Engine, _WriterTurn] = weakref.WeakKeyDictionary()


# The turns this task already holds: a transaction opened inside another one
# (same engine, same task) must not wait for itself.
_HELD: contextvars.ContextVar[frozenset[int]] = contextvars.ContextVar("_HELD", default=frozenset())


@asynccontextmanager
async def _one_writer_at_a_time(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[None]:
    bind = sessions.kw.get("bind")
    turn = _SQLITE_WRITERS.get(bind.sync_engine) if isinstance(bind, AsyncEngine) else None
    if turn is None or id(turn) in _HELD.get():
        yield
        return
    lock = turn.lock()
    try:
        # Not wait_for: on 3.11 it can swallow a cancellation that meets the
        # acquisition, and a cancelled loop (a stopping worker) would run on.
        async with asyncio.timeout(SQLITE_BUSY_TIMEOUT_MS / 1000):
            await lock.acquire()
            try:
                if turn.processes is not None:
                    await turn.processes.acquire()
            except BaseException:
                lock.release()
                raise
    except TimeoutError:
        # Never worse than without the queue: go on to SQLite's own lock and busy
        # timeout (a writer waiting on a task that needs this turn would hang here).
        log.warning("sqlite writer turn not granted in time; waiting on SQLite's lock")
        yield
        return
    token = _HELD.set(_HELD.get() | {id(turn)})
    try:
        yield
    finally:
        _HELD.reset(token)
        if turn.processes is not None:
            turn.processes.release()
        lock.release()
