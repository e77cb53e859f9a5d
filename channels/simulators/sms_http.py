"""An HTTP SMS gateway simulator: the generic JSON API and Kannel's /cgi-bin/sendsms.

A real HTTP server (uvicorn + Starlette) with latency, failure injection
(5xx for the next K requests, rejected numbers), throttling (429 with
Retry-After, on demand or above a rate), and delivery reports: callbacks to
the JSON callback_url (batched) or to Kannel dlr-urls, after a delay or on
demand. Nothing sleeps per message, so 100,000 messages go through quickly.

    python -m channels.simulators.sms_http --port 13013 --secret s3cret
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import heapq
import itertools
import json
import re
import socket
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import httpx
import uvicorn
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from channels.sms.signing import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signed_headers,
    verify_body,
)
from channels.sms.wire import INVALID_NUMBER_CODE, LocationJob, MessageBatch, WireMessage

# JSON receipt batches are tried this often before the simulator gives up on them.
_CALLBACK_ATTEMPTS = 8
_CALLBACK_CONNECTIONS = 8


@dataclass(frozen=True, slots=True)
class SmsHttpSettings:
    """`secret` None: signatures are not checked. `report_delay` None: reports only on demand."""

    secret: str | None = None
    kannel_username: str = "tocsin"
    kannel_password: str = "tocsin"  # noqa: S105  (a simulator default, not a secret)
    latency: float = 0.0
    report_delay: float | None = 0.2
    report_state: str = "delivered"
    callback_batch: int = 1000
    max_rate: float | None = None


@dataclass(slots=True)
class SimMessage:
    """One message as the simulator accepted it (JSON or Kannel)."""

    correlation_id: str
    to: str
    text: str
    gateway_message_id: str
    encoding: str = ""
    udh: bytes = b""
    coding: int = 0
    callback_url: str | None = None
    dlr_url: str | None = None
    dlr_mask: int = 0
    extra: dict[str, str] = field(default_factory=dict)


# --- delivery reports --------------------------------------------------------

_KANNEL_TYPES = {"delivered": 1, "failed": 2, "expired": 2, "queued": 4, "submitted": 8}
_STATS = {"delivered": "DELIVRD", "failed": "UNDELIV", "expired": "EXPIRED", "queued": "ENROUTE"}
_ESCAPE = re.compile(r"%[dATFpP]")  # the escapes the simulator fills in


def receipt_text(message_id: str, state: str, now: time.struct_time | None = None) -> str:
    """SMPP-style receipt text, as an SMSC behind the gateway would have written it."""
    stamp = time.strftime("%y%m%d%H%M", now or time.gmtime())
    stat = _STATS.get(state, "UNKNOWN")
    delivered = "001" if state == "delivered" else "000"
    return (
        f"id:{message_id} sub:001 dlvrd:{delivered} submit date:{stamp} done date:{stamp}"
        f" stat:{stat} err:{'000' if state == 'delivered' else '001'} text:"
    )


def kannel_dlr_url(message: SimMessage, state: str) -> str:
    """The message's dlr-url with Kannel's %-escapes filled in (URL-encoded)."""
    reply = "ACK/" if state == "submitted" else receipt_text(message.gateway_message_id, state)
    values = {
        "%d": str(_KANNEL_TYPES.get(state, 2)),
        "%A": reply,
        "%T": str(int(time.time())),
        "%F": message.gateway_message_id,
        "%p": message.extra.get("from", ""),
        "%P": message.to,
    }
    return _ESCAPE.sub(lambda m: quote(values[m.group(0)], safe=""), message.dlr_url or "")


class Reporter:
    """Sends reports when due: JSON callbacks batched per URL, Kannel dlr-urls one each.

    One task and a heap of due times, so scheduling 100,000 reports costs
    100,000 heap pushes, not 100,000 sleeping tasks.
    """

    def __init__(self, secret: str | None, batch: int) -> None:
        self._secret = secret.encode() if secret else None
        self._batch = batch
        self._heap: list[tuple[float, int, SimMessage, str]] = []
        self._latest_due = 0.0  # when the last scheduled report is due
        self._order = itertools.count()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._kannel_slots = asyncio.Semaphore(50)
        # A gateway reports over a handful of connections, not one per batch.
        self._callback_slots = asyncio.Semaphore(_CALLBACK_CONNECTIONS)
        self.sent = 0
        self.failed = 0
        self.retried = 0  # reports sent again after a 5xx, 429 or no answer

    def schedule(self, message: SimMessage, state: str, delay: float) -> None:
        entry = (time.monotonic() + delay, next(self._order), message, state)
        heapq.heappush(self._heap, entry)
        self._latest_due = max(self._latest_due, entry[0])
        self._wake.set()

    def schedule_all(self, messages: Iterable[SimMessage], state: str, delay: float) -> None:
        """`schedule` for many at once: one heapify instead of a push each (a million reports)."""
        due = time.monotonic() + delay
        self._latest_due = max(self._latest_due, due)
        self._heap.extend((due, next(self._order), message, state) for message in messages)
        heapq.heapify(self._heap)
        self._wake.set()

    def start(self, client: httpx.AsyncClient) -> None:
        self._client = client
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            now = time.monotonic()
            due = self._take_due(now)
            if due:
                await self._send(due)
                continue
            wait = self._heap[0][0] - now if self._heap else 1.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), min(wait, 1.0))

    def _take_due(self, now: float) -> list[tuple[SimMessage, str]]:
        if self._heap and self._latest_due <= now:  # all of it (report()): one sort, not n pops
            entries, self._heap = sorted(self._heap), []
            return [(message, state) for _, _, message, state in entries]
        due: list[tuple[SimMessage, str]] = []
        while self._heap and self._heap[0][0] <= now:
            _, _, message, state = heapq.heappop(self._heap)
            due.append((message, state))
        return due

    async def _send(self, due: list[tuple[SimMessage, str]]) -> None:
        by_url: dict[str, list[tuple[SimMessage, str]]] = {}
        kannel = []
        for message, state in due:
            if message.dlr_url:
                kannel.append(self._get(kannel_dlr_url(message, state)))
            elif message.callback_url:
                by_url.setdefault(message.callback_url, []).append((message, state))
        posts = [
            self._post(url, entries[i : i + self._batch])
            for url, entries in by_url.items()
            for i in range(0, len(entries), self._batch)
        ]
        await asyncio.gather(*posts, *kannel)

    async def _post(self, url: str, due: list[tuple[SimMessage, str]]) -> None:
        """One batch; retried like the documented protocol asks (5xx, 429, no answer).

        The body is built once a connection is free, not up front: a gateway
        streams its reports, so the first batch leaves while later ones are
        still being written (a million reports built first would be seconds
        of silence).
        """
        assert self._client is not None
        body = b""
        for attempt in range(_CALLBACK_ATTEMPTS):
            try:
                async with self._callback_slots:
                    body = body or _json_receipts(due)
                    headers = {"Content-Type": "application/json"}
                    if self._secret is not None:  # re-signed: the timestamp must stay fresh
                        headers |= signed_headers(self._secret, int(time.time()), body)
                    response = await self._client.post(url, content=body, headers=headers)
            except httpx.HTTPError:
                response = None
            if response is not None and response.is_success:
                self.sent += len(due)
                return
            if response is not None and not _worth_retrying(response.status_code):
                break
            self.retried += len(due)
            await asyncio.sleep(_retry_delay(attempt, response))
        self.failed += len(due)

    async def _get(self, url: str) -> None:
        assert self._client is not None
        async with self._kannel_slots:
            await self._deliver(self._client.get(url), 1)

    async def _deliver(self, call: Awaitable[httpx.Response], count: int) -> None:
        try:
            response = await call
        except httpx.HTTPError:
            self.failed += count
            return
        if response.is_success:
            self.sent += count
        else:
            self.failed += count


def _worth_retrying(status: int) -> bool:
    return status == 429 or status >= 500


def _retry_delay(attempt: int, response: httpx.Response | None) -> float:
    """The receiver's Retry-After when it gave one, else doubling from 0.5 s up to 8 s."""
    if response is not None:
        with contextlib.suppress(ValueError):
            return min(float(response.headers.get("Retry-After", "")), 30.0)
    return float(min(0.5 * 2**attempt, 8.0))


