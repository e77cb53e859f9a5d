"""Per-cell status callbacks: the CBC simulator reports over real HTTP to the running API."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlmodel import select

from channels.cbc.jobs import signed_headers
from channels.simulators.cbc import CbcSimulator
from channels.simulators.sms_http import serving
from service.alerts.models import Alert
from service.app import create_app
from service.context import AppContext, open_context
from service.db import transaction
from service.delivery.models import CellStatus
from service.delivery.tracking import delivery_summary
from service.settings import Settings
from service.worker import running_worker
from tests.dispatch.conftest import SIM_SECRET, channels_for, make_network
from tests.dispatch.test_dispatch_e2e import FAR, NAIROBI_POLYGON, eventually, post
from tests.service.capdocs import cap_alert, reference_to
from tests.service.conftest import Keys, make_keys

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def served(settings: Settings, redis_url: str) -> AsyncIterator[tuple[AppContext, str]]:
    """The API on a real port, its context knowing that URL (callbacks are built from it)."""
    app = create_app()
    async with serving(app) as port:
        url = f"http://127.0.0.1:{port}"
        configured = settings.model_copy(update={"public_url": url})
        async with open_context(configured, redis_url=redis_url) as ctx:
            app.state.context = ctx
            yield ctx, url


async def _summary(client: httpx.AsyncClient, keys: Keys, alert_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/alerts/{alert_id}/delivery", headers=keys.manager)
    return dict(response.json())


async def _rows_in(ctx: AppContext, state: str) -> list[CellStatus] | None:
    async with transaction(ctx.readers) as session:
        rows = list((await session.exec(select(CellStatus))).all())
    return rows if rows and {r.status for r in rows} == {state} else None


async def _all_taken(
    client: httpx.AsyncClient, keys: Keys, alert_id: str, cells: int
) -> dict[str, Any] | None:
    """The summary once every cell reported and the broadcast's own record says so too."""
    summary = await _summary(client, keys, alert_id)
    states = {d["state"] for d in summary["dispatches"] if d["action"] != "kill"}
    taken = summary["cells"]["acknowledged"] == cells and states == {"acknowledged"}
    return summary if taken else None


def _callback(
    key: str, job: Any, cell: str, status: str, at: dt.datetime
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "key": key,
            "message_identifier": job.message_identifier,
            "serial_number": job.serial_number,
            "statuses": [{"cell_id": cell, "status": status, "at": at.isoformat()}],
        }
    ).encode()
    return body, signed_headers(SIM_SECRET, int(time.time()), body)


async def test_cells_reported_by_the_cbc_are_tracked_and_stragglers_change_nothing(
    served: tuple[AppContext, str], cbc_sim: CbcSimulator
) -> None:
    ctx, url = served
    await make_network(ctx, "reporting", channels_for([cbc_sim.base_url], None))
    keys = await make_keys(ctx, ["test@tocsin.dev"])
    async with httpx.AsyncClient(base_url=url, timeout=30) as client, running_worker(ctx):
        posted = await post(client, keys, cap_alert("cs-1", expires=FAR, polygon=NAIROBI_POLYGON))
        alert_id = posted["id"]
        (live,) = await eventually(lambda: list(cbc_sim.jobs.values()))
        job = live.job
        assert job.callback_url == f"{url}/api/v1/cbc/status/reporting/cbc1"
        cells = len(job.cells)

        summary = await eventually(lambda: _all_taken(client, keys, alert_id, cells), timeout=30)
        (dispatch,) = summary["dispatches"]
        assert dispatch["state"] == "acknowledged"
        rows = await eventually(lambda: _rows_in(ctx, "broadcasting"))  # after "acknowledged"
        assert len(rows) == cells

        status_url = "/api/v1/cbc/status/reporting/cbc1"
        first = job.cells[0]
        old = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
        body, headers = _callback(job.key, job, first, "failed", old)
        late = await client.post(status_url, content=body, headers=headers)
        assert late.status_code == 200  # taken, but older than what the row has
        assert (await _summary(client, keys, alert_id))["cells"]["failed"] == 0
        now = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
        body, headers = _callback(job.key, job, first, "failed", now)
        assert (await client.post(status_url, content=body, headers=headers)).status_code == 200
        again = await client.post(status_url, content=body, headers=headers)  # a duplicate
        assert again.status_code == 200
        cells_now = (await _summary(client, keys, alert_id))["cells"]
        assert (cells_now["acknowledged"], cells_now["failed"]) == (cells - 1, 1)

        forged = await client.post(
            status_url, content=body, headers={**headers, "X-Tocsin-Signature": "sha256=00"}
        )
        assert forged.status_code == 401
        assert forged.json()["type"] == "/problems/callback-unauthenticated"
        unknown = await client.post(
            "/api/v1/cbc/status/reporting/nope", content=body, headers=headers
        )
        assert unknown.status_code == 404
        assert unknown.json()["type"] == "/problems/unknown-endpoint"
        body, headers = _callback("not-ours", job, first, "failed", now)
        ignored = await client.post(status_url, content=body, headers=headers)
        assert ignored.json() == {"cells": 0, "dispatch": None}


