"""Coalescing single submissions into batches for gateways that take batches.

Callers await one message each; the coalescer waits at most `linger`
seconds (or until `max_batch` items are waiting), sends them in one request
and hands each caller its own outcome.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from channels.errors import ChannelError, PermanentChannelError, TransientChannelError

Item = TypeVar("Item")
Result = TypeVar("Result")
SendBatch = Callable[[Sequence[Item]], Awaitable[list[Result | ChannelError]]]


def _own_copy(exc: ChannelError) -> ChannelError:
    """A fresh error per waiting caller: a shared instance would collect all their tracebacks."""
    if isinstance(exc, TransientChannelError):
        return TransientChannelError(str(exc), retry_after=exc.retry_after)
    if isinstance(exc, PermanentChannelError):
        return PermanentChannelError(str(exc))
    return exc


class Coalescer(Generic[Item, Result]):
    """Collects items for up to `linger` seconds or `max_batch` items, then calls `send` once.

    `send` returns one outcome per item (a result or a ChannelError), or
    raises a ChannelError that then applies to the whole batch.
    """

    def __init__(self, send: SendBatch[Item, Result], *, max_batch: int, linger: float) -> None:
        self._send = send
        self._max_batch = max_batch
        self._linger = linger
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, item: Item) -> Result:
        """Queue `item` and wait for its own outcome.

        Raises:
            ChannelError: the outcome for this item, or for its whole batch.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._pending.append((item, future))
        if len(self._pending) >= self._max_batch:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self._linger, self._flush)
        return await future

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        task = asyncio.get_running_loop().create_task(self._run(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        try:
            outcomes = await self._send([item for item, _ in batch])
        except ChannelError as exc:
            outcomes = [_own_copy(exc) for _ in batch]
        except Exception as exc:  # a bug: every waiting caller must still hear about it
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():  # the caller gave up (cancelled)
                continue
            if isinstance(outcome, ChannelError):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    async def drain(self) -> None:
        """Send whatever waits now and wait for every batch in flight."""
        self._flush()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
