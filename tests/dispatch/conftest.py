"""Dispatch fixtures: a real Redis, the app context with its queue, simulators, a network."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis

from channels.cbc import EcbeConfig, GenericCbcConfig
from channels.simulators.cbc import CbcSimulator
from channels.simulators.sms_http import SmsHttpSettings, SmsHttpSimulator, running_sms_http
from channels.sms import HttpJsonConfig
from geo import CellImport, synthesize_table
from service.app import create_app
from service.context import AppContext, open_context
from service.db import transaction
from service.embedded import EmbeddedRedis
from service.network import service as network
from service.network.channels import ChannelsConfig
from service.network.inventory import prepare_table
from service.network.models import Operator
from service.settings import Settings
from tests.service.conftest import Keys, make_keys

NAIROBI = (36.6, -1.5, 37.1, -1.0)
SIM_SECRET = "sim-secret"


@pytest.fixture
async def redis_url(tmp_path: Path) -> AsyncIterator[str]:
    """CI's Redis (a scratch database, flushed), or the bundled one on a bare machine."""
    url = os.environ.get("TOCSIN_TEST_REDIS_URL")
    if url:
        url = url.rsplit("/", 1)[0] + "/13"
        client = aioredis.Redis.from_url(url)
        await client.flushdb()
        await client.aclose()
        yield url
        return
    server = EmbeddedRedis(tmp_path / "redis")
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
async def app_context(settings: Settings, redis_url: str) -> AsyncIterator[AppContext]:
    async with open_context(settings, redis_url=redis_url) as ctx:
        yield ctx


@pytest.fixture
async def cbc_sim() -> AsyncIterator[CbcSimulator]:
    async with CbcSimulator(secret=SIM_SECRET) as sim:
        yield sim


@pytest.fixture
async def cbc_backup() -> AsyncIterator[CbcSimulator]:
    async with CbcSimulator(secret=SIM_SECRET) as sim:
        yield sim


@pytest.fixture
async def sms_sim() -> AsyncIterator[tuple[SmsHttpSimulator, str]]:
    async with running_sms_http(SmsHttpSettings(secret=SIM_SECRET, report_delay=None)) as sim:
        yield sim


@dataclass(frozen=True)
class Network:
    operator_id: str
    cells: int


def channels_for(
    cbc_urls: list[str], sms_url: str | None, *, generic: bool = True
) -> ChannelsConfig:
    """Operator channels: CBCs in order, and an HTTP JSON SMS gateway."""
    endpoints: list[dict[str, object]] = []
    for number, url in enumerate(cbc_urls, start=1):
        if generic:
            config = GenericCbcConfig(base_url=url, secret=SIM_SECRET, timeout_s=2.0)
            endpoints.append({"kind": "generic-http", "name": f"cbc{number}", "config": config})
        else:
            ecbe = EcbeConfig(base_url=url, timeout_s=2.0)
            endpoints.append({"kind": "osmo-ecbe", "name": f"cbc{number}", "config": ecbe})
    data: dict[str, object] = {}
    if endpoints:
        data["cell_broadcast"] = {"profile": {"profile": "eu-alert"}, "endpoints": endpoints}
    if sms_url is not None:
        gateway = HttpJsonConfig(name="simsms", base_url=sms_url, secret=SIM_SECRET)
        data["sms"] = {"gateways": [{"kind": "http-json", "config": gateway}]}
    return ChannelsConfig.model_validate(data)


async def make_network(
    ctx: AppContext, operator_id: str, channels: ChannelsConfig, *, sites: int = 400
) -> Network:
    """An operator with a synthetic network around Nairobi and the given channels."""
    table = synthesize_table(sites, NAIROBI, seed=len(operator_id), mcc="639", mnc="02")
    count = len(table)
    prepared = prepare_table(CellImport(table, count, count, 0, ()))
    async with transaction(ctx.sessions) as session:
        await network.create_operator(
            session, operator_id=operator_id, name=operator_id, mcc="639", mnc="02", country="KE"
        )
        await network.store_inventory(session, operator_id, prepared, source="test")
        operator = await session.get(Operator, operator_id)
        assert operator is not None
        operator.channels = channels.stored()
        session.add(operator)
    return Network(operator_id, count)


@pytest.fixture
async def api(app_context: AppContext) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(context=app_context)
    app.state.context = app_context
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
async def keys(app_context: AppContext) -> Keys:
    return await make_keys(app_context, ["test@tocsin.dev"])


@pytest.fixture
def worker_process() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Starts `tocsin worker` processes on demand; kills what is left at the end."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def start_worker(
    settings: Settings,
    redis_url: str,
    log: Path,
    started: list[subprocess.Popen[bytes]],
    **env_overrides: str,
) -> subprocess.Popen[bytes]:
    """A real `tocsin worker` process on the test database and Redis, logging to `log`."""
    env = {
        **os.environ,
        "TOCSIN_DATABASE_URL": str(settings.database_url),
        "TOCSIN_REDIS_URL": redis_url,
        "TOCSIN_DATA_DIR": str(settings.data_dir),
        "TOCSIN_STALL_AFTER_S": "2",
        **env_overrides,
    }
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "tocsin"), "worker", "--name", f"w{len(started)}"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    started.append(process)
    return process


async def plan_now(ctx: AppContext, alert_id: str) -> list[str]:
    """What a worker's plan jobs do for an accepted alert: broadcasts, then SMS; the job ids."""
    from service.dispatch.service import plan_pending_sms, process_alert

    return [*await process_alert(ctx, alert_id), *await plan_pending_sms(ctx, alert_id)]
