"""Dispatch rows: one per (alert, operator, channel, language) action, and their history."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from service.db import UtcDateTime, new_id, utcnow


class Channel(StrEnum):
    CELL_BROADCAST = "cbs"
    SMS = "sms"  # Tocsin sends to each subscriber through a gateway
    OPERATOR_SMS = "lbsms"  # the operator resolves recipients in its own network


class Action(StrEnum):
    BROADCAST = "broadcast"  # start a cell broadcast (Write-Replace without old serial)
    REPLACE = "replace"  # replace a live broadcast (same id and code, update number + 1)
    KILL = "kill"  # stop a live broadcast
    SEND = "send"  # send an SMS batch


class DispatchState(StrEnum):
    PLANNED = "planned"
    QUEUED = "queued"
    SUBMITTED = "submitted"
    ACKNOWLEDGED = "acknowledged"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


OPEN_STATES = frozenset({DispatchState.PLANNED, DispatchState.QUEUED})
FINAL_STATES = frozenset({DispatchState.DELIVERED, DispatchState.FAILED, DispatchState.CANCELLED})


class Dispatch(SQLModel, table=True):
    """One unit of work towards one operator on one channel.

    For cell broadcast, `message_identifier`, `message_code` and
    `update_number` name the broadcast on the CBC; `payload` keeps the encoded
    pages so a retry sends exactly the same bytes.
    """

    __tablename__ = "dispatches"
    __table_args__ = (
        Index("ix_dispatches_alert", "alert_id"),
        Index("ix_dispatches_chain", "chain_id", "operator_id", "channel"),
        Index("ix_dispatches_operator_state", "operator_id", "state"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    alert_id: str = Field(foreign_key="alerts.id", max_length=32)
    chain_id: str = Field(max_length=32)
    operator_id: str = Field(foreign_key="operators.id", max_length=64)
    channel: str = Field(max_length=10, description="a Channel value")
    action: str = Field(max_length=10, description="an Action value")
    language: str | None = Field(default=None, max_length=35)
    info_index: int | None = Field(default=None, description="which CAP info block it sends")
    replaces: str | None = Field(
        default=None, max_length=32, description="the broadcast a replace or kill acts on"
    )
    batch_no: int | None = Field(default=None, description="SMS batch number within the alert")
    state: str = Field(default=DispatchState.PLANNED, max_length=15)
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, max_length=2000)
    message_identifier: int | None = None
    message_code: int | None = None
    update_number: int | None = None
    endpoint: str | None = Field(default=None, max_length=200, description="CBC or gateway used")
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    result: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    live: bool = Field(default=False, description="a broadcast running on the CBC right now")
    expires_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    planned_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    queued_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    heartbeat_at: dt.datetime | None = Field(
        default=None,
        sa_type=UtcDateTime,
        description="last sign of life from the job working on it (the stall sweep spares it)",
    )
    submitted_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    acknowledged_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    finished_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)

    def acknowledge(self) -> bool:
        """Note the operator's (or its cells') first word that the job is taken; False if known.

        A job not yet recorded as submitted keeps its state: the submission
        then records `acknowledged` itself (service.dispatch.broadcast).
        """
        if self.acknowledged_at is not None:
            return False
        self.acknowledged_at = utcnow()
        if self.state == DispatchState.SUBMITTED:
            self.state = DispatchState.ACKNOWLEDGED
        return True

    @property
    def submitted_state(self) -> DispatchState:
        """The state a job takes once submitted: acknowledged if the operator or
        its cells said so already (their word can overtake the submission's commit)."""
        if self.acknowledged_at is None:
            return DispatchState.SUBMITTED
        return DispatchState.ACKNOWLEDGED


class DispatchEvent(SQLModel, table=True):
    """The history of a dispatch, and the feed behind the live event streams."""

    __tablename__ = "dispatch_events"
    __table_args__ = (Index("ix_dispatch_events_alert", "alert_id", "id"),)

    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    dispatch_id: str | None = Field(default=None, max_length=32, index=True)
    alert_id: str = Field(max_length=32)
    operator_id: str | None = Field(default=None, max_length=64)
    kind: str = Field(max_length=40, description="e.g. dispatch.submitted, dispatch.failed")
    at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class MessageCode(SQLModel, table=True):
    """A cell-broadcast message code held by a chain on one operator's network.

    A code is live while any broadcast of its chain runs; the allocator never
    hands out a live code (TS 23.041: the phone would take the new warning
    for a repeat of the old one).
    """

    __tablename__ = "message_codes"
    __table_args__ = (UniqueConstraint("operator_id", "chain_id", "message_identifier"),)

    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    operator_id: str = Field(foreign_key="operators.id", max_length=64)
    chain_id: str = Field(max_length=32)
    message_identifier: int
    code: int
    update_number: int = Field(default=0)
    live: bool = Field(default=True)
    allocated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
