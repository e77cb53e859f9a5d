"""The worker: both arq queues, the outbox relay and the expiry and resend sweeps, in one process.

Run any number of them (`tocsin worker`), on any machine that reaches the
database and Redis. Cell broadcast has its own queue, polled every 20 ms:
the service's share of the 4-second ETWS budget is small. SMS batches take
the other queue, so a flood of them never delays a broadcast.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from arq.worker import Worker

from channels.tasks import cancel_until_done
from service.collector import freeze_long_lived
from service.context import AppContext
from service.dispatch.jobs import FUNCTIONS
from service.dispatch.registry import ChannelRegistry
from service.dispatch.service import expire_broadcasts
from service.dispatch.sweep import resend_stalled
from service.queue.names import Queue
from service.queue.outbox import relay, wait_for_wake

log = logging.getLogger(__name__)

CBS_POLL_S = 0.02
SMS_POLL_S = 0.1
RELAY_INTERVAL_S = 0.5
SWEEP_INTERVAL_S = 2.0
HEARTBEAT_KEY = "tocsin:workers"


class _Worker(Worker):
    """arq's worker, minus re-checking its own running jobs on every poll.

    A job stays in its queue's sorted set until it finishes, so each poll
    (every 20 ms) read it again and spent a WATCH transaction (three Redis
    round trips) learning that it was still running. With a few alerts in
    flight that was a third of the worker's CPU, and it grew with the
    backlog. A job running here is skipped; one running in another worker
    is still checked by arq, as before.
    """

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        running = {job_id for job_id, task in self.tasks.items() if not task.done()}
        await super().start_jobs([j for j in job_ids if j.decode() not in running])


def _worker(queue: Queue, ctx: dict[str, Any], app: AppContext, poll: float, jobs: int) -> Worker:
    assert app.queue is not None
    return _Worker(
        functions=FUNCTIONS,  # type: ignore[arg-type]
        queue_name=queue.value,
        redis_pool=app.queue,
        ctx=ctx,
        poll_delay=poll,
        max_jobs=jobs,
        keep_result=60,
        max_tries=3,  # our own attempts carry the retry policy; arq's only cover crashes
        job_timeout=300,
        handle_signals=False,
        log_results=False,
    )


async def _every(interval: float, step: Callable[[], Awaitable[object]], name: str) -> None:
    while True:
        try:
            await step()
        except Exception:  # a sweep must survive a database or Redis hiccup
            log.exception("worker loop failed", extra={"loop": name})
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def running_worker(app: AppContext, name: str = "worker") -> AsyncIterator[list[Worker]]:
    """Run the queues and loops in this event loop until the block ends."""
    assert app.queue is not None, "a worker needs Redis"
    registry = ChannelRegistry(app.http, public_url=app.settings.public_url, receipts=app.receipts)
    ctx: dict[str, Any] = {"app": app, "registry": registry}
    workers = [
        _worker(Queue.CELL_BROADCAST, ctx, app, CBS_POLL_S, 50),
        _worker(Queue.SMS, ctx, app, SMS_POLL_S, 8),
    ]
    queue = app.queue

    async def relay_loop() -> None:
        # Woken by the API's ring (`wake_relay`) as soon as an alert is
        # committed; the timeout is the poll for rows whose ring was lost.
        while True:
            try:
                await relay(app.sessions, queue, readers=app.readers)
                await wait_for_wake(queue, RELAY_INTERVAL_S)
            except Exception:  # the relay must survive a database or Redis hiccup
                log.exception("worker loop failed", extra={"loop": "relay"})
                await asyncio.sleep(RELAY_INTERVAL_S)

    async def sweep_step() -> None:
        await queue.hset(HEARTBEAT_KEY, name, str(time.time()))  # wall clock: read elsewhere
        job_ids = await expire_broadcasts(app) + await resend_stalled(app)
        if job_ids:
            await relay(app.sessions, queue, job_ids=job_ids)

    tasks = [asyncio.create_task(w.main()) for w in workers]
    tasks.append(asyncio.create_task(relay_loop()))
    tasks.append(asyncio.create_task(_every(SWEEP_INTERVAL_S, sweep_step, "sweep")))
    freeze_long_lived()  # start-up is done: keep it out of every later collection
    log.info("worker started", extra={"worker": name})
    try:
        yield workers
    finally:
        await asyncio.gather(*(cancel_until_done(task) for task in tasks))
        await _finish_running_jobs(workers)
        await registry.close()
        log.info("worker stopped", extra={"worker": name})


async def _finish_running_jobs(workers: list[Worker], grace_s: float = 5.0) -> None:
    """Let jobs in progress finish for a moment, then cancel the rest.

    arq's own `close()` would also close the Redis pool the API shares, so the
    jobs are handled here. A cancelled job is safe: jobs are idempotent and
    the sweep of any worker re-sends what stalled.
    """
    running = [task for worker in workers for task in worker.tasks.values() if not task.done()]
    if not running:
        return
    _done, pending = await asyncio.wait(running, timeout=grace_s)
    for task in pending:
        task.cancel()
    await asyncio.gather(*running, return_exceptions=True)
