"""The dashboard in a real Chromium against the real stack (API, worker, simulators)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re

import pytest
from playwright.async_api import BrowserContext, Page, Route, expect

from service.demo import CAP_HEADERS, demo_alerts
from tests.service.capdocs import cap_alert
from tests.web.conftest import Stack, sign_in

FAR = "2030-01-01T00:00:00+00:00"
ICELAND = "64.10,-22.05 64.10,-21.80 64.20,-21.80 64.20,-22.05 64.10,-22.05"  # lat,lon
HOSTILE = '<img src=x onerror="window.__xss=1">'
pytestmark = pytest.mark.timeout(180)
expect.set_options(timeout=20_000)  # a dispatch through the worker takes a few seconds


async def post(stack: Stack, key: str | dict[str, str], body: bytes) -> str:
    headers = {"Authorization": f"Bearer {key}"} if isinstance(key, str) else dict(key)
    async with stack.http() as http:
        response = await http.post("/api/v1/alerts", content=body, headers=headers | CAP_HEADERS)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def watch_errors(page: Page) -> list[str]:
    """Uncaught script errors and refused policy violations seen on the page."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: errors.append(message.text) if message.type == "error" else None,
    )
    page.on(
        "response",
        lambda response: (
            errors.append(f"{response.status} {response.url}") if response.status >= 400 else None
        ),
    )
    return errors


async def screenshot(page: Page, name: str) -> None:
    """Keep a picture for a human to look at (TOCSIN_TEST_SCREENSHOTS=dir)."""
    directory = os.environ.get("TOCSIN_TEST_SCREENSHOTS")
    if directory:
        await page.screenshot(path=os.path.join(directory, name), full_page=True)


async def test_manager_sees_a_dispatch_progress_live(stack: Stack, browser: BrowserContext) -> None:
    page = await browser.new_page()
    errors = watch_errors(page)
    await sign_in(page, stack, stack.demo.manager_key)
    await expect(page.locator("#who")).to_contain_text("manager")
    await expect(page.locator("#live")).to_have_text("live")  # the list follows /api/v1/events

    original, _update, _cancel = demo_alerts(dt.datetime.now(dt.UTC))
    alert_id = await post(stack, stack.demo.sender_key, original)
    row = page.locator(f"#alert-rows tr[data-id='{alert_id}']")
    await expect(row).to_be_visible()  # arrived without a reload
    await expect(row.locator(".badge.status-actual")).to_have_text("Actual")
    await expect(row.locator("td.state")).to_have_text(re.compile("approved|dispatching|active"))
    await row.click()

    tel = page.locator("#operators-card tr[data-operator='demo-is-tel'][data-channel='cbs']")
    await expect(tel).to_be_visible()
    await expect(page.locator("#alert-state")).to_have_text("active")
    await expect(
        page.locator("#event-log li[data-kind='dispatch.submitted']").first
    ).to_be_visible()
    total = page.locator("#sms-card [data-sms='total']")
    delivered = page.locator("#sms-card [data-sms='delivered']")
    await expect(total).not_to_have_text("0")
    await expect(delivered).to_have_text(await total.inner_text(), timeout=30_000)
    acknowledged = page.locator("#cells-card [data-cells='acknowledged']")
    await expect(acknowledged).to_have_text(re.compile(r"^([1-9]\d*) / \1$"))  # every cell, live
    targeted = await page.locator("#cells-card [data-cells='targeted']").inner_text()
    assert (await acknowledged.inner_text()) == f"{targeted} / {targeted}"  # each cell once
    await expect(tel.locator("[data-reach='cbs']")).to_have_text(re.compile(r"^(\d+) / \1 cells$"))
    await expect(page.locator("#targeting-card tr[data-operator='demo-is-mob']")).to_be_visible()
    await expect(page.locator("#targeting-card svg.map path.target")).to_have_count(1)
    await expect(page.locator("#latency-card")).to_contain_text(re.compile(r"accept → submit\d"))
    await screenshot(page, "dashboard-detail.png")
    assert not errors, errors


async def test_manager_approves_a_pending_alert_and_sees_it_dispatch(
    stack: Stack, browser: BrowserContext
) -> None:
    document = cap_alert("web-approve-1", headline="River flood", polygon=ICELAND, expires=FAR)
    alert_id = await post(stack, stack.approval.sender, document)
    page = await browser.new_page()
    errors = watch_errors(page)
    await sign_in(page, stack, stack.demo.manager_key)
    row = page.locator(f"#alert-rows tr[data-id='{alert_id}']")
    await expect(row.locator("td.state")).to_have_text("pending-approval")
    await row.click()
    await expect(page.locator("#operators-card")).to_contain_text("Nothing planned yet")

    await page.click("#approve")
    await expect(page.locator("#alert-state")).not_to_have_text("pending-approval")
    await expect(page.locator("#approve")).to_have_count(0)
    await expect(page.locator("#operators-card tr[data-channel='cbs']").first).to_be_visible()
    await expect(page.locator("#alert-state")).to_have_text("active")
    await expect(page.locator("#audit-card")).to_contain_text("approved")
    assert not errors, errors


