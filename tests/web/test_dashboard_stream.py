"""The dashboard's event-stream reader, run in Chromium: framing, resume, reconnect."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import BrowserContext, Page

from service.runtime import running_stack
from service.settings import Settings
from tests.dispatch.conftest import redis_url  # noqa: F401 (the fixture)
from tests.web.conftest import free_port

pytestmark = pytest.mark.timeout(120)

PARSE = """async (chunks) => {
  const {EventParser} = await import("/dashboard/sse.js");
  const events = [];
  const retries = [];
  const parser = new EventParser((event, hasData) => events.push({...event, hasData}),
                                 (ms) => retries.push(ms));
  for (const chunk of chunks) parser.feed(chunk);
  return {events, retries};
}"""

# fetch() is replaced: the first stream sends two events and ends (a dropped
# connection), the second is held open; what the reader asked for is recorded.
RESUME = """async () => {
  const {EventStream} = await import("/dashboard/sse.js");
  const calls = [];
  const encoder = new TextEncoder();
  window.fetch = async (url, init) => {
    calls.push({url: String(url), lastEventId: init.headers["Last-Event-ID"] || null,
                auth: init.headers.Authorization || null});
    const first = calls.length === 1;
    const body = new ReadableStream({start(controller) {
      if (first) {
        controller.enqueue(encoder.encode("retry: 50\\n\\nid: 7\\nevent: dispatch.submitted\\n"));
        controller.enqueue(encoder.encode('data: {"operator": "op1"}\\n\\n: keep-alive\\n\\n'));
        const crlf = "id: 9\\r\\nevent: alert.active\\r\\ndata: {}\\r\\n\\r\\n";
        controller.enqueue(encoder.encode(crlf));
        controller.close();
      }
    }});
    return new Response(body, {status: 200, headers: {"Content-Type": "text/event-stream"}});
  };
  sessionStorage.setItem("tocsin.apiKey", "tocsin_k_secret");
  const events = [];
  const states = [];
  const stream = new EventStream("/api/v1/events", {
    onEvent: (event) => events.push(event), onStatus: (state) => states.push(state),
  }).start();
  for (let i = 0; i < 100 && calls.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
  stream.stop();
  return {calls, events, states};
}"""


@pytest.fixture
async def page(
    browser: BrowserContext,
    settings: Settings,
    redis_url: str,  # noqa: F811 (the fixture)
) -> AsyncIterator[Page]:
    """A dashboard page from the API (no worker, no simulators: only the scripts are needed)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    served = settings.model_copy(
        update={"host": "127.0.0.1", "port": port, "public_url": url, "redis_url": redis_url}
    )
    async with running_stack(served, with_worker=False):
        page = await browser.new_page()
        await page.goto(f"{url}/dashboard")
        yield page


async def test_framing_across_chunks_and_line_ends(page: Page) -> None:
    chunks = [
        "retry: 1500\n\n: comment\n",
        "id: 3\nevent: dispatch.planned\nda",
        'ta: {"a":\ndata: 1}\n\r',  # "\r" then "\n" in the next chunk: one line end
        "\nid: 4\r\n\r\n",  # an id alone: no event dispatched with data
        "data:no-space\r\rdata: x\n",  # unterminated: not dispatched
    ]
    result = await page.evaluate(PARSE, chunks)
    assert result["retries"] == [1500]
    events = result["events"]
    assert events[0] == {
        "id": "3",
        "event": "dispatch.planned",
        "data": '{"a":\n1}',
        "hasData": True,
    }
    assert events[1]["id"] == "4"
    assert events[1]["hasData"] is False
    # The last event id persists until another is set (as EventSource does).
    assert events[2] == {"id": "4", "event": "message", "data": "no-space", "hasData": True}
    assert len(events) == 3


async def test_a_dropped_stream_resumes_after_the_last_event(page: Page) -> None:
    result = await page.evaluate(RESUME)
    first, second = result["calls"][:2]
    assert first == {
        "url": "/api/v1/events?after=0",
        "lastEventId": None,
        "auth": "Bearer tocsin_k_secret",
    }
    assert second["url"] == "/api/v1/events?after=9"
    assert second["lastEventId"] == "9"
    assert [e["kind"] for e in result["events"]] == ["dispatch.submitted", "alert.active"]
    assert result["events"][0]["data"] == {"operator": "op1"}
    assert result["states"][:2] == ["live", "reconnecting"]
