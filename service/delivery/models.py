"""What reached whom: one row per SMS recipient, one per cell a CBC reported on."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import BigInteger, Column, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from service.db import UtcDateTime, utcnow


class SmsState(StrEnum):
    QUEUED = "queued"  # planned, not yet handed to a gateway
    SENDING = "sending"  # handed over; a crash here leaves it ambiguous, never resent blindly
    SUBMITTED = "submitted"  # the gateway accepted it
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"
    UNKNOWN = "unknown"
    CANCELLED = "cancelled"  # a Cancel arrived before it was sent


FINAL_SMS_STATES = frozenset(
    {SmsState.DELIVERED, SmsState.FAILED, SmsState.EXPIRED, SmsState.CANCELLED}
)


def _bigint_key() -> Column[int]:
    return Column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )


class SmsMessage(SQLModel, table=True):
    """One warning to one phone. The unique key is the no-duplicate guarantee."""

    __tablename__ = "sms_messages"
    __table_args__ = (
        UniqueConstraint("alert_id", "msisdn", name="uq_sms_once_per_alert"),
        Index("ix_sms_dispatch", "dispatch_id", "state"),
        Index("ix_sms_gateway_id", "gateway", "gateway_message_id"),
        Index("ix_sms_alert_state", "alert_id", "state"),
    )

    id: int | None = Field(default=None, sa_column=_bigint_key())
    dispatch_id: str = Field(max_length=32)
    alert_id: str = Field(max_length=32)
    operator_id: str = Field(max_length=64)
    msisdn: str = Field(max_length=20)
    language: str = Field(max_length=35)
    state: str = Field(default=SmsState.QUEUED, max_length=12)
    gateway: str | None = Field(default=None, max_length=100)
    gateway_message_id: str | None = Field(default=None, max_length=100)
    segments: int = Field(default=1)
    # Bit n-1 set: segment n reported delivered. A segmented message is delivered
    # only once all its segments are (Kannel reports each segment on its own).
    delivered_segments: int = Field(default=0, sa_type=BigInteger)
    error: str | None = Field(default=None, max_length=500)
    raw_report: str | None = Field(default=None, max_length=2000)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    submitted_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    final_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)


class CellStatus(SQLModel, table=True):
    """The last status a CBC reported for one cell of one broadcast."""

    __tablename__ = "cell_status"
    __table_args__ = (UniqueConstraint("dispatch_id", "cell_id", name="uq_cell_status"),)

    id: int | None = Field(default=None, sa_column=_bigint_key())
    dispatch_id: str = Field(max_length=32, index=True)
    cell_id: str = Field(max_length=64)
    status: str = Field(max_length=20)
    at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class UnmatchedReceipt(SQLModel, table=True):
    """A delivery report naming no message we know, kept once for investigation."""

    __tablename__ = "unmatched_receipts"
    # Stored once per (gateway, reference): a gateway repeating an unknown report is a no-op.
    __table_args__ = (UniqueConstraint("gateway", "reference", name="uq_unmatched_receipt"),)

    id: int | None = Field(default=None, sa_column=_bigint_key())
    gateway: str = Field(max_length=100)
    reference: str = Field(max_length=200)
    raw: str = Field(max_length=4000)
    received_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
