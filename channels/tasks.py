"""Stopping background tasks for certain."""

from __future__ import annotations

import asyncio


async def cancel_until_done(task: asyncio.Task[object], *, every: float = 0.2) -> None:
    """Cancel `task` and wait for it to end, cancelling again while it lives.

    One `cancel()` is not always enough on Python 3.11: `asyncio.wait_for`
    returns its inner result instead of raising when a cancellation lands
    just as that inner result arrives (fixed in 3.12). A loop that then goes
    round again would keep its closer waiting forever; CI saw exactly that
    with the SMPP rebind loop.
    """
    while not task.done():
        task.cancel()
        await asyncio.wait([task], timeout=every)
    if not task.cancelled():
        # Retrieved, so asyncio does not log "exception was never retrieved".
        task.exception()
