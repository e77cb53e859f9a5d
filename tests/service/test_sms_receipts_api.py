"""Delivery-report endpoints: Kannel dlr-url and the JSON callback, on both databases."""

from __future__ import annotations

import time
from collections.abc import Sequence
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel.ext.asyncio.session import AsyncSession

from channels.sms.signing import dlr_secret
from service.context import AppContext
from service.delivery import receipt_writer
from service.delivery.models import SmsState
from service.delivery.receipt_batch import IncomingReceipt, Verdict, apply_receipts
from tests.service.sms_service_fixtures import (
    KANNEL_KEY,
    add_messages,
    add_operator,
    message,
    signed,
    unmatched,
)

PROBLEM = "application/problem+json"


def dlr(cid: str, dlr_type: int, *, seg: int = 1, secret: str | None = None, **extra: str) -> str:
    """The query Kannel sends to our dlr-url, escapes filled in."""
    params = {
        "cid": cid,
        "seg": str(seg),
        "secret": dlr_secret(KANNEL_KEY.encode(), cid) if secret is None else secret,
        "type": str(dlr_type),
        "smsc_reply": extra.pop("smsc_reply", "id:7 sub:001 dlvrd:001 stat:DELIVRD err:000 text:"),
        "ts": "1795361733",
        "msgid": "7",
        **extra,
    }
    return urlencode(params)


@pytest.fixture
async def ready(context: AppContext) -> AppContext:
    await add_operator(context)
    return context


async def test_kannel_report_moves_the_row_once(
    ready: AppContext, client: httpx.AsyncClient
) -> None:
    (row_id,) = await add_messages(ready, 1)
    cid = str(row_id)
    response = await client.get(f"/api/v1/receipts/kannel/k1?{dlr(cid, 8)}")  # at the SMSC
    assert response.status_code == 200
    assert response.json() == {"received": 1, "applied": 0, "unchanged": 1, "unmatched": 0}
    response = await client.get(f"/api/v1/receipts/kannel/k1?{dlr(cid, 1)}")
    assert response.json()["applied"] == 1
    stored = await message(ready, row_id)
    assert stored.state == SmsState.DELIVERED
    assert stored.final_at is not None
    assert "stat:DELIVRD" in (stored.raw_report or "")
    assert "secret" not in (stored.raw_report or "")  # the secret is never stored
    # A duplicate, and a contradicting late report, change nothing.
    for late in (1, 2, 8):
        response = await client.get(f"/api/v1/receipts/kannel/k1?{dlr(cid, late)}")
        assert response.json()["unchanged"] == 1
    assert (await message(ready, row_id)).state == SmsState.DELIVERED


