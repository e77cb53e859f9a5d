"""Faults: a worker process killed mid-dispatch, a CBC failing then recovering.

The worker here is a real `tocsin worker` process on the test database and
Redis; SIGKILL gives it no chance to clean up.
"""

from __future__ import annotations

import signal
import subprocess
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from channels.simulators.cbc import CbcSimulator
from channels.simulators.sms_http import SmsHttpSettings, SmsHttpSimulator, running_sms_http
from service.context import AppContext
from service.db import transaction
from service.dispatch.models import DispatchEvent
from service.recipients.models import Subscriber
from service.settings import Settings
from service.worker import running_worker
from tests.dispatch.conftest import SIM_SECRET, channels_for, make_network, start_worker
from tests.dispatch.test_dispatch_e2e import (
    FAR,
    NAIROBI_POLYGON,
    _a_targeted_cell,
    _active,
    _state,
    eventually,
    post,
)
from tests.service.capdocs import cap_alert
from tests.service.conftest import Keys

pytestmark = pytest.mark.timeout(180)
RECIPIENTS = 3000


async def test_sigkilled_worker_is_replaced_and_no_one_gets_a_duplicate(
    app_context: AppContext,
    api: httpx.AsyncClient,
    keys: Keys,
    settings: Settings,
    redis_url: str,
    tmp_path: Path,
    worker_process: list[subprocess.Popen[bytes]],
) -> None:
    sim_settings = SmsHttpSettings(secret=SIM_SECRET, report_delay=None, latency=0.05)
    async with running_sms_http(sim_settings) as (simulator, sms_url):
        await make_network(app_context, "kill9", channels_for([], sms_url))
        cell = await _a_targeted_cell(app_context, api, keys, "kill9")
        async with transaction(app_context.sessions) as session:
            for n in range(RECIPIENTS):
                session.add(Subscriber(msisdn=f"2547{n:08d}", operator_id="kill9", cell_id=cell))
        log = tmp_path / "worker.log"
        first = start_worker(settings, redis_url, log, worker_process)
        alert = await post(api, keys, cap_alert("k-1", expires=FAR, polygon=NAIROBI_POLYGON))
        await eventually(lambda: len(simulator.messages) > 300, timeout=60)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        sent_before = len(simulator.messages)
        assert sent_before < RECIPIENTS, "the worker finished before it could be killed"
        start_worker(settings, redis_url, log, worker_process)
        summary = await eventually(lambda: _active(api, keys, alert["id"]), timeout=120)
    received = Counter(m.to for m in simulator.messages)
    assert max(received.values()) == 1, "a recipient got the warning twice"
    sms = summary["sms"]
    assert sms["total"] == RECIPIENTS
    assert sms["pending"] == 0
    # Only recipients handed over when the worker died may be unknown: at most one
    # window (100) per batch in flight, and there are three batches.
    assert sms["unknown"] <= 300
    assert sms["submitted"] + sms["unknown"] == RECIPIENTS
    assert len(received) >= RECIPIENTS - sms["unknown"]


async def test_a_cbc_failing_with_5xx_then_recovering_gets_the_broadcast(
    app_context: AppContext,
    api: httpx.AsyncClient,
    keys: Keys,
    cbc_sim: CbcSimulator,
) -> None:
    cbc_sim.fail_next(3, status=503)
    await make_network(app_context, "flaky", channels_for([cbc_sim.base_url], None))
    async with running_worker(app_context):
        alert = await post(api, keys, cap_alert("f-1", expires=FAR, polygon=NAIROBI_POLYGON))
        summary = await eventually(lambda: _active(api, keys, alert["id"]), timeout=60)
    assert len(cbc_sim.jobs) == 1
    (dispatch,) = summary["dispatches"]
    assert dispatch["state"] == "submitted"
    assert dispatch["attempts"] >= 2


