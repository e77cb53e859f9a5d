"""Approval, rejection, Cancel before approval, Draft/Exercise/System handling."""

from __future__ import annotations

import httpx
import pytest

from service.context import AppContext
from tests.service.capdocs import cap_alert, reference_to
from tests.service.conftest import Keys, make_keys


@pytest.fixture
async def approval_keys(context: AppContext) -> Keys:
    return await make_keys(context, ["test@tocsin.dev"], requires_approval=True)


async def post(client: httpx.AsyncClient, keys: Keys, document: bytes) -> dict[str, object]:
    response = await client.post("/api/v1/alerts", content=document, headers=keys.cap())
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


async def test_alert_waits_for_approval_then_a_manager_approves(
    client: httpx.AsyncClient, approval_keys: Keys
) -> None:
    alert = await post(client, approval_keys, cap_alert("a-1"))
    assert alert["state"] == "pending-approval"
    approved = await client.post(
        f"/api/v1/alerts/{alert['id']}/approve", headers=approval_keys.manager
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "approved"
    again = await client.post(
        f"/api/v1/alerts/{alert['id']}/approve", headers=approval_keys.second_manager
    )
    assert again.status_code == 409
    assert again.json()["type"].endswith("/invalid-state")


async def test_nobody_approves_what_they_submitted(
    client: httpx.AsyncClient, approval_keys: Keys
) -> None:
    # An admin may both post and approve, but never the same alert.
    response = await client.post(
        "/api/v1/alerts", content=cap_alert("a-1"), headers=approval_keys.cap("admin")
    )
    alert = response.json()
    own = await client.post(f"/api/v1/alerts/{alert['id']}/approve", headers=approval_keys.admin)
    assert own.status_code == 403
    assert own.json()["type"].endswith("/self-approval")


async def test_agency_key_cannot_approve(client: httpx.AsyncClient, approval_keys: Keys) -> None:
    alert = await post(client, approval_keys, cap_alert("a-1"))
    response = await client.post(
        f"/api/v1/alerts/{alert['id']}/approve", headers=approval_keys.sender
    )
    assert response.status_code == 403


async def test_reject_needs_reason_and_records_it(
    client: httpx.AsyncClient, approval_keys: Keys
) -> None:
    alert = await post(client, approval_keys, cap_alert("a-1"))
    empty = await client.post(
        f"/api/v1/alerts/{alert['id']}/reject", json={"reason": ""}, headers=approval_keys.manager
    )
    assert empty.status_code == 422
    assert empty.headers["content-type"] == "application/problem+json"
    rejected = await client.post(
        f"/api/v1/alerts/{alert['id']}/reject",
        json={"reason": "wrong county"},
        headers=approval_keys.manager,
    )
    assert rejected.json()["state"] == "rejected"
    assert rejected.json()["state_reason"] == "wrong county"


async def test_cancel_of_pending_alert_rejects_it_without_waiting(
    client: httpx.AsyncClient, approval_keys: Keys
) -> None:
    alert = await post(client, approval_keys, cap_alert("a-1"))
    cancel = await post(
        client, approval_keys, cap_alert("a-2", msg_type="Cancel", references=reference_to("a-1"))
    )
    assert cancel["state"] == "approved"  # a Cancel never waits for approval
    original = (
        await client.get(f"/api/v1/alerts/{alert['id']}", headers=approval_keys.manager)
    ).json()
    assert original["state"] == "rejected"
    assert cancel["id"] in original["state_reason"]


async def test_cancel_of_live_alert_cancels_it(client: httpx.AsyncClient, keys: Keys) -> None:
    alert = await post(client, keys, cap_alert("a-1"))
    await post(client, keys, cap_alert("a-2", msg_type="Cancel", references=reference_to("a-1")))
    original = (await client.get(f"/api/v1/alerts/{alert['id']}", headers=keys.manager)).json()
    assert original["state"] == "cancelled"


@pytest.mark.parametrize(
    ("status", "dispatch_class", "state"),
    [
        ("Draft", "none", "received"),
        ("System", "none", "received"),
        ("Exercise", "test", "approved"),
        ("Test", "test", "approved"),
        ("Actual", "public", "approved"),
    ],
)
async def test_status_decides_who_an_alert_may_ever_reach(
    client: httpx.AsyncClient, keys: Keys, status: str, dispatch_class: str, state: str
) -> None:
    alert = await post(client, keys, cap_alert("a-1", status=status))
    assert (alert["dispatch_class"], alert["state"]) == (dispatch_class, state)


async def test_listing_filters_and_paginates(client: httpx.AsyncClient, keys: Keys) -> None:
    for n in range(5):
        await post(client, keys, cap_alert(f"a-{n}", sent=f"2026-11-22T1{n}:00:00+00:00"))
    await post(client, keys, cap_alert("d-1", status="Draft"))
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, "status": "Actual", **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/alerts", params=params, headers=keys.manager)).json()
        seen += [item["identifier"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"a-{n}" for n in reversed(range(5))]
    window = await client.get(
        "/api/v1/alerts",
        headers=keys.manager,
        params={
            "sent_after": "2026-11-22T11:00:00+00:00",
            "sent_before": "2026-11-22T13:00:00+00:00",
        },
    )
    assert sorted(i["identifier"] for i in window.json()["items"]) == ["a-1", "a-2"]
    drafts = await client.get("/api/v1/alerts", params={"status": "Draft"}, headers=keys.manager)
    assert [i["identifier"] for i in drafts.json()["items"]] == ["d-1"]
    bad = await client.get("/api/v1/alerts", params={"cursor": "???"}, headers=keys.manager)
    assert bad.status_code == 400


async def test_listing_filters_by_state_sender_and_message_type(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    first = await post(client, keys, cap_alert("a-1"))
    await post(client, keys, cap_alert("d-1", status="Draft"))
    update = cap_alert("u-1", msg_type="Update", references=reference_to("a-1"))
    await post(client, keys, update)

    async def identifiers(**params: str) -> list[str]:
        page = await client.get("/api/v1/alerts", params=params, headers=keys.manager)
        assert page.status_code == 200, page.text
        return sorted(item["identifier"] for item in page.json()["items"])

    assert await identifiers(msgType="Update") == ["u-1"]
    assert await identifiers(state="received") == ["d-1"]  # a Draft is stored, never planned
    now = (await client.get(f"/api/v1/alerts/{first['id']}", headers=keys.manager)).json()
    assert await identifiers(state=now["state"], msgType="Alert") == ["a-1"]
    assert await identifiers(state="rejected") == []
    assert await identifiers(sender=first["sender"]) == ["a-1", "d-1", "u-1"]
    assert await identifiers(sender="nobody@example.org") == []


async def test_agency_sees_only_its_own_alerts(
    client: httpx.AsyncClient, keys: Keys, context: AppContext
) -> None:
    other = await make_keys(context, ["other@example.org"])
    mine = await post(client, keys, cap_alert("a-1"))
    listing = await client.get("/api/v1/alerts", headers=other.sender)
    assert listing.json()["items"] == []
    hidden = await client.get(f"/api/v1/alerts/{mine['id']}", headers=other.sender)
    assert hidden.status_code == 404
