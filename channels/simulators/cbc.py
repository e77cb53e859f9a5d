"""A real HTTP cell broadcast centre for the demo, the tests and the benchmarks.

It speaks osmo-cbc's ECBE and Tocsin's generic job API (`cbc_api`), keeps the
active messages and jobs, decodes and checks every page it receives (a bad
page is a 400 and an entry in `errors`), verifies signatures, and sends
per-cell status callbacks (`cbc_callbacks`). Faults on demand, from Python or
via `POST /_control`: latency, status N for the next K requests, "no peers"
(osmo-cbc's 200-after-15-s), dropped connections, and a full outage (the TCP
front door in `cbc_front` makes the last two possible).

From Python: `sim = await start_cbc_simulator("127.0.0.1", 12345)`, then
`sim.base_url`, `sim.messages`, `sim.jobs`, `await sim.stop()`; or
`async with CbcSimulator() as sim:`.
Standalone: `python -m channels.simulators.cbc --port 12345 --secret s3cret`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from channels.cbc.ecbe import API_PREFIX
from channels.simulators.cbc_api import CbcApi
from channels.simulators.cbc_callbacks import SimulatedJob
from channels.simulators.cbc_front import DropMode, FrontDoor

# The job API's shared secret when none is given: a simulator default, not a credential.
DEFAULT_SECRET = "tocsin-simulator"  # noqa: S105

__all__ = [
    "DEFAULT_SECRET",
    "CbcSimulator",
    "SimulatedJob",
    "serve_cbc_simulator",
    "start_cbc_simulator",
]


class CbcSimulator(CbcApi):
    """The simulator: `async with CbcSimulator() as sim:` then use `sim.base_url`."""

    def __init__(
        self,
        *,
        secret: str = DEFAULT_SECRET,
        host: str = "127.0.0.1",
        port: int = 0,
        no_peers_delay_s: float = 15.0,
        callback_batch: int = 500,
    ) -> None:
        super().__init__(
            secret=secret, no_peers_delay_s=no_peers_delay_s, callback_batch=callback_batch
        )
        self.host, self.port = host, port
        self._latency_s = 0.0
        self._failures: list[int | None] = []
        self._front: FrontDoor | None = None
        self._server: uvicorn.Server | None = None
        self._serving: asyncio.Task[None] | None = None
        self._outages: set[asyncio.Task[None]] = set()
        routes = [
            *self.api_routes(),
            Route("/_control", self._control, methods=["POST"]),
            Route("/_state", self._state, methods=["GET"]),
        ]
        self._app = Starlette(routes=routes)

    @property
    def base_url(self) -> str:
        """`http://host:port` of the front door: the generic job API's base URL."""
        return f"http://{self.host}:{self.port}"

    @property
    def ecbe_url(self) -> str:
        """The ECBE API root (`base_url` + /api/ecbe/v1); `EcbeConfig.base_url` is `base_url`."""
        return self.base_url + API_PREFIX

    # Controls -------------------------------------------------------------

    def set_latency(self, seconds: float) -> None:
        """Delay every API request by `seconds` after reading it, before handling it."""
        self._latency_s = seconds

    def fail_next(self, count: int, status: int = 503, *, skip: int = 0) -> None:
        """Let `skip` API requests through, then answer `count` with `status` (doing nothing)."""
        self._failures.extend([None] * skip + [status] * count)

    def drop_next(self, count: int = 1, *, when: DropMode = "after") -> None:
        """Cut the next `count` connections: before the request reaches the CBC, or after
        it was processed but before the response leaves (the client cannot tell which)."""
        if self._front is not None:
            self._front.drops.extend([when] * count)

    async def go_down(self) -> None:
        """Stop accepting connections and cut every open one (requests in flight included)."""
        if self._front is not None:
            self._front.close()

    async def come_back(self) -> None:
        """Accept connections again, on the same port."""
        if self._front is not None:
            await self._front.open()

    def reset(self) -> None:
        """Forget faults, messages, jobs and records."""
        self._latency_s, self._failures, self.no_peers = 0.0, [], False
        if self._front is not None:
            self._front.drops.clear()
        self.messages.clear()
        self.jobs.clear()
        for record in (self.errors, self.requests, self.callbacks, self.callback_errors):
            record.clear()
        self.failing_cells = set()

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready view of the active messages and jobs, as `GET /_state` returns it."""
        messages = {
            str(message_id): {
                "serial_number": message.serial_number,
                "dcs": message.dcs,
                "language": message.language,
                "warning_type": message.warning_type,
                "repetition_period": message.repetition_period,
                "num_of_bcast": message.num_of_bcast,
                "text": "".join(message.texts),
            }
            for message_id, message in self.messages.items()
        }
        jobs = {
            key: {
                "message_identifier": live.job.message_identifier,
                "serial_number": live.job.serial_number,
                "cells": len(live.job.cells),
                "text": live.text,
            }
            for key, live in self.jobs.items()
        }
        return {
            "messages": messages,
            "jobs": jobs,
            "errors": list(self.errors),
            "callbacks_sent": len(self.callbacks),
        }

    # Lifecycle ------------------------------------------------------------

    async def start(self) -> str:
        """Start uvicorn on a private port and the front door on `port` (0 = any free one).

        Raises:
            RuntimeError: uvicorn did not start.
            OSError: `port` is taken.
        """
        backend = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        backend.bind((self.host, 0))
        config = uvicorn.Config(
            self, log_level="warning", lifespan="off", access_log=False, timeout_graceful_shutdown=1
        )
        self._server = uvicorn.Server(config)
        self._serving = asyncio.create_task(self._server.serve(sockets=[backend]))
        while not self._server.started:
            if self._serving.done():
                raise RuntimeError("the CBC simulator's HTTP server did not start")
            await asyncio.sleep(0.01)
        self._front = FrontDoor(self.host, self.port, backend.getsockname()[1])
        self.port = await self._front.open()
        self.reporter.open()
        return self.base_url

    async def stop(self) -> None:
        """Cut connections, stop callbacks and uvicorn, close the callback client."""
        await self.go_down()
        for task in list(self._outages):
            task.cancel()
        await self.reporter.close()
        if self._server is not None and self._serving is not None:
            self._server.should_exit = True
            await self._serving
            self._server = None

    async def __aenter__(self) -> CbcSimulator:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # ASGI with faults -------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith("/_"):
            self.requests.append(f"{scope['method']} {scope['path']}")
            if self._latency_s:
                receive = await _received_in_full(receive)  # a slow CBC has the request already
                await asyncio.sleep(self._latency_s)
            status = self._failures.pop(0) if self._failures else None
            if status is not None:
                await PlainTextResponse(f"simulated failure {status}", status)(scope, receive, send)
                return
        await self._app(scope, receive, send)

    # Control API ------------------------------------------------------------

    async def _control(self, request: Request) -> Response:
        orders: dict[str, Any] = await request.json()
        if orders.get("reset"):
            self.reset()
        if "latency_s" in orders:
            self.set_latency(float(orders["latency_s"]))
        if "fail" in orders:
            fail = orders["fail"]
            self.fail_next(
                int(fail["count"]), int(fail.get("status", 503)), skip=int(fail.get("skip", 0))
            )
        if "drop" in orders:
            self.drop_next(int(orders["drop"]["count"]), when=orders["drop"].get("when", "after"))
        if "no_peers" in orders:
            self.no_peers = bool(orders["no_peers"])
        if "failing_cells" in orders:
            self.failing_cells = set(orders["failing_cells"])
        if "down_for_s" in orders:
            task = asyncio.create_task(self._outage(float(orders["down_for_s"])))
            self._outages.add(task)
            task.add_done_callback(self._outages.discard)
        return JSONResponse({"status": "ok"})

    async def _outage(self, seconds: float) -> None:
        await asyncio.sleep(0.05)  # let the control response leave first
        await self.go_down()
        await asyncio.sleep(seconds)
        await self.come_back()

    async def _state(self, request: Request) -> Response:
        return JSONResponse(self.snapshot())


async def _received_in_full(receive: Receive) -> Receive:
    """Read the whole request body now and return a `receive` that replays it."""
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body"):
            break

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return replay


async def start_cbc_simulator(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    secret: str = DEFAULT_SECRET,
    latency_s: float = 0.0,
    no_peers_delay_s: float = 15.0,
    callback_batch: int = 500,
) -> CbcSimulator:
    """Start a simulator listening on `host:port` (0 = a free port); stop it with `stop()`.

    Raises:
        OSError: the port is taken.
        RuntimeError: the HTTP server did not start.
    """
    simulator = CbcSimulator(
        secret=secret,
        host=host,
        port=port,
        no_peers_delay_s=no_peers_delay_s,
        callback_batch=callback_batch,
    )
    await simulator.start()
    simulator.set_latency(latency_s)
    return simulator


@contextlib.asynccontextmanager
async def serve_cbc_simulator(**options: Any) -> AsyncIterator[str]:
    """Run a `CbcSimulator` on 127.0.0.1 and a free port; yields its base URL."""
    async with CbcSimulator(**options) as simulator:
        yield simulator.base_url


async def _serve_forever(simulator: CbcSimulator) -> None:
    async with simulator:
        print(f"CBC simulator on {simulator.base_url} (ECBE at {API_PREFIX}, jobs at /jobs)")
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    """`python -m channels.simulators.cbc --port N [--host H] [--secret S] [--no-peers-delay S]`."""
    parser = argparse.ArgumentParser(prog="python -m channels.simulators.cbc")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12345)
    parser.add_argument("--secret", default=DEFAULT_SECRET, help="HMAC secret of the job API")
    parser.add_argument("--no-peers-delay", type=float, default=15.0)
    args = parser.parse_args(argv)
    simulator = CbcSimulator(
        secret=args.secret, host=args.host, port=args.port, no_peers_delay_s=args.no_peers_delay
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(simulator))


if __name__ == "__main__":
    main()