async def test_an_sms_gateway_failing_with_5xx_then_recovering_reaches_everyone_once(
    app_context: AppContext,
    api: httpx.AsyncClient,
    keys: Keys,
    sms_sim: tuple[SmsHttpSimulator, str],
) -> None:
    simulator, sms_url = sms_sim
    simulator.fail_next(3, status=503)  # the first windows are refused whole
    await make_network(app_context, "flaky-sms", channels_for([], sms_url))
    cell = await _a_targeted_cell(app_context, api, keys, "flaky-sms")
    async with transaction(app_context.sessions) as session:
        for n in range(250):
            session.add(Subscriber(msisdn=f"2546{n:08d}", operator_id="flaky-sms", cell_id=cell))
    async with running_worker(app_context):
        alert = await post(api, keys, cap_alert("g-1", expires=FAR, polygon=NAIROBI_POLYGON))
        summary = await eventually(lambda: _active(api, keys, alert["id"]), timeout=90)
    received = Counter(m.to for m in simulator.messages)
    assert len(received) == 250
    assert max(received.values()) == 1
    assert summary["sms"]["submitted"] == 250
    (batch,) = summary["dispatches"]
    assert batch["attempts"] >= 2  # it really failed before it recovered


async def test_a_cbc_refusing_for_good_fails_the_dispatch_and_the_alert_with_its_reason(
    app_context: AppContext, api: httpx.AsyncClient, keys: Keys, cbc_sim: CbcSimulator
) -> None:
    """A permanent refusal (4xx) is not retried: the dispatch fails, managers are told why."""
    await make_network(app_context, "refusing", channels_for([cbc_sim.base_url], None))
    cbc_sim.fail_next(1, status=400)
    async with running_worker(app_context):
        posted = await post(api, keys, cap_alert("pf-1", expires=FAR, polygon=NAIROBI_POLYGON))
        await eventually(lambda: _state(api, keys, posted["id"], "failed"), timeout=30)
    summary = (
        await api.get(f"/api/v1/alerts/{posted['id']}/delivery", headers=keys.manager)
    ).json()
    (dispatch,) = summary["dispatches"]
    assert dispatch["state"] == "failed"
    assert dispatch["attempts"] == 1
    assert dispatch["error"]
    async with transaction(app_context.readers) as session:
        kinds = [
            e.kind
            for e in (
                await session.exec(
                    select(DispatchEvent).where(DispatchEvent.dispatch_id == dispatch["id"])
                )
            ).all()
        ]
    assert "dispatch.failed" in kinds
    assert cbc_sim.jobs == {}  # nothing on air


async def test_a_job_committed_but_never_enqueued_is_sent_by_the_relay_loop(
    app_context: AppContext, api: httpx.AsyncClient, keys: Keys, cbc_sim: CbcSimulator
) -> None:
    """A crash between commit and enqueue: the dispatch's outbox row is there, Redis has nothing.

    Only the worker's relay loop can send it: the stall sweep waits 45 s, longer than this.
    """
    from service.dispatch.service import process_alert
    from service.queue.models import OutboxMessage

    await make_network(app_context, "relayed", channels_for([cbc_sim.base_url], None))
    alert = await post(api, keys, cap_alert("r-1", expires=FAR, polygon=NAIROBI_POLYGON))
    assert app_context.queue is not None
    await app_context.queue.flushdb()  # the plan job the API enqueued: gone too
    job_ids = await process_alert(app_context, alert["id"])  # commits; nobody relays
    assert len(job_ids) == 1
    async with transaction(app_context.readers) as session:
        unsent = (
            await session.exec(select(OutboxMessage).where(OutboxMessage.job_id == job_ids[0]))
        ).one()
    assert unsent.enqueued_at is None
    assert app_context.settings.stall_after_s >= 45
    async with running_worker(app_context):
        summary = await eventually(lambda: _active(api, keys, alert["id"]), timeout=20)
    assert len(cbc_sim.jobs) == 1
    (dispatch,) = summary["dispatches"]
    assert (dispatch["state"], dispatch["attempts"]) == ("submitted", 1)
    async with transaction(app_context.readers) as session:
        sent = (
            await session.exec(select(OutboxMessage).where(OutboxMessage.job_id == job_ids[0]))
        ).one()
    assert sent.enqueued_at is not None
