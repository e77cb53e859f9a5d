"""SQLite writers of one process take turns: queued, cancellable, never stuck."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
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


# A process that holds the writers' file lock for a while, like a worker's transaction.
_HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


def _locked_elsewhere(path: Path) -> bool:
    """Whether another process could take the writers' lock now."""
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys\n"
            "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
            "try:\n    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
            "except BlockingIOError:\n    sys.exit(1)\n",
            str(path),
        ],
        check=False,
    )
    return probe.returncode == 1


async def test_a_writer_holds_the_cross_process_lock_for_its_transaction_only(
    sessions,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    lock_file = tmp_path / "turns.db.writer-lock"
    hold = asyncio.Event()
    writer = asyncio.create_task(_insert(sessions, 1, hold))
    await asyncio.sleep(0.2)
    assert await asyncio.to_thread(_locked_elsewhere, lock_file)
    hold.set()
    await writer
    assert not await asyncio.to_thread(_locked_elsewhere, lock_file)


async def test_a_writer_waits_for_another_process_then_goes_on_at_once(
    sessions,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _HOLDER,
        str(tmp_path / "turns.db.writer-lock"),
        "0.6",
        stdout=asyncio.subprocess.PIPE,
    )
    assert holder.stdout is not None
    assert await holder.stdout.readline() == b"held\n"
    started = time.monotonic()
    await _insert(sessions, 7)  # queued behind the other process, not failed
    waited = time.monotonic() - started
    await holder.wait()
    assert 0.3 < waited < 5
    async with transaction(sessions) as session:
        count = (await session.exec(text("SELECT count(*) FROM t WHERE n = 7"))).one()  # type: ignore[call-overload]
    assert count[0] == 1


async def test_a_writer_cancelled_while_another_process_holds_the_lock_leaves_it_free(
    sessions,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    lock_file = tmp_path / "turns.db.writer-lock"
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _HOLDER, str(lock_file), "0.5", stdout=asyncio.subprocess.PIPE
    )
    assert holder.stdout is not None
    await holder.stdout.readline()
    waiting = asyncio.create_task(_insert(sessions, 3))
    await asyncio.sleep(0.1)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await holder.wait()
    await asyncio.sleep(0.3)  # the abandoned wait got the lock when the holder left: given back
    assert not await asyncio.to_thread(_locked_elsewhere, lock_file)
    await asyncio.wait_for(_insert(sessions, 4), 5)
