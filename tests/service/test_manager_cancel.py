"""POST /api/v1/alerts/{id}/cancel: a manager stops a warning in one step."""

from __future__ import annotations

import httpx
import pytest

from service.alerts.manager_cancel import cancel_document
from service.alerts.models import Alert
from service.cap import validate_cap
from service.context import AppContext
from service.db import utcnow
from tests.service.capdocs import cap_alert, reference_to
from tests.service.conftest import Keys, make_keys
from tests.service.test_lifecycle_api import post

REASON = {"reason": "Issued for the wrong district"}


async def test_a_manager_cancels_a_live_alert_with_a_cap_cancel_on_its_chain(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    alert = await post(client, keys, cap_alert("m-1"))
    response = await client.post(
        f"/api/v1/alerts/{alert['id']}/cancel", json=REASON, headers=keys.manager
    )
    assert response.status_code == 201, response.text
    cancel = response.json()
    assert response.headers["Location"].endswith(f"/api/v1/alerts/{cancel['id']}")
    assert cancel["msgType"] == "Cancel"
    assert cancel["state"] == "approved"  # never waits for approval
    assert cancel["sender"] == alert["sender"]
    original = (await client.get(f"/api/v1/alerts/{alert['id']}", headers=keys.manager)).json()
    assert original["state"] == "cancelled"
    assert cancel["id"] in original["state_reason"]
    # The Cancel Tocsin wrote is stored like a posted one: valid CAP, referencing the alert.
    stored = await client.get(f"/api/v1/alerts/{cancel['id']}/cap", headers=keys.manager)
    parsed = validate_cap(stored.content)
    assert parsed.accepted, parsed.errors
    assert parsed.alert is not None
    assert parsed.alert.note == REASON["reason"]
    (reference,) = parsed.alert.references
    assert (reference.sender, reference.identifier) == (alert["sender"], "m-1")
    audit = (await client.get("/api/v1/audit", headers=keys.manager)).json()["items"]
    received = [
        e for e in audit if e["alert_id"] == cancel["id"] and e["action"] == "alert.received"
    ]
    assert received
    assert "manager" in received[0]["actor"]  # the manager's key, not the agency's


async def test_a_pending_alert_cancelled_by_a_manager_is_rejected(
    client: httpx.AsyncClient, context: AppContext
) -> None:
    keys = await make_keys(context, ["test@tocsin.dev"], requires_approval=True)
    alert = await post(client, keys, cap_alert("m-2"))
    assert alert["state"] == "pending-approval"
    response = await client.post(
        f"/api/v1/alerts/{alert['id']}/cancel", json=REASON, headers=keys.manager
    )
    assert response.status_code == 201, response.text
    original = (await client.get(f"/api/v1/alerts/{alert['id']}", headers=keys.manager)).json()
    assert original["state"] == "rejected"


@pytest.mark.parametrize("role", ["sender"])
async def test_only_managers_cancel_this_way(
    client: httpx.AsyncClient, keys: Keys, role: str
) -> None:
    alert = await post(client, keys, cap_alert("m-3"))
    response = await client.post(
        f"/api/v1/alerts/{alert['id']}/cancel", json=REASON, headers=getattr(keys, role)
    )
    assert response.status_code == 403
    assert response.json()["type"].endswith("/forbidden")


async def test_what_is_not_live_cannot_be_cancelled_and_a_reason_is_needed(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    alert = await post(client, keys, cap_alert("m-4"))
    cancel = await post(
        client, keys, cap_alert("m-5", msg_type="Cancel", references=reference_to("m-4"))
    )
    url = "/api/v1/alerts/{}/cancel"
    for target in (alert["id"], cancel["id"]):  # cancelled already; a Cancel itself
        refused = await client.post(url.format(target), json=REASON, headers=keys.manager)
        assert refused.status_code == 409, refused.text
        assert refused.json()["type"].endswith("/invalid-state")
    missing = await client.post(url.format("nope"), json=REASON, headers=keys.manager)
    assert missing.status_code == 404
    live = await post(client, keys, cap_alert("m-6"))
    no_reason = await client.post(url.format(live["id"]), json={}, headers=keys.manager)
    assert no_reason.status_code == 422


def test_restricted_and_private_cancels_keep_their_scope_and_escape_the_reason() -> None:
    def alert(scope: str) -> Alert:
        return Alert(
            id="a",
            sender="met@example.org",
            identifier="x-1",
            sent_text="2026-11-22T10:00:00+00:00",
            status="Exercise",
            msg_type="Alert",
            scope=scope,
        )

    for scope, extra in (
        ("Restricted", {"restriction": "staff"}),
        ("Private", {"addresses": "a b"}),
    ):
        document = cancel_document(alert(scope), "key:k(m)", "<why>", utcnow(), **extra)
        parsed = validate_cap(document)
        assert parsed.accepted, parsed.errors
        assert parsed.alert is not None
        assert parsed.alert.scope == scope
        assert parsed.alert.status == "Exercise"  # a drill's Cancel stays a drill
        assert parsed.alert.note == "<why>"
        assert parsed.alert.references[0].identifier == "x-1"
