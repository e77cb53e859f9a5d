"""The audit trail records every step and detects tampering."""

from __future__ import annotations

import httpx
import sqlalchemy as sa

from service.audit import service as audit
from service.context import AppContext
from service.db import transaction
from tests.service.capdocs import cap_alert, reference_to
from tests.service.conftest import Keys


async def fill(client: httpx.AsyncClient, keys: Keys) -> None:
    await client.post("/api/v1/alerts", content=cap_alert("a-1"), headers=keys.cap())
    await client.post(
        "/api/v1/alerts",
        headers=keys.cap(),
        content=cap_alert("a-2", msg_type="Cancel", references=reference_to("a-1")),
    )


async def verify(context: AppContext) -> audit.VerifyReport:
    async with transaction(context.sessions) as session:
        return await audit.verify(session)


async def test_intake_and_state_changes_are_audited(
    client: httpx.AsyncClient, keys: Keys, context: AppContext
) -> None:
    await fill(client, keys)
    page = (await client.get("/api/v1/audit", headers=keys.manager)).json()
    actions = [(e["action"], e["detail"].get("to")) for e in page["items"]]
    assert actions == [
        ("alert.received", None),
        ("alert.state", "approved"),
        ("alert.received", None),
        ("alert.state", "cancelled"),
        ("alert.state", "approved"),
    ]
    assert all(e["actor"].startswith("key:") for e in page["items"])
    assert page["items"][1]["prev_hash"] == page["items"][0]["hash"]
    report = await verify(context)
    assert report.ok
    assert report.events == 5


async def test_audit_is_for_managers(client: httpx.AsyncClient, keys: Keys) -> None:
    assert (await client.get("/api/v1/audit", headers=keys.sender)).status_code == 403


async def test_verify_detects_an_edited_event(
    client: httpx.AsyncClient, keys: Keys, context: AppContext
) -> None:
    await fill(client, keys)
    async with context.engine.begin() as conn:
        await conn.execute(sa.text("UPDATE audit_events SET actor = 'someone' WHERE seq = 2"))
    report = await verify(context)
    assert not report.ok
    assert any("event 2" in p and "altered" in p for p in report.problems)


async def test_verify_detects_a_deleted_event_and_a_cut_tail(
    client: httpx.AsyncClient, keys: Keys, context: AppContext
) -> None:
    await fill(client, keys)
    async with context.engine.begin() as conn:
        await conn.execute(sa.text("DELETE FROM audit_events WHERE seq IN (3, 5)"))
    problems = (await verify(context)).problems
    assert any("event 4" in p and "missing" in p for p in problems)
    assert any("tip" in p for p in problems)
