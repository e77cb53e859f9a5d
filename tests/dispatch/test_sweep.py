"""The stall sweep: every re-send is a new outbox row, however often it runs."""

from __future__ import annotations

import httpx
import pytest
from sqlmodel import col, select

from channels.simulators.cbc import CbcSimulator
from service.context import AppContext
from service.db import transaction
from service.dispatch.service import process_alert
from service.dispatch.sweep import resend_stalled
from service.queue.models import OutboxMessage
from tests.dispatch.conftest import channels_for, make_network
from tests.dispatch.test_dispatch_e2e import FAR, NAIROBI_POLYGON, post
from tests.service.capdocs import cap_alert
from tests.service.conftest import Keys

pytestmark = pytest.mark.timeout(60)


async def test_resends_in_the_same_second_do_not_collide(
    app_context: AppContext, api: httpx.AsyncClient, keys: Keys, cbc_sim: CbcSimulator
) -> None:
    """Two workers' sweeps (or one with a short stall time) may run within one second."""
    await make_network(app_context, "swept", channels_for([cbc_sim.base_url], None))
    planned = await post(api, keys, cap_alert("s-1", expires=FAR, polygon=NAIROBI_POLYGON))
    assert len(await process_alert(app_context, planned["id"])) == 1  # a dispatch, queued
    stuck = await post(
        api,
        keys,
        cap_alert("s-2", sent="2026-11-22T11:00:00+00:00", expires=FAR, polygon=NAIROBI_POLYGON),
    )  # approved; nobody plans it (no worker)
    app_context.settings.stall_after_s = 0.0  # everything queued counts as stalled at once

    rounds = [await resend_stalled(app_context) for _ in range(4)]  # well within ~1 s

    assert all(len(job_ids) == 2 for job_ids in rounds)  # the dispatch and the stuck plan
    every = [job_id for job_ids in rounds for job_id in job_ids]
    assert len(set(every)) == len(every)
    assert sum(f"plan:{stuck['id']}:" in job_id for job_id in every) == 4
    async with transaction(app_context.readers) as session:
        rows = (
            await session.exec(
                select(OutboxMessage.job_id).where(col(OutboxMessage.job_id).in_(every))
            )
        ).all()
    assert sorted(rows) == sorted(every)
