"""Every query on operators, cell inventories and targetings."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.network.models import CellInventory, CellInventoryData, Operator, Targeting


async def get_operator(session: AsyncSession, operator_id: str) -> Operator | None:
    """An operator by id."""
    return await session.get(Operator, operator_id)


async def lock_operator(session: AsyncSession, operator_id: str) -> Operator | None:
    """An operator, locked until commit so two imports cannot take the same version.

    (SQLite has no row locks; its writers already queue on BEGIN IMMEDIATE.)
    """
    query = select(Operator).where(Operator.id == operator_id).with_for_update()
    return (await session.exec(query)).first()


async def list_operators(session: AsyncSession) -> list[Operator]:
    """Every operator, by id."""
    return list((await session.exec(select(Operator).order_by(col(Operator.id)))).all())


def add_operator(session: AsyncSession, operator: Operator) -> None:
    """Stage a new operator."""
    session.add(operator)


async def last_version(session: AsyncSession, operator_id: str) -> int:
    """The highest inventory version ever imported for an operator (0 when none)."""
    query = select(func.max(CellInventory.version)).where(CellInventory.operator_id == operator_id)
    return int((await session.exec(query)).first() or 0)


def add_inventory(session: AsyncSession, inventory: CellInventory, blob: bytes) -> None:
    """Stage an inventory version and its cells."""
    session.add(inventory)
    session.add(CellInventoryData(inventory_id=inventory.id, data=blob))


async def inventory(session: AsyncSession, operator_id: str, version: int) -> CellInventory | None:
    """One inventory version of an operator."""
    query = select(CellInventory).where(
        CellInventory.operator_id == operator_id, CellInventory.version == version
    )
    return (await session.exec(query)).first()


async def inventory_blob(session: AsyncSession, inventory_id: str) -> bytes | None:
    """The compressed cells of an inventory version."""
    data = await session.get(CellInventoryData, inventory_id)
    return data.data if data is not None else None


async def targetings(session: AsyncSession, alert_id: str) -> list[Targeting]:
    """The stored targeting of an alert, one row per operator, by operator id."""
    query = (
        select(Targeting).where(Targeting.alert_id == alert_id).order_by(col(Targeting.operator_id))
    )
    return list((await session.exec(query)).all())


def save_targeting(session: AsyncSession, targeting: Targeting) -> None:
    """Stage a new or changed targeting row."""
    session.add(targeting)
