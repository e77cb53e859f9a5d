"""The audit chain's tip is the last lock a transaction takes, so it joins no deadlock."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from service.audit import service as audit
from service.context import AppContext
from service.db import transaction
from service.dispatch.progress import locked_alert
from tests.service.capdocs import cap_alert
from tests.service.conftest import Keys

pytestmark = pytest.mark.postgres


async def test_an_audited_job_and_one_holding_the_alert_both_commit(
    client: httpx.AsyncClient, keys: Keys, context: AppContext
) -> None:
    """Audit, then lock the alert / lock the alert, then audit: the CI deadlock, both ways round.

    When the first event of a transaction locked the tip at once, the first
    transaction held the tip and waited for the alert while the second held
    the alert and waited for the tip, and PostgreSQL aborted one of them.
    """
    posted = await client.post("/api/v1/alerts", content=cap_alert("lock-1"), headers=keys.cap())
    alert_id = posted.json()["id"]
    first_recorded, second_locked = asyncio.Event(), asyncio.Event()

    async def audits_then_locks() -> None:
        async with transaction(context.sessions) as session:
            audit.record(session, actor="test", action="test.first", alert_id=alert_id)
            await session.flush()
            first_recorded.set()
            await second_locked.wait()
            assert await locked_alert(session, alert_id) is not None

    async def locks_then_audits() -> None:
        await first_recorded.wait()
        async with transaction(context.sessions) as session:
            assert await locked_alert(session, alert_id) is not None
            second_locked.set()
            await asyncio.sleep(0.2)  # the first is waiting for the alert now
            audit.record(session, actor="test", action="test.second", alert_id=alert_id)

    await asyncio.wait_for(asyncio.gather(audits_then_locks(), locks_then_audits()), 10)
    async with transaction(context.sessions) as session:
        report = await audit.verify(session)
    assert report.ok, report.problems
    page = (await client.get("/api/v1/audit", headers=keys.manager)).json()
    assert [e["action"] for e in page["items"]][-2:] == ["test.second", "test.first"]