def _json_receipts(due: list[tuple[SimMessage, str]]) -> bytes:
    """The JSON callback body for these reports (docs/sms.md), all stamped now."""
    now = time.gmtime()
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", now)
    entries = [
        {
            "correlation_id": message.correlation_id,
            "gateway_message_id": message.gateway_message_id,
            "state": state,
            "at": at,
            "error_code": None if state == "delivered" else "001",
            "raw": receipt_text(message.gateway_message_id, state, now),
        }
        for message, state in due
    ]
    return json.dumps(entries).encode()


class SmsHttpSimulator:
    """The simulator's state and steering; `app` is the ASGI application."""

    def __init__(self, settings: SmsHttpSettings | None = None) -> None:
        self.settings = settings or SmsHttpSettings()
        self.messages: list[SimMessage] = []
        self.location_jobs: dict[str, LocationJob] = {}
        self.cancelled_jobs: list[str] = []
        self.requests = 0
        self.reject_numbers: set[str] = set()
        self._fail: list[int] = []
        self._throttle: list[float] = []
        self._ids = itertools.count(1)
        self._idempotent: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._tokens = self.settings.max_rate or 0.0
        self._refilled = time.monotonic()
        self.reporter = Reporter(self.settings.secret, self.settings.callback_batch)
        self.app = Starlette(
            routes=[
                Route("/v1/messages", self.post_messages, methods=["POST"]),
                Route("/v1/location-jobs", self.post_location_job, methods=["POST"]),
                Route("/v1/location-jobs/{job_id}", self.delete_location_job, methods=["DELETE"]),
                Route("/v1/health", self.health, methods=["GET"]),
                Route("/cgi-bin/sendsms", self.sendsms, methods=["GET", "POST"]),
                Route("/_sim/{action}", self.control, methods=["POST"]),
                Route("/_sim/stats", self.stats, methods=["GET"]),
            ]
        )

    # --- steering -----------------------------------------------------------

    def fail_next(self, count: int, status: int = 503) -> None:
        """Answer the next `count` requests with `status` (and no side effect)."""
        self._fail.extend([status] * count)

    def throttle_next(self, count: int, retry_after: float = 1.0) -> None:
        """Answer the next `count` requests 429 with `Retry-After: retry_after`."""
        self._throttle.extend([retry_after] * count)

    def report(self, messages: list[SimMessage] | None = None, state: str = "delivered") -> None:
        """Send delivery reports now for `messages` (default: all) in `state`."""
        self.reporter.schedule_all(self.messages if messages is None else messages, state, 0.0)

    def find(self, correlation_id: str) -> list[SimMessage]:
        return [m for m in self.messages if m.correlation_id == correlation_id]

    # --- gatekeeping --------------------------------------------------------

    async def _gate(self, request: Request, count: int) -> Response | None:
        """Latency, then injected throttling and failures, then the rate limit."""
        self.requests += 1
        if self.settings.latency:
            await asyncio.sleep(self.settings.latency)
        if self._throttle:
            retry_after = self._throttle.pop(0)
            return _too_many(retry_after)
        if self._fail:
            status = self._fail.pop(0)
            return PlainTextResponse("Temporal failure, try again later.", status_code=status)
        return self._rate_check(count)

    def _rate_check(self, count: int) -> Response | None:
        rate = self.settings.max_rate
        if rate is None:
            return None
        now = time.monotonic()
        self._tokens = min(rate, self._tokens + (now - self._refilled) * rate)
        self._refilled = now
        if self._tokens < count:
            return _too_many(max(0.1, (count - self._tokens) / rate))
        self._tokens -= count
        return None

    def _signature_ok(self, request: Request, body: bytes) -> bool:
        if self.settings.secret is None:
            return True
        return verify_body(
            self.settings.secret.encode(),
            timestamp=request.headers.get(TIMESTAMP_HEADER),
            signature=request.headers.get(SIGNATURE_HEADER),
            body=body,
            now=time.time(),
        )

    # --- generic JSON API ---------------------------------------------------

    async def post_messages(self, request: Request) -> Response:
        body = await request.body()
        if not self._signature_ok(request, body):
            return _problem(401, "bad signature")
        try:
            batch = MessageBatch.model_validate_json(body)
        except ValidationError as exc:
            return _problem(422, str(exc))
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key and key in self._idempotent:
            return JSONResponse(self._idempotent[key])
        refused = await self._gate(request, len(batch.messages))
        if refused is not None:
            return refused
        answer = {"results": [self._accept_wire(message) for message in batch.messages]}
        if key:
            self._idempotent[key] = answer
            while len(self._idempotent) > 10_000:
                self._idempotent.popitem(last=False)
        return JSONResponse(answer, status_code=202)

    def _accept_wire(self, wire: WireMessage) -> dict[str, Any]:
        if wire.to.lstrip("+") in self.reject_numbers:
            error = {"code": INVALID_NUMBER_CODE, "message": "no subscriber", "permanent": True}
            return {"correlation_id": wire.correlation_id, "status": "rejected", "error": error}
        message = SimMessage(
            wire.correlation_id,
            wire.to,
            wire.text,
            f"sim-{next(self._ids)}",
            encoding=wire.encoding,
            callback_url=wire.callback_url,
        )
        self.messages.append(message)
        self._auto_report(message)
        return {
            "correlation_id": message.correlation_id,
            "status": "accepted",
            "gateway_message_id": message.gateway_message_id,
        }

    def _auto_report(self, message: SimMessage) -> None:
        if self.settings.report_delay is not None:
            self.reporter.schedule(message, self.settings.report_state, self.settings.report_delay)

    async def post_location_job(self, request: Request) -> Response:
        body = await request.body()
        if not self._signature_ok(request, body):
            return _problem(401, "bad signature")
        try:
            job = LocationJob.model_validate_json(body)
        except ValidationError as exc:
            return _problem(422, str(exc))
        refused = await self._gate(request, 1)
        if refused is not None:
            return refused
        job_id = f"job-{job.correlation_id}"
        self.location_jobs[job_id] = job
        return JSONResponse({"job_id": job_id, "status": "accepted"}, status_code=202)

    async def delete_location_job(self, request: Request) -> Response:
        job_id = request.path_params["job_id"]
        if not self._signature_ok(request, b""):
            return _problem(401, "bad signature")
        refused = await self._gate(request, 1)
        if refused is not None:
            return refused
        if self.location_jobs.pop(job_id, None) is None:
            return _problem(404, f"no job {job_id}")
        self.cancelled_jobs.append(job_id)
        return Response(status_code=204)

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    # --- Kannel sendsms -----------------------------------------------------

    async def sendsms(self, request: Request) -> Response:
        params = _kannel_params(request.scope["query_string"] or await request.body())
        if (params.get("username"), params.get("password")) != (
            self.settings.kannel_username,
            self.settings.kannel_password,
        ):
            return PlainTextResponse("Authorization failed for sendsms", status_code=403)
        to = params.get("to", "")
        if not to:
            return PlainTextResponse("Missing receiver number, rejected", status_code=400)
        refused = await self._gate(request, 1)
        if refused is not None:
            return refused
        if to.lstrip("+") in self.reject_numbers:
            return PlainTextResponse("Number rejected", status_code=400)
        self.messages.append(message := _kannel_message(params, next(self._ids)))
        if message.dlr_mask & 8:
            self.reporter.schedule(message, "submitted", 0.0)
        if message.dlr_mask & 3:
            self._auto_report(message)
        return PlainTextResponse("0: Accepted for delivery", status_code=202)

    # --- control API (for `python -m` use) -----------------------------------

    async def control(self, request: Request) -> Response:
        body = json.loads(await request.body() or b"{}")
        action = request.path_params["action"]
        if action == "fail":
            self.fail_next(int(body.get("count", 1)), int(body.get("status", 503)))
        elif action == "throttle":
            self.throttle_next(int(body.get("count", 1)), float(body.get("retry_after", 1)))
        elif action == "reject":
            self.reject_numbers.update(str(n).lstrip("+") for n in body.get("numbers", []))
        elif action == "report":
            self.report(state=str(body.get("state", "delivered")))
        else:
            return _problem(404, f"no action {action}")
        return JSONResponse({"ok": True})

    async def stats(self, request: Request) -> Response:
        return JSONResponse(
            {
                "messages": len(self.messages),
                "requests": self.requests,
                "reports_sent": self.reporter.sent,
                "location_jobs": len(self.location_jobs),
            }
        )


