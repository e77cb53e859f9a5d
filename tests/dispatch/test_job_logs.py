"""Dispatch jobs log with the alert's id as well as the dispatch's (job args stay ids only)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlmodel import select

from channels.simulators.cbc import CbcSimulator
from channels.simulators.sms_http import SmsHttpSimulator
from service.context import AppContext
from service.db import transaction
from service.dispatch import jobs
from service.dispatch.models import Dispatch
from service.dispatch.outcomes import Outcome, Sent
from service.dispatch.registry import ChannelRegistry
from service.dispatch.service import plan_pending_sms, process_alert
from service.logs import ContextFilter, JsonFormatter
from service.recipients.models import Subscriber
from tests.dispatch.conftest import channels_for, make_network
from tests.dispatch.test_dispatch_e2e import FAR, NAIROBI_POLYGON, _a_targeted_cell, post
from tests.service.capdocs import cap_alert
from tests.service.conftest import Keys

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The service's log lines as the worker writes them (JSON, context ids added)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    logger = logging.getLogger("service")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(level)


def lines(stream: io.StringIO, message: str) -> list[dict[str, Any]]:
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    return [entry for entry in entries if entry["message"] == message]


async def _dispatches(ctx: AppContext, alert_id: str) -> list[Dispatch]:
    async with transaction(ctx.readers) as session:
        query = select(Dispatch).where(Dispatch.alert_id == alert_id)
        return list((await session.exec(query)).all())


async def test_broadcast_job_lines_carry_the_alert_id(
    app_context: AppContext,
    api: httpx.AsyncClient,
    keys: Keys,
    cbc_sim: CbcSimulator,
    captured: io.StringIO,
) -> None:
    await make_network(app_context, "logged", channels_for([cbc_sim.base_url], None))
    alert = await post(api, keys, cap_alert("l-1", expires=FAR, polygon=NAIROBI_POLYGON))
    await process_alert(app_context, alert["id"])
    (dispatch,) = await _dispatches(app_context, alert["id"])
    ctx = {"app": app_context, "registry": ChannelRegistry(app_context.http)}
    cbc_sim.fail_next(1, status=503)
    assert (await jobs.run_broadcast(ctx, dispatch.id, 1)).startswith("retry")
    cbc_sim.fail_next(1, status=400)
    assert (await jobs.run_broadcast(ctx, dispatch.id, 2)).startswith("failed")

    (unavailable,) = lines(captured, "cbc unavailable")  # logged deep in the broadcast code
    (failed,) = lines(captured, "dispatch failed")  # logged by the job wrapper
    for entry, attempt in ((unavailable, "1"), (failed, "2")):
        assert entry["alert_id"] == alert["id"]
        assert entry["dispatch_id"] == dispatch.id
        assert entry["attempt"] == attempt


async def test_sms_job_lines_carry_the_alert_id(
    app_context: AppContext,
    api: httpx.AsyncClient,
    keys: Keys,
    sms_sim: tuple[SmsHttpSimulator, str],
    captured: io.StringIO,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _simulator, sms_url = sms_sim
    await make_network(app_context, "logged-sms", channels_for([], sms_url))
    cell = await _a_targeted_cell(app_context, api, keys, "logged-sms")
    async with transaction(app_context.sessions) as session:
        session.add(Subscriber(msisdn="254712000001", operator_id="logged-sms", cell_id=cell))
    alert = await post(api, keys, cap_alert("l-2", expires=FAR, polygon=NAIROBI_POLYGON))
    await process_alert(app_context, alert["id"])
    await plan_pending_sms(app_context, alert["id"])  # SMS batches are planned after the rest
    (batch,) = await _dispatches(app_context, alert["id"])

    async def sending(
        app: AppContext, registry: Any, dispatch_id: str, attempt: int, *, resumed: bool = False
    ) -> Outcome:
        logging.getLogger("service.dispatch.sms_send").info("window sent")
        return Sent()

    monkeypatch.setattr(jobs.sms_send, "run_sms_batch", sending)
    ctx = {"app": app_context, "registry": ChannelRegistry(app_context.http)}
    assert await jobs.run_sms_batch(ctx, batch.id, 1) == "done"
    (entry,) = lines(captured, "window sent")
    assert (entry["alert_id"], entry["dispatch_id"], entry["attempt"]) == (
        alert["id"],
        batch.id,
        "1",
    )


async def test_a_job_for_a_dispatch_that_is_gone_still_logs_its_dispatch_id(
    app_context: AppContext, captured: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def sending(
        app: AppContext, registry: Any, dispatch_id: str, attempt: int, *, resumed: bool = False
    ) -> Outcome:
        logging.getLogger("service.dispatch.sms_send").info("window sent")
        return Sent()

    monkeypatch.setattr(jobs.sms_send, "run_sms_batch", sending)
    ctx = {"app": app_context, "registry": ChannelRegistry(app_context.http)}
    assert await jobs.run_sms_batch(ctx, "no-such-dispatch", 3) == "done"
    (entry,) = lines(captured, "window sent")
    assert entry["dispatch_id"] == "no-such-dispatch"
    assert "alert_id" not in entry
