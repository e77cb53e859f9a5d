"""The subscriber registry: bulk import, selection for an alert, and the language to send.

Selection is what the SMS planner calls: the operator's subscribers whose
last known cell was targeted, or whose registered location lies inside the
alert area, or both; for Exercise and Test alerts only subscribers flagged
as testers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import transaction
from service.recipients import repository
from service.recipients.csv_rows import RowError, read_rows

IMPORT_CHUNK = 5000
_YIELD_EVERY = 250


@dataclass
class ImportReport:
    """What an import did. `errors` keeps the first `error_limit`; `rejected` counts all."""

    read: int = 0
    inserted: int = 0
    updated: int = 0
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "inserted": self.inserted,
            "updated": self.updated,
            "rejected": self.rejected,
            "errors": [str(error) for error in self.errors],
            "seconds": round(self.seconds, 2),
        }


async def _write_chunk(
    sessions: async_sessionmaker[AsyncSession], rows: dict[str, dict[str, Any]]
) -> None:
    async with transaction(sessions) as session:
        await repository.upsert(session, list(rows.values()))


async def import_subscribers(
    sessions: async_sessionmaker[AsyncSession], lines: Iterable[str], *, error_limit: int = 50
) -> ImportReport:
    """Upsert every valid row of a subscriber CSV by MSISDN; report bad rows by line.

    Streams: memory stays flat whatever the file size. Like a job, it owns
    its transactions, one per chunk of `IMPORT_CHUNK` rows, so the write
    lock is never held for long; an interrupted import can simply be re-run
    (upserting is idempotent). A MSISDN repeated in the file: the last row wins.

    Raises:
        HeaderError: the header lacks `msisdn` or `operator` (nothing is written).
    """
    started = time.perf_counter()
    report = ImportReport()
    async with transaction(sessions) as session:
        operators = await repository.operator_ids(session)
        before = await repository.count(session)
    chunk: dict[str, dict[str, Any]] = {}
    # One chunk is written while the next is parsed (the database works in
    # its own thread or server); parsing yields now and then so it can.
    writing: asyncio.Task[None] | None = None
    for row in read_rows(lines, operators):
        report.read += 1
        if report.read % _YIELD_EVERY == 0:
            await asyncio.sleep(0)
        if isinstance(row, RowError):
            report.rejected += 1
            if len(report.errors) < error_limit:
                report.errors.append(row)
            continue
        chunk.pop(row["msisdn"], None)  # a later row for the same number replaces it
        chunk[row["msisdn"]] = row
        if len(chunk) >= IMPORT_CHUNK:
            if writing is not None:
                await writing
            writing = asyncio.create_task(_write_chunk(sessions, chunk))
            chunk = {}
    if writing is not None:
        await writing
    await _write_chunk(sessions, chunk)
    async with transaction(sessions) as session:
        report.inserted = await repository.count(session) - before
    report.updated = report.read - report.rejected - report.inserted
    report.seconds = time.perf_counter() - started
    return report


@dataclass(frozen=True, slots=True)
class SelectedSubscriber:
    """A subscriber chosen for an alert."""

    id: int
    msisdn: str
    language: str


def _parts(geometry: BaseGeometry) -> list[BaseGeometry]:
    """Polygons one by one: an area split at the antimeridian has two far-apart boxes."""
    parts = getattr(geometry, "geoms", None)
    return [geometry] if parts is None else [p for part in parts for p in _parts(part)]


async def _in_area(
    session: AsyncSession, operator_id: str, geometry: BaseGeometry, *, test_only: bool
) -> list[tuple[int, str, str]]:
    shapely.prepare(geometry)
    found: list[tuple[int, str, str]] = []
    for part in _parts(geometry):
        if part.is_empty:
            continue
        min_lon, min_lat, max_lon, max_lat = (float(v) for v in part.bounds)
        box = (min_lon, min_lat, max_lon, max_lat)
        rows = await repository.in_box(session, operator_id, box, test_only=test_only)
        if not rows:
            continue
        lons = np.fromiter((r[3] for r in rows), dtype=float, count=len(rows))
        lats = np.fromiter((r[4] for r in rows), dtype=float, count=len(rows))
        inside = shapely.intersects_xy(geometry, lons, lats)  # on the boundary counts as in
        found.extend((r[0], r[1], r[2]) for r, hit in zip(rows, inside, strict=True) if hit)
    return found


async def select_subscribers(
    session: AsyncSession,
    operator_id: str,
    cell_ids: Collection[str],
    target_geometry: BaseGeometry | None,
    *,
    test_alert: bool,
) -> list[SelectedSubscriber]:
    """The operator's subscribers to warn, each once, ordered by MSISDN.

    `cell_ids`: the targeted cells (last known cell matches); `target_geometry`:
    the alert area in lon/lat (registered location inside, boundary included),
    or None to select by cell only. `test_alert`: Exercise/Test alerts reach
    only subscribers flagged `test`.
    """
    chosen: dict[int, tuple[str, str]] = {}
    cells = sorted(set(cell_ids))
    for row_id, msisdn, language in await repository.in_cells(
        session, operator_id, cells, test_only=test_alert
    ):
        chosen[row_id] = (msisdn, language)
    if target_geometry is not None and not target_geometry.is_empty:
        for row_id, msisdn, language in await _in_area(
            session, operator_id, target_geometry, test_only=test_alert
        ):
            chosen[row_id] = (msisdn, language)
    selected = [SelectedSubscriber(i, m, lang) for i, (m, lang) in chosen.items()]
    return sorted(selected, key=lambda s: s.msisdn)


def choose_language(subscriber_language: str, alert_languages: Sequence[str]) -> str:
    """The alert language to send: the subscriber's if the alert has it, else the alert's first.

    Tags compare case-insensitively (BCP 47); a subscriber's `sw-KE` takes the
    alert's `sw` (and `sw` takes `sw-KE`) when no exact match exists.

    Raises:
        ValueError: the alert has no language at all (no info block).
    """
    if not alert_languages:
        raise ValueError("the alert has no info, hence no language")
    wanted = subscriber_language.strip().lower()
    exact = [lang for lang in alert_languages if lang.lower() == wanted]
    if exact:
        return exact[0]
    primary = wanted.split("-", 1)[0]
    related = [lang for lang in alert_languages if lang.lower().split("-", 1)[0] == primary]
    return related[0] if related else alert_languages[0]
