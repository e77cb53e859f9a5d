"""Use cases for operators and their cell inventories (no FastAPI, never commits)."""

from __future__ import annotations

import re

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from service.auth.models import Role
from service.auth.service import Principal
from service.db import utcnow
from service.network import repository
from service.network.errors import (
    InvalidOperatorError,
    OperatorExistsError,
    OperatorNotFoundError,
)
from service.network.inventory import PreparedInventory
from service.network.models import CellInventory, Operator

_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_MCC = re.compile(r"[0-9]{3}")
_MNC = re.compile(r"[0-9]{2,3}")
_COUNTRY = re.compile(r"[A-Z]{2}")


def _check_operator_fields(operator_id: str, mcc: str, mnc: str, country: str) -> None:
    problems = [
        {"path": f"/{name}", "message": message}
        for name, value, pattern, message in (
            ("id", operator_id, _SLUG, "a slug: lower-case letters, digits and '-', 1-64"),
            ("mcc", mcc, _MCC, "the mobile country code: 3 digits"),
            ("mnc", mnc, _MNC, "the mobile network code: 2 or 3 digits"),
            ("country", country, _COUNTRY, "an ISO 3166-1 alpha-2 code, upper case"),
        )
        if not pattern.fullmatch(value)
    ]
    if problems:
        raise InvalidOperatorError("the operator is not valid", problems)


async def create_operator(
    session: AsyncSession, *, operator_id: str, name: str, mcc: str, mnc: str, country: str
) -> Operator:
    """Register a mobile network operator.

    Raises:
        InvalidOperatorError: a field is malformed (each one named).
        OperatorExistsError: the id is taken.
    """
    _check_operator_fields(operator_id, mcc, mnc, country)
    if not name.strip():
        raise InvalidOperatorError(
            "the operator needs a name", [{"path": "/name", "message": "empty"}]
        )
    if await repository.get_operator(session, operator_id) is not None:
        raise OperatorExistsError(f"an operator with id '{operator_id}' already exists")
    operator = Operator(id=operator_id, name=name.strip(), mcc=mcc, mnc=mnc, country=country)
    repository.add_operator(session, operator)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent create of the same id
        raise OperatorExistsError(f"an operator with id '{operator_id}' already exists") from exc
    return operator


async def list_operators(session: AsyncSession) -> list[Operator]:
    """Every operator, by id."""
    return await repository.list_operators(session)


async def get_operator(session: AsyncSession, operator_id: str) -> Operator:
    """An operator by id.

    Raises:
        OperatorNotFoundError: no such operator.
    """
    operator = await repository.get_operator(session, operator_id)
    if operator is None:
        raise OperatorNotFoundError(f"no operator with id '{operator_id}'")
    return operator


def may_manage(principal: Principal, operator_id: str) -> bool:
    """Admins manage every operator; an operator key only the operator it is bound to."""
    if principal.role is Role.ADMIN:
        return True
    return principal.role is Role.OPERATOR and principal.operator_id == operator_id


async def store_inventory(
    session: AsyncSession, operator_id: str, prepared: PreparedInventory, *, source: str
) -> CellInventory:
    """Make `prepared` the operator's inventory in force, as a new version.

    The previous versions stay (targetings name the version they used); the
    switch is the operator's `inventory_version`, changed in the same
    transaction, so readers see the old or the new inventory, never a mix.

    Raises:
        OperatorNotFoundError: no such operator.
    """
    operator = await repository.lock_operator(session, operator_id)
    if operator is None:
        raise OperatorNotFoundError(f"no operator with id '{operator_id}'")
    version = await repository.last_version(session, operator_id) + 1
    inventory = CellInventory(
        operator_id=operator_id,
        version=version,
        cells=prepared.accepted,
        by_technology=prepared.by_technology,
        rejected_rows=prepared.rejected,
        source=source[:200],
        imported_at=utcnow(),
    )
    repository.add_inventory(session, inventory, prepared.blob)
    operator.inventory_version = version
    session.add(operator)
    await session.flush()
    return inventory


async def current_inventory(session: AsyncSession, operator_id: str) -> CellInventory | None:
    """The inventory version in force for an operator (None before the first import).

    Raises:
        OperatorNotFoundError: no such operator.
    """
    operator = await get_operator(session, operator_id)
    if operator.inventory_version is None:
        return None
    return await repository.inventory(session, operator_id, operator.inventory_version)
