"""Long-running commands: `tocsin serve`, `tocsin demo`, `tocsin db upgrade`.

On embedded defaults they migrate the SQLite file and start the bundled Redis
themselves, so a newcomer has nothing to set up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from types import FrameType
from typing import Annotated, Any

import typer
import uvicorn
from rich.console import Console

from service import migrations
from service.app import create_app
from service.context import AppContext, open_context
from service.demo import prepare_world, show_try_it, walkthrough, write_sample_alert
from service.demo_network import running_simulators
from service.embedded import EmbeddedRedis
from service.logs import configure_logging
from service.settings import Settings
from service.worker import running_worker
from service.worker_process import running_worker_process

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
SHUTDOWN_GRACE_S = 5
PARENT_CHECK_S = 1.0


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    settings = Settings()
    _prepare_storage(settings)
    migrations.upgrade(settings.resolved_database_url(), revision)
    typer.echo(f"database at {revision}")


def _prepare_storage(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)


@dataclass(frozen=True)
class RunningStack:
    """The API server started by `running_stack`, and the context it serves."""

    context: AppContext
    server: uvicorn.Server
    task: asyncio.Task[None]

    async def until_stopped(self) -> None:
        """Wait until the server stops (Ctrl-C or SIGTERM: uvicorn handles both)."""
        await asyncio.shield(self.task)


@contextlib.asynccontextmanager
async def running_stack(
    settings: Settings, *, with_worker: bool = True, worker_process: bool = False
) -> AsyncIterator[RunningStack]:
    """Migrate, start embedded Redis if needed, open the context, start the API (and a worker).

    One worker keeps a single `tocsin serve` complete: a child process
    (`worker_process`, so API and worker each get a core), or a worker in
    this event loop (the demo). Production may instead run `--no-worker` and
    separate `tocsin worker` processes.
    """
    _prepare_storage(settings)
    await asyncio.to_thread(migrations.upgrade, settings.resolved_database_url())
    redis = (
        None if settings.redis_url else await asyncio.to_thread(EmbeddedRedis, settings.data_dir)
    )
    try:
        async with open_context(
            settings, redis_url=None if redis is None else redis.url
        ) as context:
            config = uvicorn.Config(
                create_app(context=context),
                host=settings.host,
                port=settings.port,
                log_config=None,
                lifespan="on",
                # Live event streams (SSE) stay open until their client leaves: on
                # shutdown they get this long, then are cut, so a stop never hangs.
                timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
            )
            server = uvicorn.Server(config)
            task = asyncio.create_task(server.serve())
            while not server.started:
                if task.done():
                    task.result()  # re-raises why the server could not start
                    raise RuntimeError("the API server stopped during start-up")
                await asyncio.sleep(0.05)
            try:
                async with contextlib.AsyncExitStack() as stack:
                    if with_worker and worker_process:
                        redis_url = None if redis is None else redis.url
                        await stack.enter_async_context(
                            running_worker_process(settings, redis_url, "serve")
                        )
                    elif with_worker:
                        await stack.enter_async_context(running_worker(context, "serve"))
                    yield RunningStack(context, server, task)
            finally:
                server.should_exit = True
                await task
    finally:
        if redis is not None:
            await asyncio.to_thread(redis.stop)


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (TOCSIN_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (TOCSIN_PORT).")] = None,
    worker: Annotated[
        bool,
        typer.Option(
            "--worker/--no-worker", help="Also run a worker, as a child process beside the API."
        ),
    ] = True,
    with_simulators: Annotated[
        bool,
        typer.Option(
            "--with-simulators",
            help="Also run a CBC and an SMS simulator, with the demo operators and agency "
            "wired to them, for trying the API by hand.",
        ),
    ] = False,
) -> None:
    """Run the API until Ctrl-C (embedded defaults unless configured)."""
    settings = _with_address(Settings(), host, port)
    configure_logging(settings, quiet=with_simulators)

    async def run() -> None:
        async with running_stack(settings, with_worker=worker, worker_process=True) as stack:
            logging.getLogger(__name__).info("serving", extra={"url": settings.public_url})
            if not with_simulators:
                await stack.until_stopped()
                return
            console = Console()
            async with running_simulators() as simulators:
                keys = await prepare_world(stack.context, simulators, settings.public_url, console)
                sample = write_sample_alert(settings.data_dir)
                show_try_it(console, settings.public_url, keys, sample)
                await stack.until_stopped()

    run_until_interrupted(run)


def demo(
    exit_after: Annotated[bool, typer.Option("--exit", help="Stop after the summary.")] = False,
    port: Annotated[int | None, typer.Option(help="Port for the API.")] = None,
) -> None:
    """Walk through Tocsin on embedded defaults, then keep serving until Ctrl-C."""
    settings = _with_address(Settings(), None, port)
    configure_logging(settings, quiet=True)
    console = Console()

    async def run() -> None:
        async with running_stack(settings) as stack:
            base_url = f"http://{settings.host}:{settings.port}"
            console.print(
                f"[bold]Tocsin demo[/bold] - API on {base_url}, data in "
                f"{settings.data_dir.resolve()}"
            )
            # The simulators live as long as the API: alerts posted after the
            # walkthrough still reach them.
            async with running_simulators() as simulators:
                await walkthrough(stack.context, simulators, base_url, console)
                if exit_after:
                    return
                console.print("\nServing (simulators too); press Ctrl-C to stop.")
                await stack.until_stopped()

    run_until_interrupted(run)


def run_until_interrupted(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """`asyncio.run(main())`, with SIGTERM handled like Ctrl-C.

    uvicorn catches SIGTERM, shuts the API down, then raises the signal again.
    Left to its default action, that kills the process before the `finally`
    blocks stop the worker and the embedded Redis (`docker stop` and systemd
    send SIGTERM); passed to the Ctrl-C handler, the main task is cancelled
    and every cleanup runs.
    """
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(main())
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)  # asyncio's own: cancels the main task once
        return
    raise KeyboardInterrupt


def _with_address(settings: Settings, host: str | None, port: int | None) -> Settings:
    updates: dict[str, object] = {}
    if host:
        updates["host"] = host
    if port:
        updates["port"] = port
    if updates and "public_url" not in settings.model_fields_set:
        updates["public_url"] = (
            f"http://{updates.get('host', settings.host)}:{updates.get('port', settings.port)}"
        )
    return settings.model_copy(update=updates)


def worker(
    name: Annotated[str, typer.Option(help="Shown in logs and readiness.")] = "worker",
    parent_pid: Annotated[
        int | None,
        typer.Option(help="Stop when this process is gone (how `tocsin serve` runs its worker)."),
    ] = None,
) -> None:
    """Run a worker (both queues, outbox relay, expiry) until Ctrl-C or SIGTERM."""
    settings = Settings()
    configure_logging(settings)

    async def run() -> None:
        redis = (
            None
            if settings.redis_url
            else await asyncio.to_thread(EmbeddedRedis, settings.data_dir)
        )
        try:
            url = None if redis is None else redis.url
            async with (
                open_context(settings, redis_url=url) as context,
                running_worker(context, name),
            ):
                await _until_signalled(parent_pid)
        finally:
            if redis is not None:
                await asyncio.to_thread(redis.stop)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


async def _until_signalled(parent_pid: int | None = None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    if parent_pid is None:
        await stop.wait()
        return
    # A parent killed outright (SIGKILL, OOM) never sends SIGTERM: the child is
    # adopted by another process, and a worker without its API must not run on.
    while os.getppid() == parent_pid:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(PARENT_CHECK_S):
                await stop.wait()
                return
    logging.getLogger(__name__).warning("parent process gone; worker stopping")
