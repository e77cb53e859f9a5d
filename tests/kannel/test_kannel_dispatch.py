"""Dispatch through a REAL Kannel: alert -> worker -> Kannel -> fake SMSC, and DLRs -> the API.

The API runs under uvicorn on a free port, so Kannel's dlr-url calls reach
Tocsin's receipt endpoint exactly as in production; a worker runs in this
event loop on the test database and Redis.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from kannel_harness import KannelProcesses

from channels.simulators.sms_http import serving
from channels.sms.kannel import KannelConfig
from service.app import create_app
from service.context import AppContext, open_context
from service.db import transaction
from service.embedded import EmbeddedRedis
from service.network.channels import ChannelsConfig
from service.network.targeting import compute_targeting
from service.recipients.models import Subscriber
from service.settings import Settings
from service.worker import running_worker
from tests.dispatch.conftest import make_network
from tests.service.capdocs import cap_alert
from tests.service.conftest import make_keys

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(180)]
POLYGON = "-1.2,36.8 -1.2,36.9 -1.3,36.9 -1.3,36.8 -1.2,36.8"
RECIPIENTS = 12


@asynccontextmanager
async def queue_url(tmp_path: Path) -> AsyncIterator[str]:
    url = os.environ.get("TOCSIN_TEST_REDIS_URL")
    if url:
        yield url.rsplit("/", 1)[0] + "/12"
        return
    server = EmbeddedRedis(tmp_path / "redis")
    try:
        yield server.url
    finally:
        server.stop()


def kannel_channels(kannel: KannelProcesses, api_url: str) -> ChannelsConfig:
    setup = kannel.setup
    gateway = KannelConfig.model_validate(
        {
            "name": "kannel-fake",
            "sendsms_url": setup.sendsms_url,
            "username": setup.username,
            "password": setup.password,
            "sender": "ALERT",
            "smsc": "fake",
            "receipt_base_url": api_url,
            "dlr_key": "dispatch-dlr-key",
            "rate_per_second": None,
        }
    )
    return ChannelsConfig.model_validate(
        {"sms": {"gateways": [{"kind": "kannel", "config": gateway}]}}
    )


async def test_an_alert_reaches_phones_through_kannel_and_its_dlrs_come_back(
    kannel: KannelProcesses, settings: Settings, tmp_path: Path
) -> None:
    async with queue_url(tmp_path) as redis_url, open_context(settings, redis_url=redis_url) as ctx:
        await _flush(ctx)
        app = create_app(context=ctx)
        app.state.context = ctx  # served without lifespan
        async with serving(app) as port:
            api = f"http://127.0.0.1:{port}"
            await make_network(ctx, "kannel-op", kannel_channels(kannel, api))
            keys = await make_keys(ctx, ["test@tocsin.dev"])
            async with httpx.AsyncClient(base_url=api, timeout=30) as client:
                draft = await _post(
                    client, keys.cap(), cap_alert("kd-0", status="Draft", polygon=POLYGON)
                )
                cell = await _targeted_cell(ctx, draft["id"])
                await _subscribe(ctx, cell)
                async with running_worker(ctx):
                    alert = await _post(
                        client,
                        keys.cap(),
                        cap_alert("kd-1", polygon=POLYGON, expires="2030-01-01T00:00:00+00:00"),
                    )
                    summary = await _delivered(client, keys.manager, alert["id"])
    sms = summary["sms"]
    assert sms["total"] == sms["delivered"] == RECIPIENTS
    assert summary["latency_ms"]["submit_to_delivered"]["p50"] is not None
    for n in range(RECIPIENTS):
        await kannel.wait_for_fakesmsc(f"ALERT 2547770000{n:02d} text Flood warning")


async def _flush(ctx: AppContext) -> None:
    assert ctx.queue is not None
    await ctx.queue.flushdb()


async def _post(client: httpx.AsyncClient, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    response = await client.post("/api/v1/alerts", content=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _targeted_cell(ctx: AppContext, alert_id: str) -> str:
    async with transaction(ctx.sessions) as session:
        rows = await compute_targeting(session, ctx.cell_indexes, alert_id)
    return next(cell for row in rows for cell in row.cells)


async def _subscribe(ctx: AppContext, cell: str) -> None:
    async with transaction(ctx.sessions) as session:
        for n in range(RECIPIENTS):
            session.add(
                Subscriber(msisdn=f"2547770000{n:02d}", operator_id="kannel-op", cell_id=cell)
            )


async def _delivered(
    client: httpx.AsyncClient, headers: dict[str, str], alert_id: str
) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        response = await client.get(f"/api/v1/alerts/{alert_id}/delivery", headers=headers)
        summary = dict(response.json())
        sms = summary["sms"]
        if sms["total"] and sms["delivered"] == sms["total"]:
            return summary
        assert time.monotonic() < deadline, f"not delivered in time: {sms}"
        await asyncio.sleep(0.2)
