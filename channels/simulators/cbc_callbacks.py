"""Per-cell status callbacks of the simulated CBC, signed like a real gateway's would be.

A real CBC reports cell by cell, late and in batches, so the simulator does
the same in background tasks: Tocsin's receiver must cope with reports that
arrive after the HTTP answer and with thousands of cells split over several
callbacks.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from channels.cbc.jobs import CbcJob, CellStatus, StatusReport, signed_headers


@dataclass
class SimulatedJob:
    """A live job, the text phones would show, and each cell's last reported state."""

    job: CbcJob
    text: str
    cells: dict[str, str] = field(default_factory=dict)


class StatusReporter:
    """Sends signed `StatusReport`s to each job's callback URL, `batch` cells at a time."""

    def __init__(self, secret: str, batch: int) -> None:
        self.secret = secret
        self.batch = batch
        self.sent: list[StatusReport] = []
        self.errors: list[str] = []
        self.failing_cells: set[str] = set()
        self._http: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def open(self) -> None:
        """Create the HTTP client the callbacks go through."""
        self._http = httpx.AsyncClient(timeout=5.0)

    async def close(self) -> None:
        """Cancel pending reports and close the client."""
        for task in list(self._tasks):
            task.cancel()
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def report(self, job: CbcJob, jobs: dict[str, SimulatedJob], *states: str) -> None:
        """Report `states` in order for every cell of `job`, in the background."""
        if job.callback_url is None:
            return
        task = asyncio.create_task(self._send(job, jobs, states))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(
        self, job: CbcJob, jobs: dict[str, SimulatedJob], states: tuple[str, ...]
    ) -> None:
        # An area-targeted or PLMN-wide job has no cell list: report per area, or once.
        cells = job.cells or job.tracking_areas or ["plmn"]
        for state in states:
            for start in range(0, len(cells), self.batch):
                chunk = cells[start : start + self.batch]
                await self._post(job, [self._status(job, jobs, cell, state) for cell in chunk])

    def _status(
        self, job: CbcJob, jobs: dict[str, SimulatedJob], cell: str, state: str
    ) -> CellStatus:
        failed = cell in self.failing_cells and state != "stopped"
        final = "failed" if failed else state
        if job.key in jobs:
            jobs[job.key].cells[cell] = final
        detail = "simulated cell failure" if failed else None
        return CellStatus.model_validate(
            {"cell_id": cell, "status": final, "at": datetime.now(UTC), "detail": detail}
        )

    async def _post(self, job: CbcJob, statuses: list[CellStatus]) -> None:
        report = StatusReport(
            key=job.key,
            message_identifier=job.message_identifier,
            serial_number=job.serial_number,
            statuses=statuses,
        )
        body = report.model_dump_json().encode()
        headers = signed_headers(self.secret, int(time.time()), body)
        if self._http is None:
            return
        try:
            response = await self._http.post(str(job.callback_url), content=body, headers=headers)
        except httpx.HTTPError as exc:
            self.errors.append(f"{job.callback_url}: {type(exc).__name__}")
            return
        if response.status_code >= 300:
            self.errors.append(f"{job.callback_url}: HTTP {response.status_code}")
        else:
            self.sent.append(report)
