"""A kill or replace goes to the CBC holding the broadcast, and a Cancel beats a submission.

Two CBCs, the broadcast on the first. When that one is down, the second must
not be asked to stop (it never had the broadcast: its 404 would pass for
"killed") nor to start the updated broadcast (two would run). The job retries
on the holder with back-off and lands there once it is back; if it never
comes back the dispatch fails loudly and the broadcast stays live, so the
expiry sweep still stops it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from channels.cbc import GenericCbcConfig
from channels.simulators.cbc import CbcSimulator
from service.alerts.models import Alert
from service.context import AppContext
from service.db import transaction, utcnow
from service.dispatch import broadcast as broadcast_job
from service.dispatch.models import Dispatch, DispatchEvent
from service.dispatch.outcomes import MAX_ATTEMPTS
from service.network.channels import ChannelsConfig
from service.worker import running_worker
from tests.dispatch.conftest import SIM_SECRET, channels_for, make_network
from tests.dispatch.test_dispatch_e2e import (
    FAR,
    NAIROBI_POLYGON,
    _active,
    _state,
    delivery,
    eventually,
    post,
)
from tests.service.capdocs import cap_alert, reference_to
from tests.service.conftest import Keys

pytestmark = pytest.mark.timeout(150)
KINDS = pytest.mark.parametrize("generic", [True, False], ids=["json-api", "osmo-ecbe"])


def _on_air(sim: CbcSimulator) -> list[str]:
    """The texts the simulator broadcasts now (generic jobs and ECBE messages)."""
    return [job.text for job in sim.jobs.values()] + [
        "".join(message.texts) for message in sim.messages.values()
    ]


def _deletes(sim: CbcSimulator) -> list[str]:
    return [request for request in sim.requests if request.startswith("DELETE")]


async def _dispatches(ctx: AppContext, alert_id: str) -> list[Dispatch]:
    async with ctx.readers() as session:
        query = select(Dispatch).where(Dispatch.alert_id == alert_id)
        return list((await session.exec(query.order_by(col(Dispatch.planned_at)))).all())


async def _one(ctx: AppContext, alert_id: str, action: str) -> Dispatch:
    (dispatch,) = [d for d in await _dispatches(ctx, alert_id) if d.action == action]
    return dispatch


async def _attempts(ctx: AppContext, alert_id: str, action: str, at_least: int) -> bool:
    found = [d for d in await _dispatches(ctx, alert_id) if d.action == action]
    return bool(found) and found[0].attempts >= at_least


async def _events(ctx: AppContext, dispatch_id: str) -> list[DispatchEvent]:
    async with ctx.readers() as session:
        query = select(DispatchEvent).where(DispatchEvent.dispatch_id == dispatch_id)
        return list((await session.exec(query.order_by(col(DispatchEvent.id)))).all())


async def _live_on_primary(
    ctx: AppContext,
    api: httpx.AsyncClient,
    keys: Keys,
    primary: CbcSimulator,
    backup: CbcSimulator,
    *,
    generic: bool,
) -> dict[str, Any]:
    """An alert broadcast by the first of two CBCs; the second has seen nothing."""
    channels = channels_for([primary.base_url, backup.base_url], None, generic=generic)
    await make_network(ctx, "twocbc", channels)
    alert = await post(api, keys, cap_alert("h-1", expires=FAR, polygon=NAIROBI_POLYGON))
    await eventually(lambda: _active(api, keys, alert["id"]), timeout=30)
    assert _on_air(primary)
    assert not _on_air(backup)
    broadcast = await _one(ctx, alert["id"], "broadcast")
    assert broadcast.endpoint == "cbc1"
    assert broadcast.live
    return alert


def _cancel_of_h1() -> bytes:
    return cap_alert(
        "h-2",
        msg_type="Cancel",
        sent="2026-11-22T10:10:00+00:00",
        references=reference_to("h-1"),
        expires=FAR,
    )


@KINDS
async def test_a_cancel_waits_for_the_cbc_holding_the_broadcast(
    app_context: AppContext,
    api: httpx.AsyncClient,
    keys: Keys,
    cbc_sim: CbcSimulator,
    cbc_backup: CbcSimulator,
    generic: bool,
) -> None:
    async with running_worker(app_context):
        alert = await _live_on_primary(app_context, api, keys, cbc_sim, cbc_backup, generic=generic)
        await cbc_sim.go_down()
        cancel = await post(api, keys, _cancel_of_h1())
        # Retried on the holder, with back-off, and not recorded killed meanwhile.
        await eventually(lambda: _attempts(app_context, cancel["id"], "kill", 3), timeout=20)
        kill = await _one(app_context, cancel["id"], "kill")
        assert kill.state == "queued"
        assert kill.last_error is not None
        assert "cbc1" in kill.last_error
        assert (await _one(app_context, alert["id"], "broadcast")).live
        assert not _deletes(cbc_backup), "the CBC that never had the broadcast was told to kill"
        assert _on_air(cbc_sim)

        await cbc_sim.come_back()
        await eventually(lambda: not _on_air(cbc_sim), timeout=30)
        await eventually(lambda: _state(api, keys, cancel["id"], "completed"), timeout=30)
    kill = await _one(app_context, cancel["id"], "kill")
    assert kill.state == "delivered"
    assert kill.endpoint == "cbc1"
    assert not (await _one(app_context, alert["id"], "broadcast")).live
    assert not _deletes(cbc_backup)
    kinds = [event.kind for event in await _events(app_context, kill.id)]
    assert "dispatch.retrying" in kinds
    assert kinds[-1] == "dispatch.killed"


@KINDS
async def test_an_update_waits_for_the_cbc_holding_the_broadcast(
    app_context: AppContext,
    api: httpx.AsyncClient,
    keys: Keys,
    cbc_sim: CbcSimulator,
    cbc_backup: CbcSimulator,
    generic: bool,
) -> None:
    async with running_worker(app_context):
        alert = await _live_on_primary(app_context, api, keys, cbc_sim, cbc_backup, generic=generic)
        await cbc_sim.go_down()
        update = cap_alert(
            "h-2",
            msg_type="Update",
            sent="2026-11-22T10:05:00+00:00",
            references=reference_to("h-1"),
            headline="Flood warning extended",
            expires=FAR,
            polygon=NAIROBI_POLYGON,
        )
        posted = await post(api, keys, update)
        await eventually(lambda: _attempts(app_context, posted["id"], "replace", 3), timeout=20)
        replace = await _one(app_context, posted["id"], "replace")
        assert replace.state == "queued"
        assert not replace.live
        assert (await _one(app_context, alert["id"], "broadcast")).live
        assert not _on_air(cbc_backup), "a second broadcast was started beside the live one"
        assert not cbc_backup.requests

        await cbc_sim.come_back()
        await eventually(lambda: any("extended" in text for text in _on_air(cbc_sim)), timeout=30)
        await eventually(lambda: _active(api, keys, posted["id"]), timeout=30)
    replace = await _one(app_context, posted["id"], "replace")
    assert replace.endpoint == "cbc1"
    assert replace.live
    assert not (await _one(app_context, alert["id"], "broadcast")).live
    assert len(_on_air(cbc_sim)) == 1
    assert not cbc_backup.requests


async def test_a_kill_that_never_reaches_the_holder_fails_loudly_and_stays_live(
    app_context: AppContext,
    api: httpx.AsyncClient,
    keys: Keys,
    cbc_sim: CbcSimulator,
    cbc_backup: CbcSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A kill keeps trying for about an hour; here, one attempt past the warning.
    monkeypatch.setattr(broadcast_job, "KILL_MAX_ATTEMPTS", MAX_ATTEMPTS + 1)
    async with running_worker(app_context):
        alert = await _live_on_primary(app_context, api, keys, cbc_sim, cbc_backup, generic=True)
        await cbc_sim.go_down()
        cancel = await post(api, keys, _cancel_of_h1())

        async def failed() -> Dispatch | None:
            kills = [d for d in await _dispatches(app_context, cancel["id"]) if d.action == "kill"]
            return kills[0] if kills and kills[0].state == "failed" else None

        kill = await eventually(failed, timeout=60)
        assert kill.last_error is not None
        assert f"gave up after {MAX_ATTEMPTS + 1} attempts" in kill.last_error
        assert "cbc1" in kill.last_error
        assert "stays live" in kill.last_error
        kinds = [e.kind for e in await _events(app_context, kill.id)]
        assert kinds.count("dispatch.kill-late") == 1  # managers told once, when it got late
        assert kinds.index("dispatch.kill-late") < kinds.index("dispatch.failed")
        failure = [e for e in await _events(app_context, kill.id) if e.kind == "dispatch.failed"]
        assert failure
        assert "cbc1" in failure[0].detail["reason"]
        # The Cancel did not stop the warning: managers see it failed, not completed.
        await eventually(lambda: _state(api, keys, cancel["id"], "failed"), timeout=30)
        broadcast = await _one(app_context, alert["id"], "broadcast")
        assert broadcast.live
        assert not _deletes(cbc_backup)

        # Still live, so the expiry sweep stops it once its CBC answers again.
        await cbc_sim.come_back()
        async with transaction(app_context.sessions) as session:
            row = await session.get(Dispatch, broadcast.id)
            assert row is not None
            row.expires_at = utcnow() - dt.timedelta(seconds=1)
            session.add(row)
        await eventually(lambda: not _on_air(cbc_sim), timeout=30)

        async def retired() -> bool:
            return not (await _one(app_context, alert["id"], "broadcast")).live

        await eventually(retired, timeout=30)
    assert not _deletes(cbc_backup)


async def _racing_cancel(
    ctx: AppContext, api: httpx.AsyncClient, keys: Keys, cbc_sim: CbcSimulator
) -> tuple[dict[str, Any], dict[str, Any], Dispatch]:
    """A Cancel planned while the broadcast is on its way; the broadcast then recorded live."""
    config = GenericCbcConfig(base_url=cbc_sim.base_url, secret=SIM_SECRET, timeout_s=15.0)
    endpoint = {"kind": "generic-http", "name": "cbc1", "config": config}
    cell_broadcast = {"profile": {"profile": "eu-alert"}, "endpoints": [endpoint]}
    channels = ChannelsConfig.model_validate({"cell_broadcast": cell_broadcast})
    await make_network(ctx, "racy", channels)
    cbc_sim.set_latency(3.0)  # the submission is still on its way when the Cancel is planned
    alert = await post(api, keys, cap_alert("h-1", expires=FAR, polygon=NAIROBI_POLYGON))
    await eventually(lambda: cbc_sim.requests, timeout=30)
    cancel = await post(api, keys, _cancel_of_h1())

    async def cancelled_in_flight() -> bool:
        broadcast = await _one(ctx, alert["id"], "broadcast")
        return broadcast.state == "cancelled" and not _on_air(cbc_sim)

    await eventually(cancelled_in_flight, timeout=10)  # planned before the CBC answered
    # Nothing of its own is open yet, but what it overtook is still being sent.
    await eventually(lambda: _state(api, keys, cancel["id"], "dispatching"), timeout=10)
    broadcast = await _one(ctx, alert["id"], "broadcast")
    assert broadcast.payload["cancelled_by"] == cancel["id"]

    async def recorded_live() -> Dispatch | None:
        broadcast = await _one(ctx, alert["id"], "broadcast")
        return broadcast if broadcast.live else None

    broadcast = await eventually(recorded_live, timeout=20)
    assert _on_air(cbc_sim)
    assert broadcast.endpoint == "cbc1"
    return alert, cancel, broadcast


async def _kill_of(
    ctx: AppContext, cancel_id: str, broadcast: Dispatch, state: str
) -> Dispatch | None:
    """The Cancel's kill of `broadcast`, once it is in `state`."""
    kills = [
        d
        for d in await _dispatches(ctx, cancel_id)
        if d.action == "kill" and d.replaces == broadcast.id
    ]
    return kills[0] if kills and kills[0].state == state else None


