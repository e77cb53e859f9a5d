"""The API rings the workers' relay; a worker polls only for its own new jobs."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from arq.worker import Worker

from service.context import AppContext
from service.queue.names import Queue
from service.queue.outbox import WAKE_KEY, wait_for_wake, wake_relay
from service.worker import CBS_POLL_S, _worker


async def test_a_ring_wakes_a_waiting_relay_at_once(app_context: AppContext) -> None:
    queue = app_context.queue
    assert queue is not None
    await queue.delete(WAKE_KEY)
    waiting = asyncio.create_task(wait_for_wake(queue, 10))
    await asyncio.sleep(0.1)
    started = time.monotonic()
    await wake_relay(queue)
    await asyncio.wait_for(waiting, 5)
    assert time.monotonic() - started < 1  # not the 10 s poll


async def test_rings_with_no_relay_listening_keep_one_entry(app_context: AppContext) -> None:
    queue = app_context.queue
    assert queue is not None
    for _ in range(50):
        await wake_relay(queue)
    assert await queue.llen(WAKE_KEY) == 1
    started = time.monotonic()
    await wait_for_wake(queue, 5)  # a ring already waiting: no wait
    assert time.monotonic() - started < 1


async def test_a_worker_does_not_recheck_the_jobs_it_is_running(
    app_context: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each poll rereads every queued job; one this worker runs costs no Redis transaction."""
    checked: list[list[bytes]] = []

    async def record(self: Worker, job_ids: list[bytes]) -> None:
        checked.append(job_ids)

    monkeypatch.setattr(Worker, "start_jobs", record)
    worker = _worker(Queue.CELL_BROADCAST, {}, app_context, CBS_POLL_S, 5)
    running: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    finished: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    finished.set_result(None)
    worker.tasks = {"here": running, "done": finished}  # type: ignore[dict-item]
    await worker.start_jobs([b"here", b"done", b"new"])
    running.cancel()
    assert checked == [[b"done", b"new"]]
