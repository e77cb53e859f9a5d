"""What the operator, inventory and targeting APIs take and return."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

from pydantic import BaseModel, Field

from service.network.models import CellInventory, Operator, Targeting


class OperatorIn(BaseModel):
    id: str = Field(
        description="a slug: lower-case letters, digits and '-'", examples=["safaricom"]
    )
    name: str = Field(min_length=1, max_length=200)
    mcc: str = Field(description="mobile country code, 3 digits", examples=["639"])
    mnc: str = Field(description="mobile network code, 2 or 3 digits", examples=["02"])
    country: str = Field(description="ISO 3166-1 alpha-2", examples=["KE"])


class OperatorOut(BaseModel):
    id: str
    name: str
    mcc: str
    mnc: str
    country: str
    inventory_version: int | None
    created_at: dt.datetime

    @classmethod
    def of(cls, operator: Operator) -> OperatorOut:
        return cls(
            id=operator.id,
            name=operator.name,
            mcc=operator.mcc,
            mnc=operator.mnc,
            country=operator.country,
            inventory_version=operator.inventory_version,
            created_at=operator.created_at,
        )


class InventoryOut(BaseModel):
    """The inventory in force (all null/zero before the first import)."""

    operator_id: str
    version: int | None
    cells: int
    by_technology: dict[str, int]
    rejected_rows: int
    source: str | None
    imported_at: dt.datetime | None

    @classmethod
    def of(cls, operator_id: str, inventory: CellInventory | None) -> InventoryOut:
        if inventory is None:
            return cls(
                operator_id=operator_id,
                version=None,
                cells=0,
                by_technology={},
                rejected_rows=0,
                source=None,
                imported_at=None,
            )
        return cls(
            operator_id=operator_id,
            version=inventory.version,
            cells=inventory.cells,
            by_technology=inventory.by_technology,
            rejected_rows=inventory.rejected_rows,
            source=inventory.source,
            imported_at=inventory.imported_at,
        )


class RowErrorOut(BaseModel):
    line: int
    message: str


class ImportOut(InventoryOut):
    """An import's outcome: the new version plus what was read and refused."""

    rows: int
    accepted: int
    rejected: int
    errors: list[RowErrorOut] = Field(description="the first 1,000 refused rows, by line")


class OperatorTargetingOut(BaseModel):
    operator_id: str
    inventory_version: int | None
    policy: str
    cell_count: int
    metrics: dict[str, Any]
    problems: list[str]
    computed_at: dt.datetime
    cells: list[str] = Field(description="this page of the selected cell ids")
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page of cells")

    @classmethod
    def of(cls, row: Targeting, offset: int, limit: int) -> OperatorTargetingOut:
        end = offset + limit
        return cls(
            operator_id=row.operator_id,
            inventory_version=row.inventory_version,
            policy=row.policy,
            cell_count=row.cell_count,
            metrics=row.metrics,
            problems=row.problems,
            computed_at=row.computed_at,
            cells=row.cells[offset:end],
            next_cursor=encode_cursor(row.operator_id, end) if end < len(row.cells) else None,
        )


class TargetingOut(BaseModel):
    alert_id: str
    state: str = Field(description="pending until every operator has been resolved, then computed")
    operators: list[OperatorTargetingOut]


def encode_cursor(operator_id: str, offset: int) -> str:
    """An opaque cursor: the next page of one operator's cells."""
    raw = json.dumps([operator_id, offset]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, int]:
    """(operator id, offset) of a cursor.

    Raises:
        ValueError: not a cursor `encode_cursor` made.
    """
    padded = cursor + "=" * (-len(cursor) % 4)
    operator_id, offset = json.loads(base64.urlsafe_b64decode(padded))
    if not isinstance(operator_id, str) or not isinstance(offset, int) or offset < 0:
        raise ValueError("not a targeting cursor")
    return operator_id, offset