async def test_a_late_older_snapshot_of_the_alert_does_not_undo_its_state(
    stack: Stack, browser: BrowserContext
) -> None:
    # Each event makes the page re-read the alert, and the answers can come back
    # in any order. Hold back the first read after the approval, let the alert
    # become active on the page, then deliver that read as an older snapshot.
    document = cap_alert("web-late-1", headline="Late answer", polygon=ICELAND, expires=FAR)
    alert_id = await post(stack, stack.approval.sender, document)
    page = await browser.new_page()
    await sign_in(page, stack, stack.demo.manager_key)
    await page.locator(f"#alert-rows tr[data-id='{alert_id}']").click()
    await expect(page.locator("#alert-state")).to_have_text("pending-approval")
    held: list[Route] = []
    release = asyncio.Event()

    async def hold_first(route: Route) -> None:
        if route.request.method != "GET" or held:
            await route.continue_()
            return
        held.append(route)
        response = await route.fetch()
        snapshot = await response.json()
        await release.wait()
        await route.fulfill(response=response, json=snapshot | {"state": "approved"})

    await page.route(f"**/api/v1/alerts/{alert_id}", hold_first)
    await page.click("#approve")
    await expect(page.locator("#alert-state")).to_have_text("active")
    assert held, "no read of the alert was held back"
    release.set()
    await page.wait_for_timeout(500)  # the held answer arrives and is handled
    assert await page.locator("#alert-state").inner_text() == "active"


async def test_approving_ones_own_alert_is_refused_with_the_problem(
    stack: Stack, browser: BrowserContext
) -> None:
    document = cap_alert("web-self-1", polygon=ICELAND, expires=FAR)
    alert_id = await post(stack, stack.approval.admin, document)  # an admin key bound to the agency
    page = await browser.new_page()
    await sign_in(page, stack, stack.approval.admin["Authorization"].removeprefix("Bearer "))
    await page.locator(f"#alert-rows tr[data-id='{alert_id}']").click()
    await page.click("#approve")
    problem = page.locator("#problem")
    await expect(problem).to_be_visible()
    await expect(problem.locator(".problem-title")).to_have_text("Approval by the submitter")
    await expect(problem.locator(".problem-detail")).to_contain_text("their own key")
    await expect(page.locator("#decision-problem")).to_contain_text("Approval by the submitter")
    await expect(page.locator("#alert-state")).to_have_text("pending-approval")


async def test_hostile_cap_text_is_shown_as_text(stack: Stack, browser: BrowserContext) -> None:
    escaped = HOSTILE.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    document = cap_alert("web-xss-1", headline=escaped, status="Test", polygon=ICELAND, expires=FAR)
    alert_id = await post(stack, stack.approval.sender, document)
    page = await browser.new_page()
    errors = watch_errors(page)
    await sign_in(page, stack, stack.demo.manager_key)
    row = page.locator(f"#alert-rows tr[data-id='{alert_id}']")
    await expect(row.locator(".headline-cell")).to_have_text(HOSTILE)
    await expect(row.locator(".badge.status-test")).to_have_text("TEST")
    await screenshot(page, "dashboard-list.png")
    await row.click()
    await expect(page.locator("#alert-header h1.headline")).to_have_text(HOSTILE)
    await expect(page.locator(".test-banner")).to_contain_text("TEST")
    await screenshot(page, "dashboard-test-alert.png")
    assert await page.locator("img").count() == 0
    assert await page.evaluate("() => window.__xss") is None
    assert not errors, errors


async def test_a_wrong_key_shows_the_401_problem(stack: Stack, browser: BrowserContext) -> None:
    page = await browser.new_page()
    await page.goto(f"{stack.url}/dashboard")
    await page.fill("#api-key", "tocsin_nope_wrong")
    await page.click("#sign-in-form button[type=submit]")
    problem = page.locator("#problem")
    await expect(problem).to_be_visible()
    await expect(problem).to_have_attribute("data-status", "401")
    await expect(problem.locator(".problem-title")).to_contain_text("Authentication")
    await expect(page.locator("#sign-in")).to_be_visible()
    assert await page.evaluate("() => sessionStorage.getItem('tocsin.apiKey')") is None


async def test_manager_cancels_a_live_warning_in_one_step(
    stack: Stack, browser: BrowserContext
) -> None:
    original, _update, _cancel = demo_alerts(dt.datetime.now(dt.UTC))
    alert_id = await post(stack, stack.demo.sender_key, original)
    page = await browser.new_page()
    errors = watch_errors(page)
    await sign_in(page, stack, stack.demo.manager_key)
    await page.locator(f"#alert-rows tr[data-id='{alert_id}']").click()
    await expect(page.locator("#alert-state")).to_have_text("active")
    await expect(page.locator("#cancel-confirm")).to_be_hidden()  # nothing happens on one click
    await page.fill("#cancel-reason", "Leak contained")
    await page.click("#cancel")
    await page.click("#cancel-confirm")
    await expect(page.locator("#cancel-sent")).to_be_visible()
    await expect(page.locator("#alert-state")).to_have_text("cancelled")
    async with stack.http() as http:
        alerts = (
            await http.get(
                "/api/v1/alerts",
                params={"msgType": "Cancel"},
                headers={"Authorization": f"Bearer {stack.demo.manager_key}"},
            )
        ).json()["items"]
    prefix = f"{_identifier(original)}.cancel."
    (cancel,) = [a for a in alerts if a["identifier"].startswith(prefix)]
    assert cancel["state"] in {"approved", "dispatching", "completed"}
    assert not errors, errors


def _identifier(document: bytes) -> str:
    found = re.search(rb"<identifier>([^<]+)</identifier>", document)
    assert found is not None
    return found.group(1).decode()