async def test_reports_after_a_write_replace_belong_to_the_update(
    served: tuple[AppContext, str], cbc_sim: CbcSimulator
) -> None:
    """The replaced job keeps its key; the serial number tells which content a report is on."""
    ctx, url = served
    await make_network(ctx, "replacing", channels_for([cbc_sim.base_url], None))
    keys = await make_keys(ctx, ["test@tocsin.dev"])
    async with httpx.AsyncClient(base_url=url, timeout=30) as client, running_worker(ctx):
        first = await post(client, keys, cap_alert("cs-r1", expires=FAR, polygon=NAIROBI_POLYGON))
        (live,) = await eventually(lambda: list(cbc_sim.jobs.values()))
        cells = len(live.job.cells)
        await eventually(lambda: _all_taken(client, keys, first["id"], cells), timeout=30)
        update_cap = cap_alert(
            "cs-r2",
            msg_type="Update",
            sent="2026-11-22T10:05:00+00:00",
            references=reference_to("cs-r1"),
            headline="Flood warning extended",
            expires=FAR,
            polygon=NAIROBI_POLYGON,
        )
        update = await post(client, keys, update_cap)
        summary = await eventually(
            lambda: _all_taken(client, keys, update["id"], cells), timeout=30
        )
    (replace,) = summary["dispatches"]
    assert replace["action"] == "replace"
    (job,) = cbc_sim.jobs.values()
    assert job.job.key == live.job.key  # one job on the CBC, replaced in place
    async with transaction(ctx.readers) as session:
        rows = (await session.exec(select(CellStatus))).all()
    by_dispatch = {r.dispatch_id for r in rows}
    assert by_dispatch == {live.job.key, replace["id"]}  # the first broadcast's key is its id


def _in_two_languages(body: bytes) -> bytes:
    text = body.decode()
    start, end = text.index("<info>"), text.index("</info>") + len("</info>")
    second = text[start:end].replace("en-KE", "sw-KE")
    return (text[:end] + second + text[end:]).encode()


async def test_a_cell_on_air_in_two_languages_counts_once_for_its_operator(
    served: tuple[AppContext, str], cbc_sim: CbcSimulator
) -> None:
    ctx, url = served
    await make_network(ctx, "reporting", channels_for([cbc_sim.base_url], None))
    keys = await make_keys(ctx, ["test@tocsin.dev"])
    document = _in_two_languages(cap_alert("cs-2", expires=FAR, polygon=NAIROBI_POLYGON))
    async with httpx.AsyncClient(base_url=url, timeout=30) as client, running_worker(ctx):
        alert_id = (await post(client, keys, document))["id"]
        jobs = await eventually(lambda: list(cbc_sim.jobs.values()) or None)
        jobs = await eventually(lambda: list(cbc_sim.jobs.values())[1:] and cbc_sim.jobs)
        cells = {cell for live in jobs.values() for cell in live.job.cells}

        def settled(summary: dict[str, Any]) -> bool:
            broadcasts = [d for d in summary["dispatches"] if d["channel"] == "cbs"]
            return len(broadcasts) == 2 and {d["state"] for d in broadcasts} == {"acknowledged"}

        async def acknowledged() -> dict[str, Any] | None:
            summary = await _summary(client, keys, alert_id)
            whole = summary["cells"]["acknowledged"] == len(cells)
            return summary if settled(summary) and whole else None

        summary = await eventually(acknowledged, timeout=30)
    assert summary["cells"] == {"targeted": len(cells), "acknowledged": len(cells), "failed": 0}
    (operator,) = summary["operators"]
    assert operator["operator"] == "reporting"
    assert operator["cells"] == summary["cells"]
    assert operator["sms"]["total"] == summary["sms"]["total"]
    assert all(d["acknowledged_at"] for d in summary["dispatches"] if d["channel"] == "cbs")
    # The cells are counted by the database, not loaded row by row at every refresh.
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    async with ctx.readers() as session:
        engine = session.sync_session.get_bind()
        event.listen(engine, "before_cursor_execute", seen)
        try:
            alert = await session.get(Alert, alert_id)
            assert alert is not None
            direct = await delivery_summary(session, alert)
        finally:
            event.remove(engine, "before_cursor_execute", seen)
    assert direct["cells"] == summary["cells"]
    reads = [s for s in statements if "FROM cell_status" in s]
    assert reads
    assert all(s.lstrip().upper().startswith("SELECT COUNT(DISTINCT") for s in reads), reads
