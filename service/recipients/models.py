"""Opted-in SMS subscribers: the people Tocsin itself sends warnings to."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Column, Index, Integer
from sqlmodel import Field, SQLModel

from service.db import UtcDateTime, utcnow


class Subscriber(SQLModel, table=True):
    """An opted-in phone: where it is registered or last seen, and its language."""

    __tablename__ = "subscribers"
    # Selection reads one operator's subscribers by last known cell, or by a
    # latitude band (then longitude and the exact area are checked in memory).
    __table_args__ = (
        Index("ix_subscribers_operator_cell", "operator_id", "cell_id"),
        Index("ix_subscribers_operator_lat", "operator_id", "lat"),
    )

    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    msisdn: str = Field(max_length=20, unique=True)
    operator_id: str = Field(foreign_key="operators.id", max_length=64)
    language: str = Field(default="en", max_length=35)
    lon: float | None = None
    lat: float | None = None
    cell_id: str | None = Field(default=None, max_length=64)
    test: bool = Field(default=False, description="also receives Exercise and Test alerts")
    opted_in_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
