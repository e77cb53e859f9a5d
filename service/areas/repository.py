"""Every query on geocode shapes and jurisdictions."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, tuple_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.areas.models import GeocodeShape, Jurisdiction

_BATCH = 500  # keeps each IN list well under SQLite's bound-parameter limit


async def replace_scheme(session: AsyncSession, scheme: str, rows: list[GeocodeShape]) -> None:
    """Replace every shape of a scheme by `rows` (inside the caller's transaction)."""
    await session.exec(delete(GeocodeShape).where(col(GeocodeShape.scheme) == scheme))
    session.add_all(rows)


async def shapes(session: AsyncSession, keys: Iterable[tuple[str, str]]) -> list[GeocodeShape]:
    """The stored shapes among `keys` ((case-folded scheme, code) pairs)."""
    wanted = sorted(set(keys))
    found: list[GeocodeShape] = []
    for start in range(0, len(wanted), _BATCH):
        batch = wanted[start : start + _BATCH]
        query = select(GeocodeShape).where(
            tuple_(col(GeocodeShape.scheme), col(GeocodeShape.code)).in_(batch)
        )
        found.extend((await session.exec(query)).all())
    return found


async def jurisdiction_digest(session: AsyncSession, agency_id: str) -> tuple[str, float] | None:
    """(sha256, tolerance) of an agency's jurisdiction, without reading the border itself."""
    query = select(Jurisdiction.sha256, Jurisdiction.tolerance_m).where(
        Jurisdiction.agency_id == agency_id
    )
    row = (await session.exec(query)).first()
    return (row[0], row[1]) if row is not None else None


async def jurisdiction(session: AsyncSession, agency_id: str) -> Jurisdiction | None:
    """An agency's jurisdiction, border included."""
    return await session.get(Jurisdiction, agency_id)


async def delete_jurisdiction(session: AsyncSession, agency_id: str) -> bool:
    """Remove an agency's jurisdiction; False when it had none."""
    row = await session.get(Jurisdiction, agency_id)
    if row is None:
        return False
    await session.delete(row)
    return True
