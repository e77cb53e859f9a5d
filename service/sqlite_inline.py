"""SQLite connections for the async engine that run each call where it is made.

aiosqlite gives every connection a thread and sends it each call — cursor,
execute, fetch, close — through a queue, waking the event loop for every
answer. An alert's intake or planning makes about a hundred such calls, and
the hops cost more CPU than SQLite's own work (in process, planning an alert
spent most of its time waking threads). Each of these calls takes
microseconds on a local database, so here they run in the event loop's own
thread instead.

Why that is safe here: SQLite waits inside a call only for a lock, and this
service never makes a writer wait on SQLite's lock: writers take turns
before they begin (`db._one_writer_at_a_time`), and readers never wait in
WAL mode. Statements that carry many rows (`is_bulk`) still go to a thread,
so a large insert does not hold the loop.

The connection is aiosqlite's own, with its thread queue replaced by a call
made at once, so SQLAlchemy's aiosqlite dialect drives it unchanged.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Coroutine, Generator
from functools import partial
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import dialect as aiosqlite_dialect
from sqlalchemy.engine import make_url

Call = Callable[[], Any]


# A statement carrying this many rows or values goes to a thread instead, so
# that a bulk write (an SMS plan, an inventory, a batch of receipts) does not
# hold the event loop: one hop is nothing next to the statement itself.
BULK_ROWS = 64
BULK_VALUES = 512


def is_bulk(call: Call) -> bool:
    """Whether `call` is a cursor's `execute`/`executemany` of a large statement."""
    if not isinstance(call, partial) or len(call.args) < 2:
        return False
    method, parameters = getattr(call.func, "__name__", ""), call.args[1]
    if not isinstance(parameters, list | tuple):
        return False
    if method == "executemany":
        return len(parameters) >= BULK_ROWS
    return method == "execute" and len(parameters) >= BULK_VALUES


class _CallAtOnce:
    """Stands where aiosqlite queues calls for its thread: runs each one now.

    A bulk statement runs in the loop's default executor instead; its caller
    awaits it, so the connection is still used by one caller at a time. If
    that caller is cancelled meanwhile, the rollback that follows waits on
    SQLite's own connection mutex until the statement ends.
    """

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Call]) -> None:
        future, call = item
        if future is not None and is_bulk(call):
            in_thread = future.get_loop().run_in_executor(None, call)
            in_thread.add_done_callback(partial(_hand_over, to=future))
            return
        try:
            result = call()
        except Exception as error:  # handed to the awaiting caller, as the thread would
            if future is not None and not future.done():
                future.set_exception(error)
            return
        if future is not None and not future.done():
            future.set_result(result)


def _hand_over(done: asyncio.Future[Any], *, to: asyncio.Future[Any]) -> None:
    error = None if done.cancelled() else done.exception()  # retrieved even if unwanted
    if to.done():  # the caller was cancelled meanwhile
        return
    if done.cancelled():
        to.cancel()
    elif error is not None:
        to.set_exception(error)
    else:
        to.set_result(done.result())


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection without its thread: every call runs in the caller's."""

    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._tx = _CallAtOnce()  # type: ignore[assignment]

    def __await__(self) -> Generator[Any, None, aiosqlite.Connection]:
        return self._connect().__await__()  # no thread to start


def inline_connector(
    url: str, *, timeout_s: float
) -> Callable[[], Coroutine[Any, Any, aiosqlite.Connection]]:
    """`create_async_engine`'s `async_creator` for the SQLite database at `url`.

    The file, timeout and URI options come from SQLAlchemy's own reading of
    the URL. Connections are used by one event loop at a time but may be
    opened in another thread (a test's portal), hence `check_same_thread`.
    """
    args, kwargs = aiosqlite_dialect().create_connect_args(make_url(url))
    kwargs = {**kwargs, "timeout": timeout_s, "check_same_thread": False}
    connector = partial(sqlite3.connect, *args, **kwargs)

    async def connect() -> aiosqlite.Connection:
        return await InlineConnection(connector)

    return connect
