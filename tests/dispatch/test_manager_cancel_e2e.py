"""A manager's one-step Cancel reaches the CBC: the broadcast is killed within seconds."""

from __future__ import annotations

import httpx
import pytest

from channels.simulators.cbc import CbcSimulator
from service.context import AppContext
from service.worker import running_worker
from tests.dispatch.conftest import channels_for, make_network
from tests.dispatch.test_dispatch_e2e import FAR, NAIROBI_POLYGON, _active, _state, eventually, post
from tests.service.capdocs import cap_alert
from tests.service.conftest import Keys

pytestmark = pytest.mark.timeout(90)


async def test_a_manager_cancel_kills_every_live_broadcast_of_the_chain(
    app_context: AppContext, api: httpx.AsyncClient, keys: Keys, cbc_sim: CbcSimulator
) -> None:
    await make_network(app_context, "safaricom", channels_for([cbc_sim.base_url], None))
    async with running_worker(app_context):
        alert = await post(api, keys, cap_alert("mc-1", expires=FAR, polygon=NAIROBI_POLYGON))
        await eventually(lambda: list(cbc_sim.jobs.values()))
        await eventually(lambda: _active(api, keys, alert["id"]))
        response = await api.post(
            f"/api/v1/alerts/{alert['id']}/cancel",
            json={"reason": "sent for the wrong county"},
            headers=keys.manager,
        )
        assert response.status_code == 201, response.text
        await eventually(lambda: not cbc_sim.jobs)  # killed on the CBC
        cancel = await eventually(lambda: _state(api, keys, response.json()["id"], "completed"))
    assert [d["action"] for d in cancel["dispatches"]] == ["kill"]
