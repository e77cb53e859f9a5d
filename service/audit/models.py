"""The append-only audit trail, hash-chained so tampering shows."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Column
from sqlmodel import Field, SQLModel

from service.db import UtcDateTime, utcnow

GENESIS_HASH = "0" * 64


class AuditEvent(SQLModel, table=True):
    """Who did what to which alert, when; `hash` covers this event and `prev_hash`."""

    __tablename__ = "audit_events"

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    actor: str = Field(max_length=200)
    action: str = Field(max_length=50, index=True)
    alert_id: str | None = Field(default=None, max_length=32, index=True)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHead(SQLModel, table=True):
    """A single row holding the chain's tip.

    Appending updates this row first, which takes the row lock on PostgreSQL
    (the write lock on SQLite) so concurrent appends form one chain, not a fork.
    """

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    hash: str = Field(default=GENESIS_HASH, max_length=64)
