"""POST /api/v1/alerts: accepted, replayed, conflicting, refused — on every backend."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import select

from service.alerts.models import Alert, AlertDocument
from service.audit.models import AuditEvent
from service.context import AppContext
from service.db import transaction
from tests.service.capdocs import cap_alert, reference_to
from tests.service.conftest import Keys


async def count(context: AppContext, model: type) -> int:
    async with transaction(context.sessions) as session:
        return int((await session.exec(select(func.count()).select_from(model))).one())


async def test_accepted_alert_is_stored_once_with_location(
    client: httpx.AsyncClient, keys: Keys, context: AppContext
) -> None:
    response = await client.post("/api/v1/alerts", content=cap_alert("a-1"), headers=keys.cap())
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["Location"] == f"http://testserver/api/v1/alerts/{body['id']}"
    assert body["state"] == "approved"
    assert body["msgType"] == "Alert"
    assert body["dispatch_class"] == "public"
    assert body["warnings"] == []
    assert await count(context, Alert) == 1


async def test_identical_replay_returns_200_and_same_resource(
    client: httpx.AsyncClient, keys: Keys, context: AppContext
) -> None:
    first = await client.post("/api/v1/alerts", content=cap_alert("a-1"), headers=keys.cap())
    again = await client.post("/api/v1/alerts", content=cap_alert("a-1"), headers=keys.cap())
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Location"] == first.headers["Location"]
    assert await count(context, Alert) == 1


async def test_same_identity_different_content_is_409(
    client: httpx.AsyncClient, keys: Keys, context: AppContext
) -> None:
    await client.post("/api/v1/alerts", content=cap_alert("a-1"), headers=keys.cap())
    response = await client.post(
        "/api/v1/alerts", content=cap_alert("a-1", headline="Other"), headers=keys.cap()
    )
    assert response.status_code == 409
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert problem["type"].endswith("/identity-conflict")
    assert problem["errors"][0]["path"] == "/alert/identifier"
    assert await count(context, Alert) == 1


async def test_original_bytes_are_returned_exactly(client: httpx.AsyncClient, keys: Keys) -> None:
    document = cap_alert("a-1").replace(b"<event>", b"<!-- kept -->\n    <event>")
    created = await client.post("/api/v1/alerts", content=document, headers=keys.cap())
    cap = await client.get(f"/api/v1/alerts/{created.json()['id']}/cap", headers=keys.manager)
    assert cap.status_code == 200
    assert cap.content == document
    assert cap.headers["content-type"] == "application/cap+xml"


@pytest.mark.parametrize("media_type", ["text/plain", "application/json", ""])
async def test_wrong_content_type_is_415(
    client: httpx.AsyncClient, keys: Keys, media_type: str, context: AppContext
) -> None:
    headers = {**keys.sender, "Content-Type": media_type}
    response = await client.post("/api/v1/alerts", content=cap_alert("a-1"), headers=headers)
    assert response.status_code == 415
    assert response.json()["type"].endswith("/unsupported-media-type")
    assert await count(context, Alert) == 0


async def test_application_xml_is_accepted_too(client: httpx.AsyncClient, keys: Keys) -> None:
    headers = {**keys.sender, "Content-Type": "application/xml; charset=utf-8"}
    response = await client.post("/api/v1/alerts", content=cap_alert("a-1"), headers=headers)
    assert response.status_code == 201


async def test_invalid_cap_names_the_element_and_stores_nothing(
    client: httpx.AsyncClient, keys: Keys, context: AppContext
) -> None:
    document = cap_alert("a-1").replace(b"<urgency>Immediate</urgency>", b"<urgency></urgency>")
    response = await client.post("/api/v1/alerts", content=document, headers=keys.cap())
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"].endswith("/invalid-cap")
    assert problem["status"] == 422
    assert any(e["path"] == "/alert/info[1]/urgency" for e in problem["errors"])
    assert await count(context, Alert) == 0
    assert await count(context, AuditEvent) == 0


async def test_sender_outside_the_agency_is_403(
    client: httpx.AsyncClient, keys: Keys, context: AppContext
) -> None:
    document = cap_alert("a-1", sender="someone-else@example.org")
    response = await client.post("/api/v1/alerts", content=document, headers=keys.cap())
    assert response.status_code == 403
    assert response.json()["type"].endswith("/sender-not-allowed")
    assert await count(context, Alert) == 0


async def test_missing_or_bad_key_is_401(client: httpx.AsyncClient) -> None:
    no_key = await client.post(
        "/api/v1/alerts", content=cap_alert("a-1"), headers={"Content-Type": "application/cap+xml"}
    )
    bad_key = await client.post(
        "/api/v1/alerts",
        content=cap_alert("a-1"),
        headers={"Content-Type": "application/cap+xml", "Authorization": "Bearer tocsin_abc_def"},
    )
    assert no_key.status_code == bad_key.status_code == 401
    assert no_key.headers["WWW-Authenticate"].startswith("Bearer")


async def test_manager_cannot_post_alerts(client: httpx.AsyncClient, keys: Keys) -> None:
    response = await client.post(
        "/api/v1/alerts", content=cap_alert("a-1"), headers=keys.cap("manager")
    )
    assert response.status_code == 403


async def test_oversized_body_is_413_without_storing(
    client: httpx.AsyncClient, keys: Keys, context: AppContext
) -> None:
    huge = cap_alert("a-1").replace(b"<headline>", b"<headline>" + b"x" * 6_000_000)
    response = await client.post("/api/v1/alerts", content=huge, headers=keys.cap())
    assert response.status_code == 413
    assert response.json()["type"].endswith("/payload-too-large")
    assert await count(context, AlertDocument) == 0


async def test_update_links_to_its_chain(client: httpx.AsyncClient, keys: Keys) -> None:
    first = (
        await client.post("/api/v1/alerts", content=cap_alert("a-1"), headers=keys.cap())
    ).json()
    update = cap_alert(
        "a-2", msg_type="Update", sent="2026-11-22T11:00:00+00:00", references=reference_to("a-1")
    )
    second = await client.post("/api/v1/alerts", content=update, headers=keys.cap())
    assert second.status_code == 201, second.text
    body = second.json()
    assert body["chain_id"] == first["id"]
    assert body["references"] == [first["id"]]
    previous = (await client.get(f"/api/v1/alerts/{first['id']}", headers=keys.manager)).json()
    assert previous["state"] == "completed"
    assert body["id"] in previous["state_reason"]


async def test_reference_with_other_offset_for_same_instant_resolves(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    first = (
        await client.post("/api/v1/alerts", content=cap_alert("a-1"), headers=keys.cap())
    ).json()
    ref = reference_to("a-1", sent="2026-11-22T12:00:00+02:00")
    cancel = cap_alert("a-2", msg_type="Cancel", references=ref, sent="2026-11-22T12:00:00+00:00")
    response = await client.post("/api/v1/alerts", content=cancel, headers=keys.cap())
    assert response.status_code == 201, response.text
    assert response.json()["chain_id"] == first["id"]


async def test_unknown_reference_is_404_and_nothing_stored(
    client: httpx.AsyncClient, keys: Keys, context: AppContext
) -> None:
    update = cap_alert("a-2", msg_type="Update", references=reference_to("never-sent"))
    response = await client.post("/api/v1/alerts", content=update, headers=keys.cap())
    assert response.status_code == 404
    assert response.json()["type"].endswith("/unknown-reference")
    assert response.json()["errors"][0]["path"] == "/alert/references"
    assert await count(context, Alert) == 0


async def test_ambiguous_reference_is_400(
    client: httpx.AsyncClient, keys: Keys, context: AppContext
) -> None:
    # The same identifier sent twice at the same instant written with two offsets.
    await client.post("/api/v1/alerts", content=cap_alert("a-1"), headers=keys.cap())
    await client.post(
        "/api/v1/alerts",
        content=cap_alert("a-1", sent="2026-11-22T12:00:00+02:00"),
        headers=keys.cap(),
    )
    ref = reference_to("a-1", sent="2026-11-22T05:00:00-05:00")
    response = await client.post(
        "/api/v1/alerts",
        content=cap_alert("a-3", msg_type="Cancel", references=ref),
        headers=keys.cap(),
    )
    assert response.status_code == 400
    assert response.json()["type"].endswith("/ambiguous-reference")
    assert await count(context, Alert) == 2


async def test_an_update_may_merge_two_chains(client: httpx.AsyncClient, keys: Keys) -> None:
    a = (await client.post("/api/v1/alerts", content=cap_alert("a-1"), headers=keys.cap())).json()
    b = (await client.post("/api/v1/alerts", content=cap_alert("b-1"), headers=keys.cap())).json()
    refs = f"{reference_to('a-1')} {reference_to('b-1')}"
    update = cap_alert("c-1", msg_type="Update", references=refs)
    response = await client.post("/api/v1/alerts", content=update, headers=keys.cap())
    assert response.status_code == 201
    assert response.json()["chain_id"] == a["id"]  # continues the oldest chain
    assert sorted(response.json()["references"]) == sorted([a["id"], b["id"]])
    for earlier in (a, b):
        state = (await client.get(f"/api/v1/alerts/{earlier['id']}", headers=keys.manager)).json()
        assert state["state"] == "completed"


async def test_a_cancel_may_stop_two_chains(client: httpx.AsyncClient, keys: Keys) -> None:
    a = (await client.post("/api/v1/alerts", content=cap_alert("a-1"), headers=keys.cap())).json()
    b = (await client.post("/api/v1/alerts", content=cap_alert("b-1"), headers=keys.cap())).json()
    refs = f"{reference_to('a-1')} {reference_to('b-1')}"
    cancel = cap_alert("c-1", msg_type="Cancel", references=refs)
    response = await client.post("/api/v1/alerts", content=cancel, headers=keys.cap())
    assert response.status_code == 201
    for earlier in (a, b):
        state = (await client.get(f"/api/v1/alerts/{earlier['id']}", headers=keys.manager)).json()
        assert state["state"] == "cancelled"


async def test_an_update_referencing_only_itself_starts_a_chain_with_a_warning(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    own = reference_to("a-1")
    update = cap_alert("a-1", msg_type="Update", references=own)
    response = await client.post("/api/v1/alerts", content=update, headers=keys.cap())
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["chain_id"] == body["id"]
    assert body["references"] == []
    assert body["warnings"][0]["path"] == "/alert/references"


async def test_a_test_chain_cannot_be_updated_into_an_actual_alert(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    await client.post("/api/v1/alerts", content=cap_alert("t-1", status="Test"), headers=keys.cap())
    update = cap_alert("t-2", msg_type="Update", references=reference_to("t-1"))
    response = await client.post("/api/v1/alerts", content=update, headers=keys.cap())
    assert response.status_code == 422
    assert response.json()["type"].endswith("/chain-conflict")


async def test_every_problem_type_is_documented_on_the_api(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    response = await client.post("/api/v1/alerts", content=b"<html/>", headers=keys.cap())
    described = await client.get(response.json()["type"])
    assert described.status_code == 200
    assert "CAP" in described.json()["description"]
    assert (await client.get("/problems/no-such-type")).status_code == 404


@pytest.mark.parametrize("changed", [False, True], ids=["replays", "conflicts"])
async def test_concurrent_posts_of_one_identity_store_it_once(
    client: httpx.AsyncClient, keys: Keys, context: AppContext, changed: bool
) -> None:
    """A sender retrying before its first post is answered: one 201, the rest 200 or 409."""
    first = cap_alert("a-1")
    others = cap_alert("a-1", headline="Other") if changed else first
    posts = [first, others, others, others]
    responses = await asyncio.gather(
        *(client.post("/api/v1/alerts", content=body, headers=keys.cap()) for body in posts)
    )
    statuses = [r.status_code for r in responses]
    assert statuses.count(201) == 1, [r.text for r in responses]
    winner = posts[statuses.index(201)]
    # Whichever post won, the others are replays of it (200) or conflicts (409).
    expected = [
        201 if s == 201 else 200 if body == winner else 409
        for s, body in zip(statuses, posts, strict=True)
    ]
    assert statuses == expected, [r.text for r in responses]
    assert await count(context, Alert) == 1
    assert await count(context, AlertDocument) == 1
