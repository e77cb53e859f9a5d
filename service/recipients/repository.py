"""Every subscriber query: bulk upsert by MSISDN, counts, and selection by cell or by area."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import func
from sqlalchemy import select as core_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import upsert_into
from service.network.models import Operator
from service.recipients.models import Subscriber

# Below SQLite's 32,766 bound parameters in one IN list, with room to spare.
CHUNK = 900
T = TypeVar("T")
_UPDATED_ON_CONFLICT = ("operator_id", "language", "lon", "lat", "cell_id", "test")


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def operator_ids(session: AsyncSession) -> set[str]:
    return set((await session.exec(select(Operator.id))).all())


async def count(session: AsyncSession) -> int:
    return int((await session.exec(select(func.count()).select_from(Subscriber))).one())


async def upsert(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows, or update the subscriber with the same MSISDN (its opt-in time is kept).

    `rows` must not repeat an MSISDN: PostgreSQL refuses to touch a row twice
    in one statement.
    """
    if not rows:
        return
    table = Subscriber.__table__  # type: ignore[attr-defined]
    insert = upsert_into(session, table)
    statement = insert.on_conflict_do_update(
        index_elements=["msisdn"],
        set_={name: getattr(insert.excluded, name) for name in _UPDATED_ON_CONFLICT},
    )
    await session.exec(statement, params=list(rows))


Candidate = tuple[int, str, str]  # id, msisdn, language


def _scope(operator_id: str, *, test_only: bool) -> Any:
    query = select(Subscriber.id, Subscriber.msisdn, Subscriber.language).where(
        Subscriber.operator_id == operator_id
    )
    return query.where(col(Subscriber.test).is_(True)) if test_only else query


async def in_cells(
    session: AsyncSession, operator_id: str, cells: Sequence[str], *, test_only: bool
) -> list[Candidate]:
    """The operator's subscribers whose last known cell is one of `cells`."""
    found: list[Candidate] = []
    for chunk in chunks(sorted(cells)):
        query = _scope(operator_id, test_only=test_only).where(col(Subscriber.cell_id).in_(chunk))
        found.extend((await session.exec(query)).all())
    return found


async def in_box(
    session: AsyncSession,
    operator_id: str,
    box: tuple[float, float, float, float],
    *,
    test_only: bool,
) -> list[tuple[int, str, str, float, float]]:
    """Subscribers registered inside the lon/lat box (min lon, min lat, max lon, max lat)."""
    min_lon, min_lat, max_lon, max_lat = box
    table = Subscriber.__table__  # type: ignore[attr-defined]
    query = core_select(table.c.id, table.c.msisdn, table.c.language, table.c.lon, table.c.lat)
    query = query.where(
        table.c.operator_id == operator_id,
        table.c.lat.between(min_lat, max_lat),
        table.c.lon.between(min_lon, max_lon),
    )
    if test_only:
        query = query.where(table.c.test.is_(True))
    connection = await session.connection()  # Core: five plain columns, no ORM objects
    rows = (await connection.execute(query)).all()
    return [(i, m, lang, lon, lat) for i, m, lang, lon, lat in rows if lon is not None]
