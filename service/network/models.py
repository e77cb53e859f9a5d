"""Mobile operators, their cell inventories and channels, and the targeting of alerts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from service.db import UtcDateTime, new_id, utcnow


class Operator(SQLModel, table=True):
    """A mobile network operator, identified by a short slug chosen by the admin.

    `channels` holds its cell broadcast centres and SMS gateways in order of
    preference (validated by `service.network.channels.ChannelsConfig`);
    `inventory_version` names the cell inventory in force.
    """

    __tablename__ = "operators"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    mcc: str = Field(max_length=3)
    mnc: str = Field(max_length=3)
    country: str = Field(max_length=2, description="ISO 3166-1 alpha-2")
    channels: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    last_good_cbc: str | None = Field(default=None, max_length=100)
    inventory_version: int | None = Field(default=None)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class CellInventory(SQLModel, table=True):
    """One imported version of an operator's cells (the cells are in `CellInventoryData`)."""

    __tablename__ = "cell_inventories"
    __table_args__ = (UniqueConstraint("operator_id", "version"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    operator_id: str = Field(foreign_key="operators.id", max_length=64)
    version: int
    cells: int
    by_technology: dict[str, int] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    rejected_rows: int = 0
    source: str = Field(max_length=200, description="file name or 'api'")
    imported_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class CellInventoryData(SQLModel, table=True):
    """The cells of an inventory version, as one compressed columnar blob.

    A national network is about a million cells; one blob loads in well
    under a second, where a million rows would not, and nothing queries
    single cells in SQL.
    """

    __tablename__ = "cell_inventory_data"

    inventory_id: str = Field(foreign_key="cell_inventories.id", primary_key=True, max_length=32)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class Targeting(SQLModel, table=True):
    """The cells of one operator selected for one alert, with the accuracy metrics."""

    __tablename__ = "targetings"
    __table_args__ = (UniqueConstraint("alert_id", "operator_id"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    alert_id: str = Field(foreign_key="alerts.id", max_length=32)
    operator_id: str = Field(foreign_key="operators.id", max_length=64)
    inventory_version: int | None = None
    policy: str = Field(max_length=50)
    cell_count: int = 0
    metrics: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    cells: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    problems: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Target and covered areas (lon/lat GeoJSON FeatureCollection) for maps; the
    # covered outline is stored simplified for display, metrics use exact areas.
    geojson: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    computed_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
