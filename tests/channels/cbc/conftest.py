"""A real CBC simulator per test, an HTTP client, messages, and a status-callback sink."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from cbc_support import SECRET, CallbackSink
from starlette.applications import Starlette
from starlette.routing import Route

from channels.simulators.cbc import CbcSimulator


@pytest.fixture
async def simulator() -> AsyncIterator[CbcSimulator]:
    """A simulator whose every rejection fails the test unless the test consumed it."""
    async with CbcSimulator(secret=SECRET, no_peers_delay_s=0.3, callback_batch=2) as sim:
        yield sim
        assert sim.errors == [], f"the CBC simulator rejected requests: {sim.errors}"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


@pytest.fixture
async def sink() -> AsyncIterator[CallbackSink]:
    collector = CallbackSink()
    app = Starlette(routes=[Route("/cbc-status", collector.receive, methods=["POST"])])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 (uvicorn exposes a flag, not an event)
        await asyncio.sleep(0.01)
    collector.url = f"http://127.0.0.1:{port}/cbc-status"
    yield collector
    server.should_exit = True
    await task
