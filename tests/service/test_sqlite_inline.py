"""SQLite calls run in the event loop's thread; bulk statements in another; errors arrive intact."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from service.db import create_engine, session_maker, transaction
from service.sqlite_inline import BULK_ROWS, BULK_VALUES, InlineConnection


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'inline.db'}")

    @event.listens_for(engine.sync_engine, "connect")
    def _thread_function(dbapi_connection: Any, _record: Any) -> None:
        # Called by SQLite itself: it says which thread ran the statement.
        dbapi_connection.create_function("thread_id", 0, threading.get_ident)

    async with engine.begin() as connection:
        await connection.exec_driver_sql("CREATE TABLE t (n INTEGER PRIMARY KEY, k INTEGER)")
    yield engine
    await engine.dispose()


async def _statement_thread(engine: AsyncEngine, sql: str, values: tuple[int, ...] = ()) -> int:
    async with transaction(session_maker(engine)) as session:
        connection = await session.connection()
        result = await connection.exec_driver_sql(sql, values)
        return int(result.scalar_one())


async def test_the_engine_holds_connections_without_a_thread(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        assert isinstance(raw.driver_connection, InlineConnection)
        assert not raw.driver_connection._thread.is_alive()


async def test_an_ordinary_statement_runs_in_the_loop_thread(engine: AsyncEngine) -> None:
    ran_in = await _statement_thread(engine, "SELECT thread_id()")
    assert ran_in == threading.get_ident()


async def test_a_statement_with_many_values_runs_in_another_thread(engine: AsyncEngine) -> None:
    values = tuple(range(BULK_VALUES))
    marks = ",".join("?" * len(values))
    ran_in = await _statement_thread(engine, f"SELECT thread_id() WHERE 1 IN ({marks})", values)
    assert ran_in != threading.get_ident()


async def test_many_rows_are_written_off_the_loop_and_all_arrive(engine: AsyncEngine) -> None:
    rows = [(n, n * 2) for n in range(BULK_ROWS * 3)]
    seen_ticks = 0

    async def ticker() -> None:
        nonlocal seen_ticks
        while True:
            await asyncio.sleep(0)
            seen_ticks += 1

    ticking = asyncio.create_task(ticker())
    async with transaction(session_maker(engine)) as session:
        connection = await session.connection()
        await connection.exec_driver_sql("INSERT INTO t VALUES (?, ?)", rows)
    ticking.cancel()
    async with transaction(session_maker(engine)) as session:
        count = (await session.exec(text("SELECT count(*), sum(k) FROM t"))).one()  # type: ignore[call-overload]
    assert tuple(count) == (len(rows), sum(k for _, k in rows))
    assert seen_ticks > 0


async def _insert_then(sessions: Any, rows: list[tuple[int, int]]) -> None:
    async with transaction(sessions) as session:
        connection = await session.connection()
        await connection.exec_driver_sql("INSERT INTO t VALUES (1000, 1)")
        await connection.exec_driver_sql("INSERT INTO t VALUES (?, ?)", rows)


@pytest.mark.parametrize("rows", [1, BULK_ROWS], ids=["inline", "bulk"])
async def test_a_constraint_error_arrives_as_such_and_rolls_back_whole(
    engine: AsyncEngine, rows: int
) -> None:
    sessions = session_maker(engine)
    async with transaction(sessions) as session:
        await (await session.connection()).exec_driver_sql("INSERT INTO t VALUES (0, 0)")
    duplicates = [(n, 1) for n in range(rows - 1, -1, -1)]  # the last row collides
    with pytest.raises(IntegrityError):
        await _insert_then(sessions, duplicates)
    async with transaction(sessions) as session:  # the connection is still good
        stored = (await session.exec(text("SELECT n FROM t ORDER BY n"))).all()  # type: ignore[call-overload]
    assert [row[0] for row in stored] == [0]
