"""The simulators as programs (`python -m`) and the behaviour not covered by adapter tests."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence

import httpx
import pytest

from channels.simulators.sms_http import (
    SimMessage,
    SmsHttpSettings,
    kannel_dlr_url,
    running_sms_http,
)
from channels.sms.smpp.gateway import SmppConfig, SmppGateway


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def program(args: Sequence[str], port: int) -> AsyncIterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(  # noqa: ASYNC220  (started once, stopped below)
        [sys.executable, "-m", *args, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            assert process.poll() is None, f"{args[0]} exited with {process.returncode}"
            assert time.monotonic() < deadline, f"{args[0]} did not listen on {port}"
            await asyncio.sleep(0.05)
    try:
        yield process
    finally:
        process.terminate()
        process.wait(10)


async def test_sms_http_program_serves_and_obeys_controls() -> None:
    port = free_port()
    async with (
        program(["channels.simulators.sms_http", "--report-delay", "0"], port),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
    ):
        assert (await client.get("/v1/health")).json() == {"status": "ok"}
        await client.post("/_sim/fail", json={"count": 1, "status": 500})
        query = {"username": "tocsin", "password": "tocsin", "to": "4790000000", "text": "x"}
        assert (await client.get("/cgi-bin/sendsms", params=query)).status_code == 500
        assert (await client.get("/cgi-bin/sendsms", params=query)).status_code == 202
        assert (await client.get("/_sim/stats")).json()["messages"] == 1


async def test_smsc_program_binds() -> None:
    port = free_port()
    async with program(["channels.simulators.smsc", "--receipt", "none"], port):
        config = SmppConfig(
            name="p", host="127.0.0.1", port=port, system_id="x", password="y", source_addr="A"
        )
        async with SmppGateway(config) as gateway:
            assert await gateway.wait_bound(5)
            assert (await gateway.check()).up


async def test_rate_limit_answers_429() -> None:
    async with (
        running_sms_http(SmsHttpSettings(max_rate=5)) as (_, url),
        httpx.AsyncClient(base_url=url) as client,
    ):
        query = {"username": "tocsin", "password": "tocsin", "to": "4790000000", "text": "x"}
        codes = [(await client.get("/cgi-bin/sendsms", params=query)) for _ in range(8)]
    statuses = [c.status_code for c in codes]
    assert statuses[:5] == [202] * 5  # the bucket holds one second's worth
    throttled = next(c for c in codes if c.status_code == 429)  # refills at 5/s only
    assert float(throttled.headers["Retry-After"]) > 0


@pytest.mark.parametrize(
    ("state", "dlr_type", "stat"),
    [("delivered", "1", "DELIVRD"), ("expired", "2", "EXPIRED"), ("submitted", "8", None)],
)
def test_kannel_escapes_are_filled_in(state: str, dlr_type: str, stat: str | None) -> None:
    message = SimMessage(
        "c1",
        "4790000000",
        "x",
        "kannel-9",
        dlr_url="http://r/dlr?cid=c1&type=%d&smsc_reply=%A&msgid=%F&to=%P",
    )
    url = httpx.URL(kannel_dlr_url(message, state))
    assert url.params["type"] == dlr_type
    assert url.params["msgid"] == "kannel-9"
    assert url.params["to"] == "4790000000"
    if stat is not None:
        assert f"stat:{stat}" in url.params["smsc_reply"]
    else:
        assert url.params["smsc_reply"] == "ACK/"