async def test_a_cancel_racing_a_submission_plans_a_retried_kill(
    app_context: AppContext,
    api: httpx.AsyncClient,
    keys: Keys,
    cbc_sim: CbcSimulator,
) -> None:
    async with running_worker(app_context):
        alert, cancel, broadcast = await _racing_cancel(app_context, api, keys, cbc_sim)
        # The first two kill requests fail: a kill sent once would leave it on air.
        cbc_sim.fail_next(2, status=503)
        assert (await delivery(api, keys, cancel["id"]))["state"] == "dispatching"

        kill = await eventually(
            lambda: _kill_of(app_context, cancel["id"], broadcast, "delivered"), timeout=60
        )
        await eventually(lambda: _state(api, keys, cancel["id"], "completed"), timeout=30)
    assert not _on_air(cbc_sim)
    assert kill.attempts >= 3
    assert kill.endpoint == "cbc1"
    assert not (await _one(app_context, alert["id"], "broadcast")).live
    kinds = [event.kind for event in await _events(app_context, kill.id)]
    assert kinds[0] == "dispatch.planned"
    assert kinds[-1] == "dispatch.killed"
    assert "dispatch.retrying" in kinds
    # The Cancel was completed only once its kill had landed.
    async with app_context.readers() as session:
        row = await session.get(Alert, cancel["id"])
        assert row is not None
        assert kill.finished_at is not None
        assert row.state_changed_at >= kill.finished_at


async def test_a_cancel_whose_racing_kill_is_refused_ends_failed(
    app_context: AppContext,
    api: httpx.AsyncClient,
    keys: Keys,
    cbc_sim: CbcSimulator,
) -> None:
    async with running_worker(app_context):
        alert, cancel, broadcast = await _racing_cancel(app_context, api, keys, cbc_sim)
        cbc_sim.fail_next(1, status=400)  # the kill is refused for good
        kill = await eventually(
            lambda: _kill_of(app_context, cancel["id"], broadcast, "failed"), timeout=60
        )
        # Still on air: managers must not read "completed".
        await eventually(lambda: _state(api, keys, cancel["id"], "failed"), timeout=30)
    assert kill.last_error is not None
    assert "refused" in kill.last_error
    assert (await _one(app_context, alert["id"], "broadcast")).live
    assert _on_air(cbc_sim)
