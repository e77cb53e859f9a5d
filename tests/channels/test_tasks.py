"""cancel_until_done stops a task even when its first cancellation is lost."""

from __future__ import annotations

import asyncio

from channels.tasks import cancel_until_done


async def test_a_task_that_swallows_one_cancellation_is_still_stopped() -> None:
    rounds = 0

    async def loop_that_loses_a_cancel() -> None:
        # What asyncio.wait_for does on 3.11 when the cancel and its inner
        # result land together: the loop goes on as if nothing happened.
        nonlocal rounds
        while True:
            rounds += 1
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                if rounds == 1:
                    continue
                raise

    task = asyncio.create_task(loop_that_loses_a_cancel())
    await asyncio.sleep(0)
    await asyncio.wait_for(cancel_until_done(task, every=0.01), 2.0)
    assert task.cancelled()
    assert rounds == 2


async def test_a_task_that_failed_is_left_as_it_ended() -> None:
    async def fails() -> None:
        raise ValueError("boom")

    task = asyncio.create_task(fails())
    await asyncio.sleep(0)
    await cancel_until_done(task)
    assert isinstance(task.exception(), ValueError)
