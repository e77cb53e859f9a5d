"""`tocsin serve`'s worker as a child process: the API and the worker each get a core.

In the API's own event loop, the worker's planning and polling took turns
with requests on one core (and one GIL): `tocsin serve` topped out near 20
alerts/s while the machine's second core sat idle. The child is a plain
`tocsin worker` on the same database and Redis. It is restarted if it
dies, stopped with SIGTERM when the API stops, and stops by itself if
the API process disappears without stopping it (`--parent-pid`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import AsyncIterator

from service.settings import Settings

log = logging.getLogger(__name__)

STOP_GRACE_S = 15.0  # the worker lets running jobs finish for 5 s, then cancels them
RESTART_DELAYS_S = (1.0, 2.0, 5.0, 10.0, 30.0)


def worker_command(name: str) -> list[str]:
    """The child's command line: this interpreter, so the same environment and packages."""
    return [
        sys.executable,
        "-m",
        "service.cli",
        "worker",
        "--name",
        name,
        "--parent-pid",
        str(os.getpid()),
    ]


def worker_environment(settings: Settings, redis_url: str | None) -> dict[str, str]:
    """The parent's environment, pinned to the database and Redis the API is using."""
    env = dict(os.environ)
    env["TOCSIN_DATA_DIR"] = str(settings.data_dir.resolve())
    if settings.database_url is not None:
        env["TOCSIN_DATABASE_URL"] = settings.database_url
    if redis_url is not None:  # the embedded Redis the parent started: the child must not start one
        env["TOCSIN_REDIS_URL"] = redis_url
    return env


class WorkerProcess:
    """One supervised `tocsin worker` child."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self._command = command
        self._env = env
        self._process: asyncio.subprocess.Process | None = None
        self._stopping = False
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        """The running child's process id."""
        return None if self._process is None else self._process.pid

    async def start(self) -> None:
        # A session of its own: Ctrl-C in a terminal reaches only the API process,
        # which stops the child in order instead of racing it.
        self._process = await asyncio.create_subprocess_exec(
            *self._command, env=self._env, start_new_session=True
        )
        log.info("worker process started", extra={"pid": self._process.pid})

    async def supervise(self) -> None:
        """Restart the child whenever it exits, until `stop`."""
        failures = 0
        while not self._stopping:
            assert self._process is not None
            code = await self._process.wait()
            if self._stopping:
                return
            delay = RESTART_DELAYS_S[min(failures, len(RESTART_DELAYS_S) - 1)]
            log.error(
                "worker process exited; restarting",
                extra={"exit_code": code, "restart_in_s": delay},
            )
            failures += 1
            await asyncio.sleep(delay)
            if not self._stopping:
                self.restarts += 1
                await self.start()

    async def stop(self) -> None:
        """SIGTERM, a grace period for running jobs, then SIGKILL."""
        self._stopping = True
        process = self._process
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            async with asyncio.timeout(STOP_GRACE_S):
                await process.wait()
        except TimeoutError:
            log.warning("worker process did not stop in time; killed", extra={"pid": process.pid})
            process.kill()
            await process.wait()


@contextlib.asynccontextmanager
async def running_worker_process(
    settings: Settings, redis_url: str | None, name: str = "serve"
) -> AsyncIterator[WorkerProcess]:
    """A supervised worker child for the duration of the block."""
    child = WorkerProcess(worker_command(name), worker_environment(settings, redis_url))
    await child.start()
    supervisor = asyncio.create_task(child.supervise())
    try:
        yield child
    finally:
        await child.stop()
        supervisor.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await supervisor
