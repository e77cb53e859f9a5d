"""Dashboard fixtures: the whole stack on a real port (API, worker, simulators), and Chromium.

The stack is what `tocsin serve --with-simulators` runs: the demo operators
wired to in-process CBC and SMS simulators, the demo agency and a manager key;
plus an agency whose alerts wait for approval. The browser is Debian's
Chromium driven by Playwright (never `playwright install`: nothing is fetched).
"""

from __future__ import annotations

import io
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, async_playwright
from rich.console import Console

from service.context import AppContext
from service.demo import DemoCredentials, prepare_world
from service.demo_network import running_simulators
from service.runtime import running_stack
from service.settings import Settings
from tests.conftest import BROWSER, BROWSER_INSTALLED
from tests.dispatch.conftest import redis_url  # noqa: F401 (the fixture, re-exported)
from tests.service.conftest import Keys, client, make_keys  # noqa: F401 (client: a fixture)

BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Stack:
    """The running stack: its URL, context, the demo keys and an approval agency's keys."""

    url: str
    context: AppContext
    demo: DemoCredentials
    approval: Keys

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=30)


@pytest.fixture
async def stack(settings: Settings, redis_url: str) -> AsyncIterator[Stack]:  # noqa: F811
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    served = settings.model_copy(
        update={"host": "127.0.0.1", "port": port, "public_url": url, "redis_url": redis_url}
    )
    async with running_stack(served) as running, running_simulators() as simulators:
        quiet = Console(file=io.StringIO())
        demo = await prepare_world(running.context, simulators, url, quiet)
        approval = await make_keys(running.context, ["test@tocsin.dev"], requires_approval=True)
        yield Stack(url, running.context, demo, approval)


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[BrowserContext]:
    """A fresh headless Chromium profile; a missing Chromium fails (the collection hook skips)."""
    if not BROWSER_INSTALLED:
        pytest.fail(f"TOCSIN_TEST_BROWSER=1 but there is no {BROWSER} (apt-get install chromium)")
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=BROWSER,
            headless=True,
            args=BROWSER_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(20_000)
        try:
            yield context
        finally:
            await context.close()


async def sign_in(page: Page, stack: Stack, key: str) -> None:
    """Open the dashboard and sign in with `key`."""
    await page.goto(f"{stack.url}/")
    await page.fill("#api-key", key)
    await page.click("#sign-in-form button[type=submit]")
    await page.wait_for_selector("#list:not([hidden])")
