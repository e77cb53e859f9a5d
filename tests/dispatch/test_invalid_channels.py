"""An operator whose stored channels config no longer validates is skipped, loudly; others go."""

from __future__ import annotations

import httpx
import pytest
from sqlmodel import col, select

from service.context import AppContext
from service.db import transaction
from service.dispatch.models import Dispatch, DispatchEvent
from service.network.models import Operator
from tests.dispatch.conftest import channels_for, make_network, plan_now
from tests.dispatch.test_dispatch_e2e import FAR, NAIROBI_POLYGON, post
from tests.service.capdocs import cap_alert
from tests.service.conftest import Keys

pytestmark = pytest.mark.timeout(60)
BROKEN = {"cell_broadcast": {"profile": {"profile": "no-such-profile"}, "endpoints": "cbc"}}


async def test_an_invalid_stored_config_skips_that_operator_only(
    app_context: AppContext, api: httpx.AsyncClient, keys: Keys
) -> None:
    dead = "http://127.0.0.1:9"
    await make_network(app_context, "good", channels_for([dead], None))
    await make_network(app_context, "stale", channels_for([dead], None))
    async with transaction(app_context.sessions) as session:  # as stored before a stricter check
        operator = await session.get(Operator, "stale")
        assert operator is not None
        operator.channels = BROKEN
        session.add(operator)
    alert = await post(api, keys, cap_alert("ic-1", expires=FAR, polygon=NAIROBI_POLYGON))

    await plan_now(app_context, alert["id"])

    async with transaction(app_context.readers) as session:
        planned = (
            await session.exec(select(Dispatch).where(Dispatch.alert_id == alert["id"]))
        ).all()
        skipped = (
            await session.exec(
                select(DispatchEvent)
                .where(
                    DispatchEvent.alert_id == alert["id"], DispatchEvent.kind == "dispatch.skipped"
                )
                .order_by(col(DispatchEvent.id))
            )
        ).all()
    assert {d.operator_id for d in planned} == {"good"}
    assert [e.operator_id for e in skipped] == ["stale"]
    assert "channels config is invalid" in skipped[0].detail["reason"]


async def test_a_broadcast_whose_operator_config_went_bad_fails_with_the_reason(
    app_context: AppContext, api: httpx.AsyncClient, keys: Keys
) -> None:
    """Planned under a good config, sent after it was broken: failed, not a crash loop."""
    from service.dispatch.broadcast import run_broadcast
    from service.dispatch.outcomes import Failed
    from service.dispatch.registry import ChannelRegistry

    await make_network(app_context, "later", channels_for(["http://127.0.0.1:9"], None))
    alert = await post(api, keys, cap_alert("ic-2", expires=FAR, polygon=NAIROBI_POLYGON))
    await plan_now(app_context, alert["id"])
    async with transaction(app_context.sessions) as session:
        operator = await session.get(Operator, "later")
        assert operator is not None
        operator.channels = BROKEN
        session.add(operator)
        (dispatch,) = (
            await session.exec(select(Dispatch).where(Dispatch.alert_id == alert["id"]))
        ).all()
    registry = ChannelRegistry(app_context.http)
    outcome = await run_broadcast(app_context, registry, dispatch.id, 1)
    assert isinstance(outcome, Failed)
    assert "channels config is invalid" in outcome.reason
