"""Stored alerts: the parsed summary, the original bytes, and the reference chain."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from service.db import UtcDateTime, new_id, utcnow


class Alert(SQLModel, table=True):
    """One CAP message as Tocsin knows it.

    Identity is CAP's triple (sender, identifier, sent) with `sent` exactly as
    written; `content_sha256` tells a harmless replay from a conflicting one.
    """

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("sender", "identifier", "sent_text", name="uq_alerts_cap_identity"),
        Index("ix_alerts_received", "received_at", "id"),
        Index("ix_alerts_chain", "chain_id"),
        Index("ix_alerts_sender_identifier", "sender", "identifier"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    sender: str = Field(max_length=500)
    identifier: str = Field(max_length=500)
    sent_text: str = Field(max_length=40)
    sent_at: dt.datetime = Field(sa_type=UtcDateTime)
    cap_version: str = Field(max_length=5)
    status: str = Field(max_length=20, index=True)
    msg_type: str = Field(max_length=20, index=True)
    scope: str = Field(max_length=20)
    dispatch_class: str = Field(max_length=10, description="a DispatchClass value")
    content_sha256: str = Field(max_length=64)
    state: str = Field(max_length=20, index=True, description="an AlertState value")
    state_reason: str | None = Field(default=None, max_length=2000)
    state_changed_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    chain_id: str = Field(max_length=32)
    agency_id: str | None = Field(default=None, foreign_key="agencies.id", max_length=32)
    submitted_by: str | None = Field(default=None, max_length=32, description="API key id")
    requires_approval: bool = Field(default=False)
    decided_by: str | None = Field(default=None, max_length=32)
    decided_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    expires_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    signature: str = Field(default="absent", max_length=20, description="absent|verified|unchecked")
    # Its SMS batches are planned by their own job once the broadcasts have left:
    # until then the alert is not done dispatching (service.dispatch.sms_planning).
    sms_pending: bool = Field(default=False)
    summary: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    warnings: list[dict[str, str]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    received_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class AlertDocument(SQLModel, table=True):
    """The original CAP bytes, exactly as posted (signatures stay verifiable)."""

    __tablename__ = "alert_documents"

    alert_id: str = Field(foreign_key="alerts.id", primary_key=True, max_length=32)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    content_type: str = Field(max_length=100)


class AlertReference(SQLModel, table=True):
    """An Update or Cancel pointing at an earlier alert of its chain."""

    __tablename__ = "alert_references"

    alert_id: str = Field(foreign_key="alerts.id", primary_key=True, max_length=32)
    referenced_id: str = Field(foreign_key="alerts.id", primary_key=True, max_length=32)
