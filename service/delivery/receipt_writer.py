"""Group commit for delivery reports: many requests' reports, one transaction, then the answers.

Reports arrive one per request (Kannel), a thousand per request (the JSON
gateway) or one by one from an SMPP bind, at tens of thousands per second
after a national alert. One transaction per report would be bound by the
commit (an fsync on PostgreSQL, the single write lock on SQLite). So
reports wait in memory; one task flushes whatever is waiting, up to
`max_rows` in one transaction, lingering a few milliseconds only when it was
idle, so requests arriving during a flush join the next one. `write()`
returns after the commit that carries its reports: a gateway is never told
"received" for a report that is not stored. A failed flush fails its
callers (they answer 503 and the gateway retries; Kannel only with smsbox's
`http-request-retry`, docs/sms.md).

On PostgreSQL two flushes may run at once (`concurrency=2`), on two
connections: while the server works on one, the event loop prepares the
next. They cannot step on each other: each locks its rows `FOR UPDATE` in id
order (a second report for the same message waits for the first's commit,
then applies to what it wrote) and inserts unmatched reports in key order.
Reports in two different flushes are then applied in commit order, not
strictly in arrival order; the rules are monotonic, so this only matters
for two contradicting final reports of one message a few milliseconds
apart, and then either is a fair answer. SQLite has one writer at a time,
so there it stays at one.

The writer owns its transactions, unlike the request-owned rule elsewhere:
batching across requests is its whole point. One per process, in
`AppContext.receipts`; it starts on first use and `close()` (in
`open_context`) flushes what is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import transaction
from service.delivery.receipt_batch import IncomingReceipt, Verdict, apply_receipts

log = logging.getLogger(__name__)

# Reports without a waiting caller (SMPP) are retried this often before being dropped.
_BACKGROUND_ATTEMPTS = 3


class WriterUnavailable(Exception):
    """Too many reports are waiting, or the writer is closing: try again shortly."""


@dataclass(eq=False)
class _Entry:
    items: Sequence[IncomingReceipt]
    future: asyncio.Future[list[Verdict]] | None
    attempts: int = 0


@dataclass
class WriterStats:
    """Counters for /metrics and the benchmark."""

    flushes: int = 0
    rows: int = 0
    failed_flushes: int = 0
    dropped: int = 0
    verdicts: dict[str, int] = field(default_factory=lambda: {v.value: 0 for v in Verdict})


class ReceiptWriter:
    """Queues reports in memory and writes them in group-committed batches."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        max_rows: int = 5000,
        linger: float = 0.004,
        max_pending: int = 200_000,
        concurrency: int = 1,
    ) -> None:
        self._sessions = sessions
        self._slots = asyncio.Semaphore(concurrency)
        self._flushing: set[asyncio.Task[None]] = set()
        self._max_rows = max_rows
        self._linger = linger
        self._max_pending = max_pending
        self._queue: deque[_Entry] = deque()
        self._pending_rows = 0
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._drained = asyncio.Event()  # set when nothing waits and no flush runs
        self._idle_since = 0.0
        self.stats = WriterStats()

    @property
    def pending(self) -> int:
        """Reports waiting for a flush."""
        return self._pending_rows

    def _put(self, entry: _Entry) -> None:
        if self._closing:
            raise WriterUnavailable("the receipt writer is closing")
        if self._pending_rows + len(entry.items) > self._max_pending:
            raise WriterUnavailable(f"{self._pending_rows} reports are waiting to be written")
        self._queue.append(entry)
        self._pending_rows += len(entry.items)
        self._drained.clear()
        self._wakeup.set()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="receipt-writer")

    async def write(self, items: Sequence[IncomingReceipt]) -> list[Verdict]:
        """Store `items`; returns once committed, one verdict per item.

        Raises:
            WriterUnavailable: too much is waiting, or the writer is closing.
            sqlalchemy.exc.SQLAlchemyError: the flush carrying them failed.
        """
        if not items:
            return []
        future: asyncio.Future[list[Verdict]] = asyncio.get_running_loop().create_future()
        self._put(_Entry(items, future))
        return await future

    def enqueue(self, items: Sequence[IncomingReceipt]) -> None:
        """Store `items` without waiting (SMPP: the deliver_sm is acknowledged already).

        Raises:
            WriterUnavailable: too much is waiting, or the writer is closing.
        """
        if items:
            self._put(_Entry(items, None))

    def _take(self) -> list[_Entry]:
        """Whole entries up to `max_rows` (at least one, however large)."""
        batch: list[_Entry] = []
        rows = 0
        while self._queue and (not batch or rows + len(self._queue[0].items) <= self._max_rows):
            entry = self._queue.popleft()
            batch.append(entry)
            rows += len(entry.items)
        self._pending_rows -= rows
        return batch

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            idle = time.monotonic() - self._idle_since > self._linger
            if idle and self._pending_rows < self._max_rows and not self._closing:
                await asyncio.sleep(self._linger)  # let concurrent requests join this flush
            await self._slots.acquire()  # reports arriving meanwhile join the batch
            batch = self._take()
            if not self._queue:
                self._wakeup.clear()
            if not batch:
                self._slots.release()
                self._settled()
                continue
            task = asyncio.create_task(self._flush_in_slot(batch), name="receipt-flush")
            self._flushing.add(task)
            task.add_done_callback(self._flushing.discard)

    async def _flush_in_slot(self, batch: list[_Entry]) -> None:
        try:
            await self._flush(batch)
        finally:
            self._slots.release()
            self._idle_since = time.monotonic()
            self._settled(asyncio.current_task())

    def _settled(self, finishing: asyncio.Task[None] | None = None) -> None:
        """Mark the writer drained when nothing waits and no other flush runs."""
        if not self._queue and not (self._flushing - {finishing}):
            self._drained.set()

    async def _flush(self, batch: list[_Entry]) -> None:
        items = [item for entry in batch for item in entry.items]
        try:
            async with transaction(self._sessions) as session:
                verdicts = await apply_receipts(session, items)
        except Exception as exc:  # every caller must hear about it, and the loop must go on
            self.stats.failed_flushes += 1
            log.warning("receipt flush of %d reports failed: %r", len(items), exc)
            self._failed(batch, exc)
            await asyncio.sleep(self._linger)  # a failing database is not retried in a hot loop
            return
        self.stats.flushes += 1
        self.stats.rows += len(items)
        start = 0
        for entry in batch:
            mine = verdicts[start : start + len(entry.items)]
            start += len(entry.items)
            for verdict in mine:
                self.stats.verdicts[verdict.value] += 1
            if entry.future is not None and not entry.future.done():
                entry.future.set_result(mine)

    def _failed(self, batch: list[_Entry], exc: Exception) -> None:
        for entry in batch:
            if entry.future is not None:
                if not entry.future.done():
                    entry.future.set_exception(exc)
            elif entry.attempts + 1 < _BACKGROUND_ATTEMPTS:
                entry.attempts += 1
                self._queue.appendleft(entry)
                self._pending_rows += len(entry.items)
                self._wakeup.set()
            else:
                self.stats.dropped += len(entry.items)
                log.error("dropped %d delivery reports after repeated failures", len(entry.items))

    async def close(self, grace: float = 10.0) -> None:
        """Refuse new reports, flush the waiting ones (for up to `grace` s), stop."""
        self._closing = True
        if self._task is None:
            return
        self._wakeup.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drained.wait(), grace)
        self._task.cancel()
        if self._flushing:  # only after the timeout: let the running flushes answer
            await asyncio.wait(set(self._flushing), timeout=grace)
        for entry in self._queue:  # only left after the timeout
            if entry.future is not None and not entry.future.done():
                entry.future.set_exception(WriterUnavailable("the receipt writer closed"))
            else:
                self.stats.dropped += len(entry.items)
        self._queue.clear()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
