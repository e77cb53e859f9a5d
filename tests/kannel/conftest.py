"""A real Kannel, our SMSC simulator behind it, and a DLR receiver: started once per module.

Kannel takes a few seconds to start and stop, so the module shares one;
tests tell their messages apart by correlation id.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
import pytest_asyncio
from kannel_harness import KannelProcesses, KannelSetup, kannel_binaries
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from channels.simulators.sms_http import serving
from channels.simulators.smsc import ReceiptStyle, SmscSettings, SmscSimulator, running_smsc


class DlrReceiver:
    """Stands in for Tocsin's receipt endpoint: records the query of every dlr-url call."""

    def __init__(self) -> None:
        self.calls: list[dict[str, str]] = []
        self.refused: list[dict[str, str]] = []
        self.refuse_next = 0  # answer this many calls 503, as a busy Tocsin would
        self.url = ""
        self.app = Starlette(routes=[Route("/{path:path}", self.record, methods=["GET"])])

    async def record(self, request: Request) -> Response:
        query = dict(parse_qsl(request.scope["query_string"].decode("ascii")))
        if self.refuse_next > 0:
            self.refuse_next -= 1
            self.refused.append(query)
            return Response("busy", status_code=503, headers={"Retry-After": "1"})
        self.calls.append(query)
        return Response("ok")

    async def wait_for(self, cid: str, count: int, within: float = 10.0) -> list[dict[str, str]]:
        """The first `count` reports for correlation id `cid`, waiting for them if need be."""
        deadline = time.monotonic() + within
        while True:
            found = [call for call in self.calls if call.get("cid") == cid]
            if len(found) >= count:
                return found
            assert time.monotonic() < deadline, f"{len(found)} of {count} DLRs for {cid}"
            await asyncio.sleep(0.02)


@pytest.fixture(scope="module")
def kannel_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    kannel_binaries()  # fail loudly, before anything starts, when Kannel is missing
    return tmp_path_factory.mktemp("kannel")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def smsc() -> AsyncIterator[SmscSimulator]:
    settings = SmscSettings(password="smpptest", auto_receipt=ReceiptStyle(delay=0.05))
    async with running_smsc(settings) as simulator:
        yield simulator


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def dlr_receiver() -> AsyncIterator[DlrReceiver]:
    receiver = DlrReceiver()
    async with serving(receiver.app) as port:
        receiver.url = f"http://127.0.0.1:{port}"
        yield receiver


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def kannel(kannel_workdir: Path, smsc: SmscSimulator) -> AsyncIterator[KannelProcesses]:
    processes = KannelProcesses(KannelSetup.on_free_ports(kannel_workdir, smsc.port))
    try:
        await processes.start()
        yield processes
    finally:
        await processes.stop()
