"""The simulator itself: standalone entry point, control API, and the checks it applies."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time

import httpx
import pydantic
import pytest
from cbc_support import SECRET, make_message

from channels.cbc import (
    BroadcastSchedule,
    BroadcastTargets,
    EcbeCbc,
    EcbeConfig,
    GenericCbcConfig,
    GenericHttpCbc,
    build_jobs,
)
from channels.cbc.checks import RequestRejected, check_job, request_target
from channels.cbc.jobs import signed_request_headers
from channels.simulators.cbc import CbcSimulator, serve_cbc_simulator, start_cbc_simulator


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_python_dash_m_entry_point_serves_both_apis() -> None:
    port = _free_port()
    process = subprocess.Popen(  # noqa: ASYNC220 (a child server, awaited by polling below)
        [sys.executable, "-m", "channels.simulators.cbc", "--port", str(port), "--secret", SECRET],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(200):
                try:
                    response = await client.get(f"http://127.0.0.1:{port}/api/ecbe/v1/message")
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.05)
            else:
                raise AssertionError(f"simulator never listened: {process.stderr.read()!r}")  # type: ignore[union-attr]
            assert response.status_code == 404
            headers = signed_request_headers(
                SECRET, int(time.time()), b"", method="GET", target="/health", key=None
            )
            health = await client.get(f"http://127.0.0.1:{port}/health", headers=headers)
            assert health.json() == {"status": "ok"}
    finally:
        process.terminate()
        process.wait(timeout=10)


async def test_serve_cbc_simulator_yields_a_base_url() -> None:
    async with serve_cbc_simulator(secret=SECRET) as base_url, httpx.AsyncClient() as client:
        assert base_url.startswith("http://127.0.0.1:")
        response = await client.post(f"{base_url}/_control", json={"latency_s": 0.3})
        assert response.json() == {"status": "ok"}
        started = time.monotonic()
        await client.get(f"{base_url}/api/ecbe/v1/message")
        assert time.monotonic() - started >= 0.3
        await client.post(f"{base_url}/_control", json={"reset": True})
        started = time.monotonic()
        await client.get(f"{base_url}/api/ecbe/v1/message")
        assert time.monotonic() - started < 0.3


async def test_start_cbc_simulator_on_a_chosen_port_keeps_what_it_was_sent() -> None:
    port = _free_port()
    sim = await start_cbc_simulator("127.0.0.1", port, secret=SECRET)
    try:
        assert sim.base_url == f"http://127.0.0.1:{port}"
        assert sim.ecbe_url == f"http://127.0.0.1:{port}/api/ecbe/v1"
        async with httpx.AsyncClient() as client:
            ecbe = EcbeCbc(EcbeConfig(base_url=sim.base_url), client)
            generic = GenericHttpCbc(GenericCbcConfig(base_url=sim.base_url, secret=SECRET), client)
            await ecbe.submit(make_message(), targets=BroadcastTargets(), idempotency_key="a")
            await generic.submit(
                make_message(identifier=4372),
                targets=BroadcastTargets(cells=("c1", "c2")),
                idempotency_key="b",
            )
            state = (await client.get(f"{sim.base_url}/_state")).json()
        assert state == sim.snapshot()
        assert state["messages"]["4371"]["text"] == make_message().text
        assert state["messages"]["4371"]["serial_number"] == 100 << 4 | 1 << 14
        assert state["jobs"]["b"]["cells"] == 2
        assert sim.messages[4371].dcs == 0x01
        assert sim.jobs["b"].job.cells == ["c1", "c2"]
    finally:
        await sim.stop()
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{port}/health")


def test_ecbe_timeout_defaults_to_20_s() -> None:
    assert EcbeConfig(base_url="http://cbc").timeout_s == 20.0
    assert EcbeConfig(base_url="http://cbc", timeout_s=5).timeout_s == 5.0


def test_cbc_configs_refuse_unknown_keys() -> None:
    """A typo ("timeout" for "timeout_s") must not silently leave the default in place."""
    with pytest.raises(pydantic.ValidationError, match="timeout"):
        EcbeConfig.model_validate({"base_url": "http://cbc", "timeout": 5})
    with pytest.raises(pydantic.ValidationError, match="timeout"):
        GenericCbcConfig.model_validate({"base_url": "http://cbc", "secret": "s", "timeout": 5})
    generic = {"base_url": "http://cbc", "secret": "s", "callback_url": None, "timeout_s": 3}
    assert GenericCbcConfig.model_validate(generic).timeout_s == 3


async def test_control_api_no_peers_and_drop(
    simulator: CbcSimulator, client: httpx.AsyncClient
) -> None:
    orders = {"no_peers": True, "drop": {"count": 1, "when": "before"}, "failing_cells": ["x"]}
    await client.post(f"{simulator.base_url}/_control", json=orders)
    assert simulator.no_peers
    assert simulator.failing_cells == {"x"}
    with pytest.raises(httpx.TransportError):
        await client.get(f"{simulator.base_url}/api/ecbe/v1/message")
    empty = await client.delete(f"{simulator.base_url}/api/ecbe/v1/message/1")
    assert (empty.status_code, empty.text) == (404, "Unknown message ID")


def _signed_job(**changes: object) -> tuple[bytes, dict[str, str]]:
    (job,) = build_jobs(
        make_message(),
        BroadcastTargets(cells=("c1",)),
        BroadcastSchedule(),
        key="k",
        callback_url=None,
    )
    payload = job.model_dump(mode="json") | changes
    body = json.dumps(payload).encode()
    headers = signed_request_headers(
        SECRET, int(time.time()), body, method="POST", target="/jobs", key="k"
    )
    return body, headers


@pytest.mark.parametrize(
    ("changes", "status", "reason"),
    [
        ({"warning_area_coordinates": "500C1E"}, 400, "unknown element type"),
        ({"page_lengths": []}, 400, "one length per page"),
        ({"pages": ["00" * 81]}, 400, "invalid job"),
        ({"dcs": 0x11}, 400, "would not read correctly"),
        ({"key": "other"}, 400, "Idempotency-Key"),
        ({"unexpected": 1}, 400, "invalid job"),
        ({"language": "de"}, 400, "differs from the pages' language 'en'"),
        ({"language": None}, 400, "differs from the pages' language 'en'"),
    ],
)
def test_job_checks(changes: dict[str, object], status: int, reason: str) -> None:
    body, headers = _signed_job(**changes)
    with pytest.raises(RequestRejected, match=reason) as caught:
        check_job(body, headers, method="POST", target="/jobs", secret=SECRET, now=time.time())
    assert caught.value.status == status


def test_job_checks_the_signed_method_and_target() -> None:
    body, headers = _signed_job()
    for method, target in [("PUT", "/jobs"), ("POST", "/jobs/k"), ("POST", "/jobs?x=1")]:
        with pytest.raises(RequestRejected, match="signature") as caught:
            check_job(body, headers, method=method, target=target, secret=SECRET, now=time.time())
        assert caught.value.status == 401


def test_request_target_is_the_raw_path_and_query() -> None:
    scope = {"path": "/jobs/a:b", "raw_path": b"/jobs/a%3Ab", "query_string": b"x=1"}
    assert request_target(scope) == "/jobs/a%3Ab?x=1"
    assert request_target({"path": "/jobs/a b", "query_string": b""}) == "/jobs/a%20b"


def test_job_checks_signature_first() -> None:
    body, headers = _signed_job()
    with pytest.raises(RequestRejected, match="signature") as caught:
        check_job(
            body + b" ", headers, method="POST", target="/jobs", secret=SECRET, now=time.time()
        )
    assert caught.value.status == 401
    job, text = check_job(
        body, headers, method="POST", target="/jobs", secret=SECRET, now=time.time()
    )
    assert (job.key, text) == ("k", make_message().text)
