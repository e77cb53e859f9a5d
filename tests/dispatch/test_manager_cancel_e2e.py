"""A manager's one-step Cancel reaches the CBC: the broadcast is killed within seconds."""

from __future__ import annotations

import httpx
import pytest

from channels.simulators.cbc import CbcSimulator
from service.context import AppContext
from service.worker import running_worker
from tests.dispatch.conftest import channels_for, make_network
from tests.dispatch.test_dispatch_e2e import FAR, NAIROBI_POLYGON, _active, _state, eventually, post
from tests.service.capdocs import cap_alert, reference_to
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


async def test_a_manager_may_cancel_again_while_a_broadcast_of_the_chain_is_on_air(
    app_context: AppContext, api: httpx.AsyncClient, keys: Keys, cbc_sim: CbcSimulator
) -> None:
    """The alert says `cancelled`, but its kill has not landed: the manager may still act."""
    await make_network(app_context, "safaricom", channels_for([cbc_sim.base_url], None))
    async with running_worker(app_context):
        alert = await post(api, keys, cap_alert("mc-2", expires=FAR, polygon=NAIROBI_POLYGON))
        await eventually(lambda: list(cbc_sim.jobs.values()))
        await eventually(lambda: _active(api, keys, alert["id"]))
        await cbc_sim.go_down()
        cancel = cap_alert("mc-3", msg_type="Cancel", references=reference_to("mc-2"))
        await post(api, keys, cancel)
        url = f"/api/v1/alerts/{alert['id']}/cancel"
        again = await api.post(url, json={"reason": "still on air"}, headers=keys.manager)
        assert again.status_code == 201, again.text  # cancelled, yet a broadcast is live
        await cbc_sim.come_back()
        await eventually(lambda: not cbc_sim.jobs, timeout=40)  # the kill lands once it is back

        async def nothing_live() -> bool:
            response = await api.get(f"/api/v1/alerts/{alert['id']}/delivery", headers=keys.manager)
            return not any(d["live"] for d in response.json()["dispatches"])

        await eventually(nothing_live, timeout=20)
        late = await api.post(url, json={"reason": "once more"}, headers=keys.manager)
    assert late.status_code == 409, late.text  # nothing of the chain is on air any more
