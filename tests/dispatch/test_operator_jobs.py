"""Pull mode: an operator lists its own jobs, with the pages to broadcast, and acknowledges them."""

from __future__ import annotations

import httpx
import pytest
from sqlmodel import select

from channels.cbs.decoder import decode_content
from channels.simulators.cbc import CbcSimulator
from channels.sms import HttpJsonConfig
from service.auth import service as auth
from service.auth.models import Role
from service.context import AppContext
from service.db import transaction
from service.dispatch import broadcast
from service.dispatch.models import Dispatch, DispatchEvent
from service.dispatch.outcomes import Sent
from service.dispatch.registry import ChannelRegistry
from service.network.channels import HttpJsonGateway, SmsSettings
from service.worker import running_worker
from tests.dispatch.conftest import SIM_SECRET, channels_for, make_network, plan_now
from tests.dispatch.test_dispatch_e2e import FAR, NAIROBI_POLYGON, _active, eventually, post
from tests.service.capdocs import cap_alert, reference_to
from tests.service.conftest import Keys

pytestmark = pytest.mark.timeout(120)
LATER = "2026-11-22T10:05:00+00:00"


async def operator_key(ctx: AppContext, operator_id: str) -> dict[str, str]:
    async with transaction(ctx.sessions) as session:
        _key, minted = await auth.create_key(
            session, name=f"{operator_id}-noc", role=Role.OPERATOR, operator_id=operator_id
        )
    return {"Authorization": f"Bearer {minted.plaintext}"}


async def test_an_operator_pulls_pages_and_acknowledges_only_its_own_jobs(
    app_context: AppContext, api: httpx.AsyncClient, keys: Keys, cbc_sim: CbcSimulator
) -> None:
    await make_network(app_context, "pulling", channels_for([cbc_sim.base_url], None))
    await make_network(app_context, "neighbour", channels_for([cbc_sim.base_url], None))
    mine, theirs = (
        await operator_key(app_context, "pulling"),
        await operator_key(app_context, "neighbour"),
    )
    async with running_worker(app_context):
        for n in (1, 2, 3):
            alert = await post(
                api, keys, cap_alert(f"pj-{n}", expires=FAR, polygon=NAIROBI_POLYGON)
            )
            await eventually(lambda a=alert["id"]: _active(api, keys, a))
    url = "/api/v1/operators/pulling/jobs"
    first = await api.get(url, params={"limit": 2}, headers=mine)
    assert first.status_code == 200, first.text
    page = first.json()
    assert len(page["items"]) == 2
    rest = (await api.get(url, params={"cursor": page["next_cursor"]}, headers=mine)).json()
    jobs = page["items"] + rest["items"]
    assert rest["next_cursor"] is None
    assert len({job["id"] for job in jobs}) == len(jobs) == 3  # one broadcast per alert
    job = jobs[0]
    assert job["channel"] == "cbs"
    assert job["state"] == "submitted"
    broadcast = job["broadcast"]
    assert broadcast["message_identifier"] == 4375
    decoded = "".join(
        decode_content(bytes.fromhex(page_hex), broadcast["dcs"], length)[1]
        for page_hex, length in zip(broadcast["pages"], broadcast["page_lengths"], strict=True)
    )
    assert "Flood warning" in decoded
    assert (await api.get(url, headers=theirs)).status_code == 404  # another operator's jobs
    assert (await api.get(url, headers=keys.manager)).status_code == 200  # managers watch all

    ack = f"{url}/{job['id']}/acknowledge"
    taken = await api.post(ack, headers=mine)
    assert taken.status_code == 200, taken.text
    assert taken.json()["state"] == "acknowledged"
    again = await api.post(ack, headers=mine)
    assert again.json()["acknowledged_at"] == taken.json()["acknowledged_at"]  # idempotent
    assert (await api.post(ack, headers=theirs)).status_code == 404
    foreign = await api.post(
        f"/api/v1/operators/neighbour/jobs/{job['id']}/acknowledge", headers=theirs
    )
    assert foreign.status_code == 404  # not the neighbour's job
    listed = await api.get(url, params={"state": "acknowledged"}, headers=mine)
    assert [j["id"] for j in listed.json()["items"]] == [job["id"]]
    bad = await api.get(url, params={"cursor": "nonsense"}, headers=mine)
    assert bad.status_code == 400


async def test_pulled_before_pushed_location_sms_and_finished_jobs(
    app_context: AppContext, api: httpx.AsyncClient, keys: Keys, cbc_sim: CbcSimulator
) -> None:
    """Acknowledging a job not pushed yet is a receipt: the push still happens, the Kill too."""
    gateway = HttpJsonConfig(name="lbs", base_url="http://127.0.0.1:9", secret=SIM_SECRET)
    channels = channels_for([cbc_sim.base_url], None).model_copy(
        update={"sms": SmsSettings(mode="operator", gateways=[HttpJsonGateway(config=gateway)])}
    )
    await make_network(app_context, "pulling", channels)
    mine = await operator_key(app_context, "pulling")
    registry = ChannelRegistry(app_context.http)
    alert = await post(api, keys, cap_alert("pb-1", expires=FAR, polygon=NAIROBI_POLYGON))
    await plan_now(app_context, alert["id"])
    url = "/api/v1/operators/pulling/jobs"
    jobs = {job["channel"]: job for job in (await api.get(url, headers=mine)).json()["items"]}
    assert set(jobs) == {"cbs", "lbsms"}  # no subscriber SMS batches: those are Tocsin's own
    location = jobs["lbsms"]["location_sms"]
    assert location["default_language"] == "en-KE"
    assert "Flood warning" in location["texts"]["en-KE"]
    assert location["cells"] == jobs["lbsms"]["payload"]["cells"] > 0

    broadcast_id = jobs["cbs"]["id"]
    taken = await api.post(f"{url}/{broadcast_id}/acknowledge", headers=mine)
    assert taken.status_code == 200, taken.text
    assert taken.json()["state"] == "queued"  # not pushed yet: the push must still go out
    assert taken.json()["acknowledged_at"] is not None
    assert await broadcast.run_broadcast(app_context, registry, broadcast_id, 1) == Sent()
    async with transaction(app_context.readers) as session:
        pushed = await session.get(Dispatch, broadcast_id)
        acknowledged = (
            await session.exec(
                select(DispatchEvent).where(
                    DispatchEvent.dispatch_id == broadcast_id,
                    DispatchEvent.kind == "dispatch.acknowledged",
                )
            )
        ).all()
    assert pushed is not None
    assert (pushed.state, pushed.live) == ("acknowledged", True)
    assert len(acknowledged) == 1
    assert len(cbc_sim.jobs) == 1

    cancel = cap_alert("pb-2", msg_type="Cancel", sent=LATER, references=reference_to("pb-1"))
    cancelled = await post(api, keys, cancel)
    await plan_now(app_context, cancelled["id"])
    kill = next(
        job for job in (await api.get(url, headers=mine)).json()["items"] if job["action"] == "kill"
    )
    assert kill["broadcast"]["replaces"] == broadcast_id
    assert await broadcast.run_broadcast(app_context, registry, kill["id"], 1) == Sent()
    assert cbc_sim.jobs == {}
    over = await api.post(f"{url}/{kill['id']}/acknowledge", headers=mine)
    assert over.status_code == 409
    assert over.json()["type"] == "/problems/invalid-state"
    unknown = await api.post(f"{url}/nope/acknowledge", headers=mine)
    assert unknown.status_code == 404
    assert (
        await api.post(f"{url}/{broadcast_id}/acknowledge", headers=keys.manager)
    ).status_code == 403
