"""SQLite writers of one process take turns: queued, cancellable, never stuck."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

from service.db import create_engine, session_maker, transaction


@pytest.fixture
async def sessions(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'turns.db'}")
    maker = session_maker(engine)
    async with transaction(maker) as session:
        await session.exec(text("CREATE TABLE t (n INTEGER)"))  # type: ignore[call-overload]
    yield maker
    await engine.dispose()


async def _insert(sessions, n: int, hold: asyncio.Event | None = None) -> None:  # type: ignore[no-untyped-def]
    async with transaction(sessions) as session:
        await session.exec(text("INSERT INTO t VALUES (:n)").bindparams(n=n))  # type: ignore[call-overload]
        if hold is not None:
            await hold.wait()


async def test_concurrent_writers_all_commit(sessions) -> None:  # type: ignore[no-untyped-def]
    await asyncio.gather(*(_insert(sessions, n) for n in range(50)))
    async with transaction(sessions) as session:
        count = (await session.exec(text("SELECT count(*) FROM t"))).one()  # type: ignore[call-overload]
    assert count[0] == 50


async def test_a_writer_cancelled_while_waiting_its_turn_leaves_no_lock_behind(
    sessions,  # type: ignore[no-untyped-def]
) -> None:
    release = asyncio.Event()
    holder = asyncio.create_task(_insert(sessions, 1, hold=release))
    await asyncio.sleep(0.05)
    waiter = asyncio.create_task(_insert(sessions, 2))
    await asyncio.sleep(0.05)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter  # the cancellation is not swallowed: a stopping loop does stop
    release.set()
    await holder
    await asyncio.wait_for(_insert(sessions, 3), timeout=5)  # the turn is free again
    async with transaction(sessions) as session:
        rows = (await session.exec(text("SELECT n FROM t ORDER BY n"))).all()  # type: ignore[call-overload]
    assert [r[0] for r in rows] == [1, 3]


async def test_a_cancellation_that_meets_the_turn_is_not_swallowed(sessions) -> None:  # type: ignore[no-untyped-def]
    """The turn is handed over and the waiter cancelled in one step: it must still stop.

    (`asyncio.wait_for` on Python 3.11 returns the acquired lock and drops the
    cancellation in exactly this case; a stopping worker's loop then ran on.)
    """
    from service.db import _SQLITE_WRITERS

    bind = sessions.kw["bind"]
    lock = _SQLITE_WRITERS[bind.sync_engine].lock()
    await lock.acquire()
    waiter = asyncio.create_task(_insert(sessions, 9))
    await asyncio.sleep(0.05)  # waiting for the turn
    lock.release()
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert not lock.locked()  # handed on, not leaked
    async with transaction(sessions) as session:
        rows = (await session.exec(text("SELECT n FROM t"))).all()  # type: ignore[call-overload]
    assert rows == []