def _too_many(retry_after: float) -> Response:
    return PlainTextResponse(
        "Too many requests", status_code=429, headers={"Retry-After": f"{retry_after:g}"}
    )


def _problem(status: int, detail: str) -> Response:
    return JSONResponse(
        {"title": "request refused", "status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
    )


def _kannel_params(query: bytes) -> dict[str, str]:
    """Decode sendsms parameters as Latin-1, so binary `udh` survives; text is re-decoded later."""
    return dict(parse_qsl(query.decode("latin-1"), encoding="latin-1", keep_blank_values=True))


def _kannel_message(params: dict[str, str], number: int) -> SimMessage:
    charset = params.get("charset") or "UTF-8"
    text = params.get("text", "").encode("latin-1").decode(charset, errors="replace")
    dlr_url = params.get("dlr-url") or None
    return SimMessage(
        # Kannel itself knows no correlation id; ours travels in the dlr-url.
        correlation_id=dict(parse_qsl(urlsplit(dlr_url or "").query)).get("cid", ""),
        to=params.get("to", ""),
        text=text,
        gateway_message_id=f"kannel-{number}",
        udh=params.get("udh", "").encode("latin-1"),
        coding=int(params.get("coding") or 0),
        dlr_url=dlr_url,
        dlr_mask=int(params.get("dlr-mask") or 0),
        extra={k: v for k, v in params.items() if k in ("from", "smsc", "validity")},
    )


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[int]:
    """Serve an ASGI app with uvicorn on 127.0.0.1 and a free port; yields the port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.005)
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        await task
        sock.close()


@contextlib.asynccontextmanager
async def running_sms_http(
    settings: SmsHttpSettings | None = None,
) -> AsyncIterator[tuple[SmsHttpSimulator, str]]:
    """The simulator on 127.0.0.1 and a free port; yields it and its base URL."""
    simulator = SmsHttpSimulator(settings)
    async with httpx.AsyncClient(timeout=30) as client, serving(simulator.app) as port:
        simulator.reporter.start(client)
        try:
            yield simulator, f"http://127.0.0.1:{port}"
        finally:
            await simulator.reporter.stop()


def main() -> None:
    """`python -m channels.simulators.sms_http`: serve until interrupted."""
    parser = argparse.ArgumentParser(description="HTTP SMS gateway simulator (JSON + Kannel)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=13013)
    parser.add_argument("--secret", default=None)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--report-delay", type=float, default=0.5)
    parser.add_argument("--max-rate", type=float, default=None)
    args = parser.parse_args()
    simulator = SmsHttpSimulator(
        SmsHttpSettings(
            secret=args.secret,
            latency=args.latency,
            report_delay=args.report_delay,
            max_rate=args.max_rate,
        )
    )

    async def serve() -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            simulator.reporter.start(client)
            server = uvicorn.Server(uvicorn.Config(simulator.app, host=args.host, port=args.port))
            await server.serve()
            await simulator.reporter.stop()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