async def test_kannel_post_form_and_expired(ready: AppContext, client: httpx.AsyncClient) -> None:
    (row_id,) = await add_messages(ready, 1)
    body = dlr(str(row_id), 2, smsc_reply="id:7 sub:001 dlvrd:000 stat:EXPIRED err:027 text:")
    response = await client.post(
        "/api/v1/receipts/kannel/k1",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200, response.text
    stored = await message(ready, row_id)
    assert stored.state == SmsState.EXPIRED
    assert stored.error == "gateway error 027"


async def test_segments_all_delivered_or_one_failed(
    ready: AppContext, client: httpx.AsyncClient
) -> None:
    first, second = await add_messages(ready, 2, segments=3)
    for seg in (2, 1):
        await client.get(f"/api/v1/receipts/kannel/k1?{dlr(str(first), 1, seg=seg)}")
    assert (await message(ready, first)).state == SmsState.SUBMITTED
    assert (await message(ready, first)).delivered_segments == 0b011
    await client.get(f"/api/v1/receipts/kannel/k1?{dlr(str(first), 1, seg=3)}")
    assert (await message(ready, first)).state == SmsState.DELIVERED
    await client.get(f"/api/v1/receipts/kannel/k1?{dlr(str(second), 1, seg=1)}")
    await client.get(f"/api/v1/receipts/kannel/k1?{dlr(str(second), 2, seg=2)}")
    await client.get(f"/api/v1/receipts/kannel/k1?{dlr(str(second), 1, seg=3)}")
    assert (await message(ready, second)).state == SmsState.FAILED


async def test_kannel_refusals_are_quiet_problems(
    ready: AppContext, client: httpx.AsyncClient
) -> None:
    (row_id,) = await add_messages(ready, 1)
    cid = str(row_id)
    other = dlr(str(row_id + 1), 1, secret=dlr_secret(KANNEL_KEY.encode(), cid))
    cases = [
        (f"/api/v1/receipts/kannel/k1?{dlr(cid, 1, secret='0' * 32)}", 403, "receipt-forbidden"),
        (f"/api/v1/receipts/kannel/k1?{other}", 403, "receipt-forbidden"),
        (f"/api/v1/receipts/kannel/k1?{dlr(cid, 1, secret='')}", 401, "receipt-unauthenticated"),
        (f"/api/v1/receipts/kannel/nope?{dlr(cid, 1)}", 404, "unknown-gateway"),
        (f"/api/v1/receipts/kannel/j1?{dlr(cid, 1)}", 404, "unknown-gateway"),
        (f"/api/v1/receipts/kannel/k1?{dlr(cid, 1, type='x')}", 400, "invalid-receipt"),
    ]
    for url, status, kind in cases:
        response = await client.get(url)
        assert response.status_code == status, (url, response.text)
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["type"] == f"/problems/{kind}"
    assert (await message(ready, row_id)).state == SmsState.SUBMITTED
    assert await unmatched(ready) == []


async def test_unknown_and_foreign_references_are_kept_once(
    ready: AppContext, client: httpx.AsyncClient
) -> None:
    (foreign,) = await add_messages(ready, 1, gateway="j1")
    for _ in range(3):
        response = await client.get(f"/api/v1/receipts/kannel/k1?{dlr('999999', 1)}")
        assert response.json() == {"received": 1, "applied": 0, "unchanged": 0, "unmatched": 1}
    await client.get(f"/api/v1/receipts/kannel/k1?{dlr(str(foreign), 1)}")
    kept = sorted(u.reference for u in await unmatched(ready))
    assert kept == sorted(["999999", str(foreign)])
    assert (await message(ready, foreign)).state == SmsState.SUBMITTED


async def test_report_overtaking_the_submission_result(
    ready: AppContext, client: httpx.AsyncClient
) -> None:
    """The row is still `sending`, no gateway recorded: the report counts."""
    (row_id,) = await add_messages(ready, 1, gateway=None, state=SmsState.SENDING)
    await client.get(f"/api/v1/receipts/kannel/k1?{dlr(str(row_id), 1)}")
    assert (await message(ready, row_id)).state == SmsState.DELIVERED


async def test_json_callback(ready: AppContext, client: httpx.AsyncClient) -> None:
    ids = await add_messages(ready, 4, gateway="j1", message_ids=["g0", "g1", "g2", "g3"])
    body, headers = signed(
        [
            {
                "correlation_id": str(ids[0]),
                "gateway_message_id": "g0",
                "state": "delivered",
                "raw": "ok",
            },
            {"gateway_message_id": "g1", "state": "failed", "error_code": "34"},
            {"correlation_id": str(ids[2]), "state": "queued"},
            {"correlation_id": str(ids[3]), "state": "something-new"},
            {"gateway_message_id": "nobody", "state": "delivered"},
        ]
    )
    response = await client.post("/api/v1/receipts/http/j1", content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"received": 5, "applied": 2, "unchanged": 2, "unmatched": 1}
    states = [(await message(ready, i)).state for i in ids]
    assert states == ["delivered", "failed", "submitted", "submitted"]
    assert (await message(ready, ids[0])).raw_report == "ok"
    assert [u.reference for u in await unmatched(ready)] == ["msgid:nobody"]


async def test_json_callback_refusals(ready: AppContext, client: httpx.AsyncClient) -> None:
    (row_id,) = await add_messages(ready, 1, gateway="j1")
    good = [{"correlation_id": str(row_id), "state": "delivered"}]
    url = "/api/v1/receipts/http/j1"
    body, headers = signed(good, secret="wrong")
    assert (await client.post(url, content=body, headers=headers)).status_code == 403
    body, headers = signed(good, at=time.time() - 3600)  # a replay from an hour ago
    assert (await client.post(url, content=body, headers=headers)).status_code == 403
    response = await client.post(url, content=body)
    assert response.status_code == 401
    assert response.json()["type"] == "/problems/receipt-unauthenticated"
    for bad in ({"not": "a list"}, [{"state": "delivered"}]):
        body, headers = signed(bad)
        response = await client.post(url, content=body, headers=headers)
        assert response.status_code == 400
        assert response.json()["type"] == "/problems/invalid-receipt"
    body, headers = signed(good)
    assert (
        await client.post("/api/v1/receipts/http/k1", content=body, headers=headers)
    ).status_code == 404
    assert (await message(ready, row_id)).state == SmsState.SUBMITTED


async def test_problem_types_are_documented(client: httpx.AsyncClient) -> None:
    for kind in (
        "invalid-receipt",
        "unknown-gateway",
        "receipt-unauthenticated",
        "receipt-forbidden",
        "receipts-busy",
    ):
        assert (await client.get(f"/problems/{kind}")).status_code == 200


async def test_one_flush_writes_each_row_its_own_values(
    ready: AppContext, client: httpx.AsyncClient
) -> None:
    """A batch's changes land on their own rows (PostgreSQL writes them as parallel arrays).

    The first batch only moves rows forward to a state that is not final, so
    its `final_at` and `error` values are all NULL.
    """
    ids = await add_messages(ready, 4, gateway="j1", state=SmsState.SENDING)
    first, first_headers = signed(
        [{"correlation_id": str(i), "state": "queued", "raw": f"q{i}"} for i in ids[:2]]
    )
    response = await client.post("/api/v1/receipts/http/j1", content=first, headers=first_headers)
    assert response.json() == {"received": 2, "applied": 2, "unchanged": 0, "unmatched": 0}
    body, headers = signed(
        [
            {"correlation_id": str(ids[0]), "state": "queued"},
            {"correlation_id": str(ids[1]), "state": "delivered"},
            {"correlation_id": str(ids[2]), "state": "failed", "error_code": "34", "raw": "x"},
            {"correlation_id": str(ids[3]), "state": "delivered", "raw": "whole"},
        ]
    )
    response = await client.post("/api/v1/receipts/http/j1", content=body, headers=headers)
    assert response.json() == {"received": 4, "applied": 3, "unchanged": 1, "unmatched": 0}
    rows = [await message(ready, i) for i in ids]
    assert [r.state for r in rows] == ["submitted", "delivered", "failed", "delivered"]
    assert [r.raw_report for r in rows] == [f"q{ids[0]}", f"q{ids[1]}", "x", "whole"]
    assert [r.error for r in rows] == [None, None, "gateway error 34", None]
    assert [r.final_at is not None for r in rows] == [False, True, True, True]


async def test_a_report_the_database_refused_is_answered_503(
    ready: AppContext, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The flush rolled back: the gateway hears "retry" (Kannel: http-request-retry) and
    the retry is stored; a 500 would read as our bug, a 200 would lose the report."""
    (row_id,) = await add_messages(ready, 1)
    failures = [OperationalError("UPDATE sms_messages", {}, OSError("database went away"))]

    async def failing_once(
        session: AsyncSession, items: Sequence[IncomingReceipt]
    ) -> list[Verdict]:
        if failures:
            raise failures.pop()
        return await apply_receipts(session, items)

    monkeypatch.setattr(receipt_writer, "apply_receipts", failing_once)
    url = f"/api/v1/receipts/kannel/k1?{dlr(str(row_id), 1)}"
    response = await client.get(url)
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["retry-after"] == "1"
    assert response.json()["type"] == "/problems/receipts-busy"
    assert (await message(ready, row_id)).state == SmsState.SUBMITTED
    assert (await client.get(url)).json()["applied"] == 1
    assert (await message(ready, row_id)).state == SmsState.DELIVERED


async def test_location_job_reports_are_kept_per_handset(
    ready: AppContext, client: httpx.AsyncClient
) -> None:
    """A location job's reports name its dispatch id: kept once per handset message."""
    job = "0f" * 16  # a dispatch id, not an SMS row
    body, headers = signed(
        [
            {"correlation_id": job, "gateway_message_id": "h1", "state": "delivered"},
            {"correlation_id": job, "gateway_message_id": "h2", "state": "delivered"},
            {"correlation_id": job, "gateway_message_id": "h1", "state": "delivered"},
        ]
    )
    response = await client.post("/api/v1/receipts/http/j1", content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["unmatched"] == 3
    kept = sorted(u.reference for u in await unmatched(ready))
    assert kept == [f"{job}/h1", f"{job}/h2"]


async def test_the_json_callback_is_post_only(ready: AppContext, client: httpx.AsyncClient) -> None:
    """Signed bodies only: a GET (Kannel style) is refused, as docs/sms.md says."""
    assert (await client.get("/api/v1/receipts/http/j1")).status_code == 405
