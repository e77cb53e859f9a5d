"""A real local HTTP endpoint that records callbacks (receipts, DLRs) for the SMS tests.

A module with a unique name (not conftest) so tests can import it unambiguously.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from channels.simulators.sms_http import serving


@dataclass(frozen=True)
class Callback:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


class Receiver:
    """Records every request; `wait_for` polls until enough have arrived."""

    def __init__(self) -> None:
        self.calls: list[Callback] = []
        self.url = ""
        self.app = Starlette(routes=[Route("/{path:path}", self.record, methods=["GET", "POST"])])

    async def record(self, request: Request) -> Response:
        query = dict(parse_qsl(request.scope["query_string"].decode("ascii")))
        self.calls.append(
            Callback(
                request.method,
                request.url.path,
                query,
                dict(request.headers),
                await request.body(),
            )
        )
        return Response(status_code=204)

    async def wait_for(self, count: int, within: float = 5.0) -> list[Callback]:
        deadline = time.monotonic() + within
        while len(self.calls) < count:
            assert time.monotonic() < deadline, f"{len(self.calls)} of {count} callbacks arrived"
            await asyncio.sleep(0.01)
        return self.calls


@contextlib.asynccontextmanager
async def running_receiver() -> AsyncIterator[Receiver]:
    """A Receiver served on 127.0.0.1 and a free port."""
    recorder = Receiver()
    async with serving(recorder.app) as port:
        recorder.url = f"http://127.0.0.1:{port}"
        yield recorder
