"""From a posted alert to the CBC and SMS simulators, through real Redis and the worker loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from channels.simulators.cbc import CbcSimulator
from channels.simulators.sms_http import SmsHttpSimulator
from service.context import AppContext
from service.db import transaction
from service.recipients.models import Subscriber
from service.worker import running_worker
from tests.dispatch.conftest import channels_for, make_network
from tests.service.capdocs import cap_alert, reference_to
from tests.service.conftest import Keys

FAR = "2030-01-01T00:00:00+00:00"
NAIROBI_POLYGON = "-1.2,36.8 -1.2,36.9 -1.3,36.9 -1.3,36.8 -1.2,36.8"
pytestmark = pytest.mark.timeout(120)


async def eventually(check: Callable[[], Any], timeout: float = 20.0) -> Any:  # noqa: ASYNC109
    """Poll `check` (sync or async) until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def post(api: httpx.AsyncClient, keys: Keys, body: bytes) -> dict[str, Any]:
    response = await api.post(
        "/api/v1/alerts",
        content=body,
        headers=keys.cap(),
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def delivery(api: httpx.AsyncClient, keys: Keys, alert_id: str) -> dict[str, Any]:
    response = await api.get(f"/api/v1/alerts/{alert_id}/delivery", headers=keys.manager)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_alert_update_cancel_reach_the_cbc(
    app_context: AppContext, api: httpx.AsyncClient, keys: Keys, cbc_sim: CbcSimulator
) -> None:
    await make_network(app_context, "safaricom", channels_for([cbc_sim.base_url], None))
    async with running_worker(app_context):
        alert = await post(api, keys, cap_alert("e2e-1", expires=FAR, polygon=NAIROBI_POLYGON))
        jobs = await eventually(lambda: list(cbc_sim.jobs.values()))
        first = jobs[0].job
        assert first.message_identifier == 4375  # EU-Alert Severe/Immediate/Observed
        assert first.cells  # targeted cells, not the whole network
        assert "Flood warning" in jobs[0].text
        summary = await eventually(lambda: _active(api, keys, alert["id"]))
        assert summary["cells"]["targeted"] >= len(first.cells)

        update = cap_alert(
            "e2e-2",
            msg_type="Update",
            sent="2026-11-22T10:05:00+00:00",
            references=reference_to("e2e-1"),
            headline="Flood warning extended",
            expires=FAR,
            polygon=NAIROBI_POLYGON,
        )
        await post(api, keys, update)
        replaced = await eventually(
            lambda: [j for j in cbc_sim.jobs.values() if "extended" in j.text]
        )
        new = replaced[0].job
        assert new.message_identifier == first.message_identifier
        assert new.serial_number >> 4 == first.serial_number >> 4  # same message code
        assert new.serial_number & 0xF == (first.serial_number & 0xF) + 1

        cancel = cap_alert(
            "e2e-3",
            msg_type="Cancel",
            sent="2026-11-22T10:10:00+00:00",
            references=f"{reference_to('e2e-1')} "
            f"{reference_to('e2e-2', '2026-11-22T10:05:00+00:00')}",
            expires=FAR,
        )
        cancelled = await post(api, keys, cancel)
        await eventually(lambda: not cbc_sim.jobs)
        final = await eventually(lambda: _state(api, keys, cancelled["id"], "completed"))
        assert any(d["action"] == "kill" and d["state"] == "delivered" for d in final["dispatches"])


async def _active(api: httpx.AsyncClient, keys: Keys, alert_id: str) -> dict[str, Any] | None:
    return await _state(api, keys, alert_id, "active")


async def _state(
    api: httpx.AsyncClient, keys: Keys, alert_id: str, state: str
) -> dict[str, Any] | None:
    summary = await delivery(api, keys, alert_id)
    return summary if summary["state"] == state else None


async def test_primary_cbc_down_the_secondary_takes_it(
    app_context: AppContext,
    api: httpx.AsyncClient,
    keys: Keys,
    cbc_sim: CbcSimulator,
    cbc_backup: CbcSimulator,
) -> None:
    await cbc_sim.go_down()
    channels = channels_for([cbc_sim.base_url, cbc_backup.base_url], None)
    await make_network(app_context, "airtel", channels)
    async with running_worker(app_context):
        alert = await post(api, keys, cap_alert("fo-1", expires=FAR, polygon=NAIROBI_POLYGON))
        await eventually(lambda: list(cbc_backup.jobs.values()), timeout=30)
        summary = await eventually(lambda: _active(api, keys, alert["id"]), timeout=30)
    assert not cbc_sim.jobs
    assert {d["endpoint"] for d in summary["dispatches"]} == {"cbc2"}


async def test_after_a_failover_the_next_broadcast_goes_to_the_last_good_cbc_first(
    app_context: AppContext,
    api: httpx.AsyncClient,
    keys: Keys,
    cbc_sim: CbcSimulator,
    cbc_backup: CbcSimulator,
) -> None:
    from service.network.models import Operator

    await cbc_sim.go_down()
    channels = channels_for([cbc_sim.base_url, cbc_backup.base_url], None)
    await make_network(app_context, "airtel", channels)
    async with running_worker(app_context):
        first = await post(api, keys, cap_alert("lg-1", expires=FAR, polygon=NAIROBI_POLYGON))
        await eventually(lambda: _active(api, keys, first["id"]), timeout=30)
        async with transaction(app_context.readers) as session:
            operator = await session.get(Operator, "airtel")
        assert operator is not None
        assert operator.last_good_cbc == "cbc2"
        await cbc_sim.come_back()  # the primary answers again, but is no longer tried first
        requests_before = len(cbc_sim.requests)
        second = await post(
            api,
            keys,
            cap_alert(
                "lg-2", sent="2026-11-22T11:00:00+00:00", expires=FAR, polygon=NAIROBI_POLYGON
            ),
        )
        summary = await eventually(lambda: _active(api, keys, second["id"]), timeout=30)
    assert [d["endpoint"] for d in summary["dispatches"]] == ["cbc2"]
    assert len(cbc_backup.jobs) == 2
    assert not cbc_sim.jobs
    assert len(cbc_sim.requests) == requests_before  # not even asked


@pytest.mark.parametrize(
    ("status", "identifier", "purpose"),
    [("Test", 4380, "test"), ("Exercise", 4381, "exercise")],  # EU-Test, EU-Exercise defaults
)
async def test_test_alerts_use_test_identifiers_and_reach_only_testers(
    app_context: AppContext,
    api: httpx.AsyncClient,
    keys: Keys,
    cbc_sim: CbcSimulator,
    sms_sim: tuple[SmsHttpSimulator, str],
    status: str,
    identifier: int,
    purpose: str,
) -> None:
    from sqlmodel import select

    from channels.cbs import DRILL_IDENTIFIERS
    from service.delivery.models import SmsMessage

    simulator, sms_url = sms_sim
    network = await make_network(app_context, "telkom", channels_for([cbc_sim.base_url], sms_url))
    cell = await _a_targeted_cell(app_context, api, keys, network.operator_id)
    async with transaction(app_context.sessions) as session:
        session.add(Subscriber(msisdn="254700000001", operator_id="telkom", cell_id=cell))
        # Registered inside the area, not a tester: selected by location for a real alert.
        session.add(Subscriber(msisdn="254700000003", operator_id="telkom", lon=36.85, lat=-1.25))
        session.add(
            Subscriber(msisdn="254700000002", operator_id="telkom", cell_id=cell, test=True)
        )
    async with running_worker(app_context):
        alert = await post(
            api, keys, cap_alert("t-2", status=status, expires=FAR, polygon=NAIROBI_POLYGON)
        )
        jobs = await eventually(lambda: list(cbc_sim.jobs.values()))
        await eventually(lambda: simulator.messages)
        summary = await eventually(lambda: _active(api, keys, alert["id"]))
    assert {job.job.purpose for job in jobs} == {purpose}
    # What the CBC was given: the operator profile's (EU-Alert) drill identifier, never the
    # public one a Severe/Immediate/Observed alert would get (4375, as in the first test).
    assert [job.job.message_identifier for job in jobs] == [identifier]
    assert identifier in DRILL_IDENTIFIERS
    assert [m.to for m in simulator.messages] == ["+254700000002"]
    assert summary["sms"]["total"] == 1
    async with transaction(app_context.readers) as session:
        planned = (await session.exec(select(SmsMessage.msisdn))).all()
    assert [n.lstrip("+") for n in planned] == ["254700000002"]  # the others were never planned


async def _a_targeted_cell(
    ctx: AppContext, api: httpx.AsyncClient, keys: Keys, operator_id: str
) -> str:
    """Post a Draft over the area (never dispatched) and read a targeted cell back."""
    from service.network.targeting import compute_targeting

    draft = await post(
        api, keys, cap_alert("draft-1", status="Draft", expires=FAR, polygon=NAIROBI_POLYGON)
    )
    async with transaction(ctx.sessions) as session:
        rows = await compute_targeting(session, ctx.cell_indexes, draft["id"])
    cells = [cell for row in rows if row.operator_id == operator_id for cell in row.cells]
    assert cells
    return cells[0]


async def test_sms_reach_each_subscriber_once(
    app_context: AppContext,
    api: httpx.AsyncClient,
    keys: Keys,
    sms_sim: tuple[SmsHttpSimulator, str],
) -> None:
    simulator, sms_url = sms_sim
    await make_network(app_context, "jtl", channels_for([], sms_url))
    cell = await _a_targeted_cell(app_context, api, keys, "jtl")
    async with transaction(app_context.sessions) as session:
        for n in range(1, 2501):
            session.add(Subscriber(msisdn=f"2547{n:08d}", operator_id="jtl", cell_id=cell))
        session.add(Subscriber(msisdn="254799999999", operator_id="jtl", cell_id="elsewhere"))
    async with running_worker(app_context):
        alert = await post(api, keys, cap_alert("sms-1", expires=FAR, polygon=NAIROBI_POLYGON))
        summary = await eventually(lambda: _active(api, keys, alert["id"]), timeout=60)
    sent = [m.to for m in simulator.messages]
    assert len(sent) == 2500
    assert len(set(sent)) == 2500
    assert "+254799999999" not in sent
    assert summary["sms"]["total"] == 2500
    assert summary["sms"]["submitted"] == 2500
    batches = [d for d in summary["dispatches"] if d["channel"] == "sms"]
    assert sorted(d["batch"] for d in batches) == [1, 2, 3]


async def test_operator_mode_sends_one_location_job_with_the_cells(
    app_context: AppContext,
    api: httpx.AsyncClient,
    keys: Keys,
    sms_sim: tuple[SmsHttpSimulator, str],
) -> None:
    simulator, sms_url = sms_sim
    channels = channels_for([], sms_url)
    assert channels.sms is not None
    channels = channels.model_copy(
        update={"sms": channels.sms.model_copy(update={"mode": "operator"})}
    )
    await make_network(app_context, "faiba", channels)
    async with running_worker(app_context):
        alert = await post(api, keys, cap_alert("lb-1", expires=FAR, polygon=NAIROBI_POLYGON))
        summary = await eventually(lambda: _active(api, keys, alert["id"]))
    jobs = list(simulator.location_jobs.values())
    assert len(jobs) == 1
    assert summary["dispatches"][0]["channel"] == "lbsms"
    assert summary["dispatches"][0]["state"] == "submitted"
    assert not simulator.messages  # the operator sends, not Tocsin


@pytest.mark.parametrize("status", ["Test", "Exercise"])
async def test_operator_mode_never_sends_a_test_or_exercise_to_the_cells(
    app_context: AppContext,
    api: httpx.AsyncClient,
    keys: Keys,
    sms_sim: tuple[SmsHttpSimulator, str],
    status: str,
) -> None:
    """A location job reaches every handset in the cells: the public. Tests never go."""
    from sqlmodel import select

    from service.dispatch.models import Dispatch, DispatchEvent
    from tests.dispatch.conftest import plan_now

    simulator, sms_url = sms_sim
    channels = channels_for([], sms_url)
    assert channels.sms is not None
    channels = channels.model_copy(
        update={"sms": channels.sms.model_copy(update={"mode": "operator"})}
    )
    await make_network(app_context, "faiba", channels)
    alert = await post(
        api, keys, cap_alert("lbt-1", status=status, expires=FAR, polygon=NAIROBI_POLYGON)
    )
    await plan_now(app_context, alert["id"])
    async with transaction(app_context.sessions) as session:
        dispatches = (await session.exec(select(Dispatch))).all()
        query = select(DispatchEvent).where(DispatchEvent.kind == "dispatch.skipped")
        skipped = (await session.exec(query)).all()
    assert [d for d in dispatches if d.alert_id == alert["id"]] == []
    assert any("Exercise/Test" in str(e.detail.get("reason")) for e in skipped)
    assert not simulator.location_jobs


def _operator_mode(sms_url: str) -> Any:
    channels = channels_for([], sms_url)
    assert channels.sms is not None
    return channels.model_copy(update={"sms": channels.sms.model_copy(update={"mode": "operator"})})


async def test_a_cancel_stops_the_operators_location_job(
    app_context: AppContext,
    api: httpx.AsyncClient,
    keys: Keys,
    sms_sim: tuple[SmsHttpSimulator, str],
) -> None:
    simulator, sms_url = sms_sim
    await make_network(app_context, "faiba", _operator_mode(sms_url))
    async with running_worker(app_context):
        alert = await post(api, keys, cap_alert("lbc-1", expires=FAR, polygon=NAIROBI_POLYGON))
        summary = await eventually(lambda: _active(api, keys, alert["id"]))
        (job_id,) = simulator.location_jobs
        assert summary["dispatches"][0]["live"] is True
        simulator.fail_next(1, 503)  # the first DELETE fails: the stop is retried
        cancel = cap_alert(
            "lbc-2",
            msg_type="Cancel",
            sent="2026-11-22T10:10:00+00:00",
            references=reference_to("lbc-1"),
            expires=FAR,
        )
        cancelled = await post(api, keys, cancel)
        final = await eventually(lambda: _state(api, keys, cancelled["id"], "completed"))
    assert simulator.cancelled_jobs == [job_id]
    assert not simulator.location_jobs
    (stop,) = final["dispatches"]
    assert (stop["channel"], stop["action"], stop["state"]) == ("lbsms", "kill", "delivered")
    after = await delivery(api, keys, alert["id"])
    assert after["dispatches"][0]["live"] is False


async def test_an_expired_location_job_is_stopped(
    app_context: AppContext,
    api: httpx.AsyncClient,
    keys: Keys,
    sms_sim: tuple[SmsHttpSimulator, str],
) -> None:
    import datetime as dt

    from sqlmodel import select

    from service.dispatch.models import Dispatch
    from service.dispatch.service import expire_broadcasts

    simulator, sms_url = sms_sim
    await make_network(app_context, "faiba", _operator_mode(sms_url))
    async with running_worker(app_context):
        alert = await post(api, keys, cap_alert("lbe-1", expires=FAR, polygon=NAIROBI_POLYGON))
        await eventually(lambda: _active(api, keys, alert["id"]))
        async with transaction(app_context.sessions) as session:
            (job,) = (await session.exec(select(Dispatch))).all()
            assert job.expires_at is not None
            job.expires_at = job.expires_at.replace(year=2020) - dt.timedelta(days=1)
            session.add(job)
        assert await expire_broadcasts(app_context)  # the sweep's step: a stop is planned
        assert await expire_broadcasts(app_context) == []  # once
        await eventually(lambda: simulator.cancelled_jobs)
    assert not simulator.location_jobs
