"""The generic HTTP CBC: Tocsin's own signed JSON job API (docs/operators.md).

Submit is `POST /jobs`, replace is `PUT /jobs/{key}`, cancel is
`DELETE /jobs/{key}`, the link test is `GET /health`. A retried request
carries the same `Idempotency-Key` and body, which the CBC must answer with
200 instead of creating a second broadcast. Every request is signed over its
method, target, key and body (`channels.cbc.jobs.canonical_request`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import ClassVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from channels.cbc.base import (
    DEFAULT_SCHEDULE,
    BroadcastSchedule,
    BroadcastTargets,
    CbcCapabilities,
    LinkStatus,
    Submission,
    check_replacement,
)
from channels.cbc.jobs import (
    MAX_CELLS_PER_JOB,
    CbcJob,
    build_jobs,
    signed_request_headers,
)
from channels.cbc.transport import send, status_error
from channels.cbs.message import CbsMessage
from channels.errors import PermanentChannelError, TransientChannelError


class GenericCbcConfig(BaseModel):
    """One CBC gateway speaking the Tocsin job API."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str
    secret: SecretStr
    callback_url: str | None = None
    timeout_s: float = Field(default=10.0, gt=0)
    max_cells_per_request: int = Field(default=MAX_CELLS_PER_JOB, ge=1, le=MAX_CELLS_PER_JOB)


class GenericHttpCbc:
    """`CellBroadcastCenter` for the generic signed-JSON job API."""

    kind: ClassVar[str] = "generic-http"
    capabilities: ClassVar[CbcCapabilities] = CbcCapabilities()

    def __init__(
        self,
        config: GenericCbcConfig,
        client: httpx.AsyncClient,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._client = client
        self._clock = clock
        self._base = config.base_url.rstrip("/")

    async def submit(
        self,
        message: CbsMessage,
        *,
        targets: BroadcastTargets,
        idempotency_key: str,
        schedule: BroadcastSchedule = DEFAULT_SCHEDULE,
    ) -> Submission:
        """POST one job per 65,535 cells, each under its own key (`key`, `key-2`, ...).

        Raises:
            PermanentChannelError: the CBC refused a job (4xx), or the key was
                already used for different content (409).
            TransientChannelError: 429/5xx, timeout or connection failure; a
                retry with the same key completes the parts that did not land.
        """
        jobs = self._jobs(message, targets, schedule, idempotency_key)
        for job in jobs:
            await self._write("POST", "/jobs", job)
        return self._submission(message, targets, idempotency_key, jobs)

    async def replace(
        self,
        submission: Submission,
        message: CbsMessage,
        *,
        targets: BroadcastTargets,
        schedule: BroadcastSchedule = DEFAULT_SCHEDULE,
    ) -> Submission:
        """PUT the new content to each job (POST if the CBC forgot it), delete surplus parts.

        Raises:
            ValueError: `message` is not an update of `submission`.
            PermanentChannelError, TransientChannelError: as for `submit`.
        """
        check_replacement(submission, message)
        key = submission.idempotency_key
        jobs = self._jobs(message, targets, schedule, key)
        for job in jobs:
            if job.key in submission.remote_ids:
                await self._write("PUT", _job_path(job.key), job, missing_ok=True)
            else:
                await self._write("POST", "/jobs", job)
        current = {job.key for job in jobs}
        await self._delete([k for k in submission.remote_ids if k not in current])
        return self._submission(message, targets, key, jobs)

    async def cancel(self, submission: Submission) -> None:
        """DELETE every part; 404 (already gone) counts as stopped.

        Raises:
            TransientChannelError: 429/5xx, timeout or connection failure.
            PermanentChannelError: any other refusal.
        """
        await self._delete(list(submission.remote_ids))

    async def check(self) -> LinkStatus:
        """GET /health (signed, so a wrong secret shows up here and not during an alert)."""
        started = time.monotonic()
        try:
            response = await self._signed("GET", "/health", b"", key=None)
        except TransientChannelError as exc:
            return LinkStatus(reachable=False, latency_s=None, detail=str(exc))
        latency = time.monotonic() - started
        ok = response.status_code == 200
        detail = "healthy" if ok else f"HTTP {response.status_code}: {response.text[:200]}"
        return LinkStatus(reachable=ok, latency_s=latency, detail=detail)

    def _jobs(
        self,
        message: CbsMessage,
        targets: BroadcastTargets,
        schedule: BroadcastSchedule,
        key: str,
    ) -> list[CbcJob]:
        return build_jobs(
            message,
            targets,
            schedule,
            key=key,
            callback_url=self._config.callback_url,
            max_cells=self._config.max_cells_per_request,
        )

    def _submission(
        self, message: CbsMessage, targets: BroadcastTargets, key: str, jobs: list[CbcJob]
    ) -> Submission:
        return Submission(
            cbc=self.kind,
            idempotency_key=key,
            message_identifier=message.message_identifier,
            serial_number=message.serial_number.encode(),
            remote_ids=tuple(job.key for job in jobs),
            plmn_wide=targets.plmn_wide,
        )

    async def _write(
        self, method: str, path: str, job: CbcJob, *, missing_ok: bool = False
    ) -> None:
        body = json.dumps(job.model_dump(mode="json"), separators=(",", ":")).encode()
        response = await self._signed(method, path, body, key=job.key)
        if response.status_code == 404 and missing_ok:
            await self._write("POST", "/jobs", job)
            return
        if response.status_code == 409:
            raise PermanentChannelError(
                f"CBC {method} {path}: key {job.key!r} already names a different job:"
                f" {response.text[:200]}"
            )
        if not 200 <= response.status_code < 300:
            raise status_error(response, f"CBC {method} {path}")

    async def _delete(self, keys: list[str]) -> None:
        for key in keys:
            path = _job_path(key)
            response = await self._signed("DELETE", path, b"", key=key)
            if response.status_code not in (200, 204, 404):
                raise status_error(response, f"CBC DELETE {path}")

    async def _signed(
        self, method: str, path: str, body: bytes, *, key: str | None
    ) -> httpx.Response:
        secret = self._config.secret.get_secret_value()
        url = httpx.URL(self._base + path)
        target = url.raw_path.decode("ascii")  # path and query exactly as they go on the wire
        headers = signed_request_headers(
            secret, int(self._clock()), body, method=method, target=target, key=key
        )
        return await send(
            self._client,
            method,
            url,
            timeout_s=self._config.timeout_s,
            what=f"CBC {method} {path}",
            content=body,
            headers=headers,
        )


def _job_path(key: str) -> str:
    return "/jobs/" + quote(key, safe="")
