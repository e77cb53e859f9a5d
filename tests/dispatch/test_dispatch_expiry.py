"""Expiry: a broadcast is killed when its alert expires and never outlives the operator cap."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from channels.cbc import GenericCbcConfig
from channels.simulators.cbc import CbcSimulator
from service.context import AppContext
from service.network.channels import ChannelsConfig
from service.worker import running_worker
from tests.dispatch.conftest import SIM_SECRET, make_network
from tests.dispatch.test_dispatch_e2e import FAR, NAIROBI_POLYGON, _state, eventually, post
from tests.service.capdocs import cap_alert
from tests.service.conftest import Keys

pytestmark = pytest.mark.timeout(90)


def _cap_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat()


def _channels(cbc_url: str, **broadcast: object) -> ChannelsConfig:
    config = GenericCbcConfig(base_url=cbc_url, secret=SIM_SECRET, timeout_s=2.0)
    endpoint = {"kind": "generic-http", "name": "cbc1", "config": config}
    settings = {"profile": {"profile": "eu-alert"}, "endpoints": [endpoint], **broadcast}
    return ChannelsConfig.model_validate({"cell_broadcast": settings})


def _kills(summary: dict[str, object]) -> list[dict[str, object]]:
    dispatches = summary["dispatches"]
    assert isinstance(dispatches, list)
    return [d for d in dispatches if d["action"] == "kill"]


async def test_a_broadcast_is_killed_when_its_alert_expires(
    app_context: AppContext, api: httpx.AsyncClient, keys: Keys, cbc_sim: CbcSimulator
) -> None:
    await make_network(app_context, "expiring", _channels(cbc_sim.base_url))
    now = dt.datetime.now(dt.UTC)
    body = cap_alert(
        "x-1",
        sent=_cap_time(now),
        expires=_cap_time(now + dt.timedelta(seconds=6)),
        polygon=NAIROBI_POLYGON,
    )
    async with running_worker(app_context):
        alert = await post(api, keys, body)
        (live,) = await eventually(lambda: list(cbc_sim.jobs.values()), timeout=10)
        assert live.job.expires_at == now.replace(microsecond=0) + dt.timedelta(seconds=6)
        summary = await eventually(lambda: _state(api, keys, alert["id"], "expired"), timeout=30)
        await eventually(lambda: not cbc_sim.jobs, timeout=15)
        # The CBC drops the job on our DELETE; the worker records the kill just after.
        summary = await eventually(lambda: _kill_recorded(api, keys, alert["id"]))
    assert dt.datetime.now(dt.UTC) >= now + dt.timedelta(seconds=6), "killed before its expiry"
    (kill,) = _kills(summary)
    assert kill["state"] in {"submitted", "delivered"}


async def _kill_recorded(api: httpx.AsyncClient, keys: Keys, alert_id: str) -> object:
    summary = await _state(api, keys, alert_id, "expired")
    done = summary is not None and all(
        kill["state"] in {"submitted", "delivered", "failed"} for kill in _kills(summary)
    )
    return summary if done else None


async def test_no_broadcast_outlives_the_operators_maximum(
    app_context: AppContext, api: httpx.AsyncClient, keys: Keys, cbc_sim: CbcSimulator
) -> None:
    # 0.002 h = 7.2 s: an alert valid until 2030 still stops broadcasting then.
    await make_network(
        app_context, "capped", _channels(cbc_sim.base_url, max_broadcast_hours=0.002)
    )
    async with running_worker(app_context):
        alert = await post(api, keys, cap_alert("x-2", expires=FAR, polygon=NAIROBI_POLYGON))
        (live,) = await eventually(lambda: list(cbc_sim.jobs.values()), timeout=10)
        started = dt.datetime.now(dt.UTC)
        await eventually(lambda: not cbc_sim.jobs, timeout=30)
    lasted = dt.datetime.now(dt.UTC) - started
    assert dt.timedelta(seconds=4) < lasted < dt.timedelta(seconds=20)
    summary = await eventually(lambda: _state(api, keys, alert["id"], "expired"), timeout=5)
    assert _kills(summary)
    assert live.job.expires_at is not None  # the CBC itself is told when to stop, too
    assert abs(live.job.expires_at - started) < dt.timedelta(seconds=10)


@pytest.mark.parametrize("status", ["Test", "Exercise"])
async def test_a_test_broadcast_ends_within_four_hours_by_default(
    app_context: AppContext,
    api: httpx.AsyncClient,
    keys: Keys,
    cbc_sim: CbcSimulator,
    status: str,
) -> None:
    """Default caps: 4 h for tests and exercises, 22.5 h for real alerts (both valid to 2030)."""
    await make_network(app_context, "capped", _channels(cbc_sim.base_url))
    async with running_worker(app_context):
        before = dt.datetime.now(dt.UTC)
        real = await post(api, keys, cap_alert("x-3", expires=FAR, polygon=NAIROBI_POLYGON))
        drill = await post(
            api,
            keys,
            cap_alert(
                "x-4",
                status=status,
                sent="2026-11-22T10:01:00+00:00",
                expires=FAR,
                polygon=NAIROBI_POLYGON,
            ),
        )
        jobs = await eventually(lambda: len(cbc_sim.jobs) == 2 and list(cbc_sim.jobs.values()))
        await eventually(lambda: _state(api, keys, real["id"], "active"))
        await eventually(lambda: _state(api, keys, drill["id"], "active"))
    after = dt.datetime.now(dt.UTC)
    ends = {job.job.purpose: job.job.expires_at for job in jobs}
    drill_end, real_end = ends[status.lower()], ends["public"]
    assert drill_end is not None
    assert real_end is not None
    assert before + dt.timedelta(hours=4) - dt.timedelta(seconds=1) <= drill_end
    assert drill_end <= after + dt.timedelta(hours=4)  # never later than 4 h
    assert before + dt.timedelta(hours=22.5) - dt.timedelta(seconds=1) <= real_end
    assert real_end <= after + dt.timedelta(hours=22.5)


async def test_no_test_broadcast_outlives_the_operators_test_maximum(
    app_context: AppContext, api: httpx.AsyncClient, keys: Keys, cbc_sim: CbcSimulator
) -> None:
    # 0.002 h = 7.2 s for tests; the real-alert maximum (22.5 h) does not apply to them.
    await make_network(
        app_context, "capped", _channels(cbc_sim.base_url, max_test_broadcast_hours=0.002)
    )
    async with running_worker(app_context):
        alert = await post(
            api, keys, cap_alert("x-5", status="Test", expires=FAR, polygon=NAIROBI_POLYGON)
        )
        (live,) = await eventually(lambda: list(cbc_sim.jobs.values()), timeout=10)
        started = dt.datetime.now(dt.UTC)
        await eventually(lambda: not cbc_sim.jobs, timeout=30)
    lasted = dt.datetime.now(dt.UTC) - started
    assert dt.timedelta(seconds=4) < lasted < dt.timedelta(seconds=20)
    summary = await eventually(lambda: _state(api, keys, alert["id"], "expired"), timeout=5)
    assert _kills(summary)
    assert live.job.purpose == "test"
    assert live.job.expires_at is not None  # the CBC itself is told when to stop, too
    assert abs(live.job.expires_at - started) < dt.timedelta(seconds=10)
