"""osmo-cbc keys messages by identifier alone: a second live message with it is never started.

Against the CBC simulator in ECBE mode (it answers 409 to a live identifier,
as osmo-cbc does), which the adapter must read as "our earlier attempt".
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from channels.simulators.cbc import CbcSimulator
from service.context import AppContext
from service.db import transaction
from service.dispatch import broadcast
from service.dispatch.models import Action, Dispatch, DispatchEvent
from service.dispatch.outcomes import Failed, RetryLater, Sent
from service.dispatch.registry import ChannelRegistry
from service.worker import running_worker
from tests.dispatch.conftest import channels_for, make_network, plan_now
from tests.dispatch.test_dispatch_e2e import FAR, NAIROBI_POLYGON, eventually, post
from tests.service.capdocs import cap_alert, reference_to
from tests.service.conftest import Keys

pytestmark = pytest.mark.timeout(120)
LATER = "2026-11-22T10:05:00+00:00"
EU_SEVERE = 4375  # both alerts below: EU-Alert Severe/Immediate/Observed


async def _broadcasts(ctx: AppContext, alert_id: str) -> list[Dispatch]:
    async with transaction(ctx.readers) as session:
        query = select(Dispatch).where(Dispatch.alert_id == alert_id)
        return list((await session.exec(query.order_by(col(Dispatch.planned_at)))).all())


async def _events(ctx: AppContext, dispatch_id: str) -> list[DispatchEvent]:
    async with transaction(ctx.readers) as session:
        query = select(DispatchEvent).where(DispatchEvent.dispatch_id == dispatch_id)
        return list((await session.exec(query.order_by(col(DispatchEvent.id)))).all())


async def _failed(ctx: AppContext, alert_id: str) -> Dispatch | None:
    found = [d for d in await _broadcasts(ctx, alert_id) if d.state == "failed"]
    return found[0] if found else None


async def test_a_second_alert_on_a_live_identifier_is_refused_and_the_first_stays_on_air(
    app_context: AppContext, api: httpx.AsyncClient, keys: Keys, cbc_sim: CbcSimulator
) -> None:
    channels = channels_for([cbc_sim.base_url], None, generic=False)
    await make_network(app_context, "osmo", channels)
    async with running_worker(app_context):
        first = await post(api, keys, cap_alert("occ-a", expires=FAR, polygon=NAIROBI_POLYGON))
        (on_air,) = await eventually(lambda: list(cbc_sim.messages.values()))
        assert on_air.message_id == EU_SEVERE
        second = await post(
            api, keys, cap_alert("occ-b", sent=LATER, expires=FAR, polygon=NAIROBI_POLYGON)
        )
        refused = await eventually(lambda: _failed(app_context, second["id"]))

    assert refused.message_identifier == EU_SEVERE
    assert refused.submitted_at is None
    assert not refused.live
    assert f"already live on osmo-cbc 'cbc1' for alert {first['id']}" in (refused.last_error or "")
    kinds = [event.kind for event in await _events(app_context, refused.id)]
    assert "dispatch.identifier-conflict" in kinds
    assert "dispatch.failed" in kinds
    # The first alert's message is untouched: one POST of the identifier, no DELETE.
    assert [m.serial_number for m in cbc_sim.messages.values()] == [on_air.serial_number]
    assert cbc_sim.requests.count("DELETE /api/ecbe/v1/message/4375") == 0
    assert cbc_sim.requests.count("POST /api/ecbe/v1/message") == 1


async def test_a_newcomer_waits_for_the_kill_of_the_holder_then_goes_on_air(
    app_context: AppContext, api: httpx.AsyncClient, keys: Keys, cbc_sim: CbcSimulator
) -> None:
    """Steps run by hand, in the order a busy worker could run them."""
    channels = channels_for([cbc_sim.base_url], None, generic=False)
    await make_network(app_context, "osmo", channels)
    registry = ChannelRegistry(app_context.http)
    first = await post(api, keys, cap_alert("occ-a", expires=FAR, polygon=NAIROBI_POLYGON))
    await plan_now(app_context, first["id"])
    (holder,) = await _broadcasts(app_context, first["id"])
    assert await broadcast.run_broadcast(app_context, registry, holder.id, 1) == Sent()

    cancel = cap_alert(
        "occ-a-cancel", msg_type="Cancel", sent=LATER, references=reference_to("occ-a")
    )
    cancelled = await post(api, keys, cancel)
    await plan_now(app_context, cancelled["id"])
    (kill,) = [d for d in await _broadcasts(app_context, cancelled["id"]) if d.action == "kill"]
    second = await post(
        api, keys, cap_alert("occ-b", sent=LATER, expires=FAR, polygon=NAIROBI_POLYGON)
    )
    await plan_now(app_context, second["id"])
    (newcomer,) = await _broadcasts(app_context, second["id"])

    # The holder is still on air, its Kill not yet sent: the newcomer waits (no attempt spent).
    waited = await broadcast.run_broadcast(app_context, registry, newcomer.id, 1)
    assert isinstance(waited, RetryLater)
    assert cbc_sim.requests.count("POST /api/ecbe/v1/message") == 1
    assert await broadcast.run_broadcast(app_context, registry, kill.id, 1) == Sent()
    assert cbc_sim.messages == {}
    assert await broadcast.run_broadcast(app_context, registry, newcomer.id, 1) == Sent()

    (on_air,) = cbc_sim.messages.values()
    assert on_air.message_id == EU_SEVERE
    assert holder.message_code != newcomer.message_code
    assert (on_air.serial_number >> 4) & 0x3FF == newcomer.message_code  # not the holder's code
    (sent,) = await _broadcasts(app_context, second["id"])
    assert (sent.state, sent.live, sent.attempts) == ("submitted", True, 1)
    kinds = [event.kind for event in await _events(app_context, newcomer.id)]
    assert kinds.count("dispatch.waiting") == 1


async def test_a_second_info_in_the_same_language_is_refused_on_osmo_cbc(
    app_context: AppContext, api: httpx.AsyncClient, keys: Keys, cbc_sim: CbcSimulator
) -> None:
    """Two English infos share the base identifier; osmo-cbc can carry only one of them."""
    from tests.dispatch.test_additional_language import _two_english_one_swahili

    channels = channels_for([cbc_sim.base_url], None, generic=False)
    await make_network(app_context, "osmo", channels)
    registry = ChannelRegistry(app_context.http)
    posted = await post(api, keys, _two_english_one_swahili())
    await plan_now(app_context, posted["id"])
    planned = await _broadcasts(app_context, posted["id"])
    outcomes: list[Any] = [
        await broadcast.run_broadcast(app_context, registry, d.id, 1)
        for d in sorted(planned, key=lambda d: d.info_index or 0)
    ]
    assert outcomes[0] == Sent()
    assert outcomes[2] == Sent()
    assert isinstance(outcomes[1], Failed)
    assert "info 0 of this alert" in outcomes[1].reason
    assert sorted(cbc_sim.messages) == [EU_SEVERE, EU_SEVERE + 13]
    assert all(d.action == Action.BROADCAST for d in planned)
