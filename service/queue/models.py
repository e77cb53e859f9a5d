"""The transactional outbox: jobs written with the state change that causes them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Integer
from sqlmodel import Field, SQLModel

from service.db import UtcDateTime, utcnow


class OutboxMessage(SQLModel, table=True):
    """One job to enqueue once the transaction that wrote it has committed.

    The relay sends rows whose `enqueued_at` is empty; a crash between commit
    and enqueue therefore loses nothing. `job_id` is deterministic, so a row
    sent twice is one arq job.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_unsent", "enqueued_at", "id"),)

    id: int | None = Field(
        default=None,
        # SQLite only autoincrements a key declared INTEGER.
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    queue: str = Field(max_length=50)
    function: str = Field(max_length=100)
    job_id: str = Field(max_length=200, unique=True)
    args: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    defer_until: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    enqueued_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
