"""The two APIs the simulated CBC speaks: osmo-cbc's ECBE and Tocsin's generic job API.

Every request goes through the same checks a careful CBC would apply
(`channels.cbc.checks`): osmo-cbc's own refusals, word for word, plus a
page-by-page decode with the independent decoder. A rejection is answered
like the real peer would answer it AND recorded in `errors`, so a test (or the
demo) that sent a bad page fails loudly instead of reading "201 Created".
"""

from __future__ import annotations

import asyncio
import time

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from channels.cbc.checks import (
    EcbeMessage,
    RequestRejected,
    check_ecbe_message,
    check_job,
    check_signature,
    request_target,
)
from channels.cbc.ecbe import API_PREFIX
from channels.cbc.jobs import IDEMPOTENCY_HEADER, CbcJob, StatusReport
from channels.simulators.cbc_callbacks import SimulatedJob, StatusReporter

_OTHER_VERBS = ["GET", "PUT", "PATCH", "DELETE", "POST", "HEAD", "OPTIONS"]


class CbcApi:
    """State and request handlers; `CbcSimulator` adds the server, faults and controls.

    `messages` holds the active ECBE messages by message identifier (what
    osmo-cbc keys them on); `jobs` the active generic jobs by key.
    """

    def __init__(self, *, secret: str, no_peers_delay_s: float, callback_batch: int) -> None:
        self.secret = secret
        self.no_peers_delay_s = no_peers_delay_s
        self.no_peers = False
        self.messages: dict[int, EcbeMessage] = {}
        self.jobs: dict[str, SimulatedJob] = {}
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.reporter = StatusReporter(secret, callback_batch)

    @property
    def callbacks(self) -> list[StatusReport]:
        """Status reports delivered to a callback URL (answered 2xx)."""
        return self.reporter.sent

    @property
    def callback_errors(self) -> list[str]:
        """Status reports that could not be delivered, and why."""
        return self.reporter.errors

    @property
    def failing_cells(self) -> set[str]:
        """Cells that report `failed` instead of `acknowledged`/`broadcasting`."""
        return self.reporter.failing_cells

    @failing_cells.setter
    def failing_cells(self, cells: set[str]) -> None:
        self.reporter.failing_cells = set(cells)

    def api_routes(self) -> list[Route]:
        """The routes of both CBC APIs."""
        return [
            Route(f"{API_PREFIX}/message", self._ecbe_post, methods=["POST"]),
            Route(API_PREFIX + "/message/{message_id}", self._ecbe_delete, methods=["DELETE"]),
            Route(API_PREFIX + "/{rest:path}", self._ecbe_unknown, methods=_OTHER_VERBS),
            Route("/jobs", self._job_post, methods=["POST"]),
            Route("/jobs/{key}", self._job_put, methods=["PUT"]),
            Route("/jobs/{key}", self._job_delete, methods=["DELETE"]),
            Route("/jobs/{key}", self._job_get, methods=["GET"]),
            Route("/health", self._health, methods=["GET"]),
        ]

    # osmo-cbc ECBE ----------------------------------------------------------

    async def _ecbe_post(self, request: Request) -> Response:
        try:
            message = check_ecbe_message(await request.body())
        except RequestRejected as exc:
            return self._reject("ECBE POST /message", exc)
        if message.message_id in self.messages:
            return PlainTextResponse("Could not allocate", 409)
        self.messages[message.message_id] = message
        return await self._peers_answer("Created", 201)

    async def _ecbe_delete(self, request: Request) -> Response:
        raw = request.path_params["message_id"]
        # osmo-cbc reads the id with atoi(): anything non-numeric becomes 0.
        if self.messages.pop(int(raw) if raw.isdigit() else 0, None) is None:
            return PlainTextResponse("Unknown message ID", 404)
        return await self._peers_answer("OK", 200)

    async def _ecbe_unknown(self, request: Request) -> Response:
        return PlainTextResponse("Not Found", 404)

    async def _peers_answer(self, text: str, status: int) -> Response:
        if self.no_peers:  # osmo-cbc's timer runs out and the result code stays 0
            await asyncio.sleep(self.no_peers_delay_s)
            return Response(b"", 200)
        return PlainTextResponse(text, status)

    # Generic job API --------------------------------------------------------

    async def _checked(self, request: Request, what: str) -> tuple[CbcJob, str] | Response:
        body = await request.body()
        try:
            return check_job(
                body,
                request.headers,
                method=request.method,
                target=request_target(request.scope),
                secret=self.secret,
                now=time.time(),
            )
        except RequestRejected as exc:
            return self._reject(what, exc)

    async def _job_post(self, request: Request) -> Response:
        checked = await self._checked(request, "POST /jobs")
        if isinstance(checked, Response):
            return checked
        job, text = checked
        existing = self.jobs.get(job.key)
        if existing is not None:
            # Same key, same body: a retry of a request whose answer was lost.
            if existing.job == job:
                return JSONResponse({"key": job.key, "status": "exists"}, 200)
            return JSONResponse({"key": job.key, "error": "key names a different job"}, 409)
        self.jobs[job.key] = SimulatedJob(job, text)
        self.reporter.report(job, self.jobs, "acknowledged", "broadcasting")
        return JSONResponse({"key": job.key, "status": "accepted"}, 201)

    async def _job_put(self, request: Request) -> Response:
        key = request.path_params["key"]
        checked = await self._checked(request, f"PUT /jobs/{key}")
        if isinstance(checked, Response):
            return checked
        job, text = checked
        if job.key != key:
            return self._reject(
                f"PUT /jobs/{key}", RequestRejected(400, "body key differs from URL")
            )
        if key not in self.jobs:
            return JSONResponse({"key": key, "error": "unknown job"}, 404)
        self.jobs[key] = SimulatedJob(job, text)
        self.reporter.report(job, self.jobs, "broadcasting")
        return JSONResponse({"key": key, "status": "replaced"}, 200)

    async def _job_delete(self, request: Request) -> Response:
        key = request.path_params["key"]
        if (denied := self._unsigned(request, b"", f"DELETE /jobs/{key}")) is not None:
            return denied
        if request.headers.get(IDEMPOTENCY_HEADER) != key:
            problem = RequestRejected(400, f"{IDEMPOTENCY_HEADER} must equal the job key {key!r}")
            return self._reject(f"DELETE /jobs/{key}", problem)
        live = self.jobs.pop(key, None)
        if live is None:
            return JSONResponse({"key": key, "error": "unknown job"}, 404)
        self.reporter.report(live.job, self.jobs, "stopped")
        return JSONResponse({"key": key, "status": "stopped"}, 200)

    async def _job_get(self, request: Request) -> Response:
        live = self.jobs.get(request.path_params["key"])
        if live is None:
            return JSONResponse({"error": "unknown job"}, 404)
        return JSONResponse(
            {"job": live.job.model_dump(mode="json"), "text": live.text, "cells": live.cells}
        )

    async def _health(self, request: Request) -> Response:
        if (denied := self._unsigned(request, b"", "GET /health")) is not None:
            return denied
        return JSONResponse({"status": "ok"})

    def _unsigned(self, request: Request, body: bytes, what: str) -> Response | None:
        try:
            check_signature(
                body,
                request.headers,
                method=request.method,
                target=request_target(request.scope),
                secret=self.secret,
                now=time.time(),
            )
        except RequestRejected as exc:
            return self._reject(what, exc)
        return None

    def _reject(self, what: str, exc: RequestRejected) -> Response:
        self.errors.append(f"{what}: {exc.status} {exc.text}")
        return PlainTextResponse(exc.text, exc.status)
