"""Geocode shapes (SAME, UGC, NUTS …) and agency jurisdictions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Column, LargeBinary
from sqlmodel import Field, SQLModel

from service.db import UtcDateTime, utcnow


class GeocodeShape(SQLModel, table=True):
    """The lon/lat shape of one CAP geocode, as WKB (imported per scheme).

    `scheme` is stored case-folded: senders spell `valueName` either way.
    """

    __tablename__ = "geocode_shapes"

    scheme: str = Field(primary_key=True, max_length=64)
    code: str = Field(primary_key=True, max_length=100)
    wkb: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    imported_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class Jurisdiction(SQLModel, table=True):
    """The territory an agency may warn; alert areas beyond it are refused at intake.

    `sha256` of the GeoJSON lets intake reuse a parsed geometry without
    reading a possibly large border on every alert.
    """

    __tablename__ = "jurisdictions"

    agency_id: str = Field(foreign_key="agencies.id", primary_key=True, max_length=32)
    geojson: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    sha256: str = Field(max_length=64)
    tolerance_m: float = 1000.0
    km2: float = 0.0
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
