"""What the alert API returns."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

from pydantic import BaseModel, Field

from service.alerts.models import Alert


class IssueOut(BaseModel):
    path: str
    message: str


class AlertOut(BaseModel):
    """An alert as the API shows it."""

    id: str
    state: str
    state_reason: str | None
    sender: str
    identifier: str
    sent: str
    status: str
    msg_type: str = Field(serialization_alias="msgType")
    scope: str
    cap_version: str
    dispatch_class: str = Field(description="public | test | none: who it may ever reach")
    chain_id: str
    references: list[str] = Field(description="ids of the alerts this one references")
    requires_approval: bool
    decided_by: str | None
    signature: str
    expires_at: dt.datetime | None
    received_at: dt.datetime
    warnings: list[IssueOut]
    summary: dict[str, Any]
    links: dict[str, str]

    @classmethod
    def of(cls, alert: Alert, references: list[str], base_url: str) -> AlertOut:
        """Build from a stored alert; `base_url` is the API's public root."""
        self_url = f"{base_url}/api/v1/alerts/{alert.id}"
        return cls(
            id=alert.id,
            state=alert.state,
            state_reason=alert.state_reason,
            sender=alert.sender,
            identifier=alert.identifier,
            sent=alert.sent_text,
            status=alert.status,
            msg_type=alert.msg_type,
            scope=alert.scope,
            cap_version=alert.cap_version,
            dispatch_class=alert.dispatch_class,
            chain_id=alert.chain_id,
            references=references,
            requires_approval=alert.requires_approval,
            decided_by=alert.decided_by,
            signature=alert.signature,
            expires_at=alert.expires_at,
            received_at=alert.received_at,
            warnings=[IssueOut(**w) for w in alert.warnings],
            summary=alert.summary,
            links={"self": self_url, "cap": f"{self_url}/cap"},
        )


class AlertPage(BaseModel):
    items: list[AlertOut]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page")


class RejectBody(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class CancelBody(BaseModel):
    """Why the manager stops the warning: kept as the Cancel's CAP <note> and in the audit."""

    reason: str = Field(min_length=1, max_length=2000)


def encode_cursor(alert: Alert) -> str:
    """An opaque cursor positioned after `alert`."""
    raw = json.dumps([alert.received_at.isoformat(), alert.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, str]:
    """The position a cursor encodes.

    Raises:
        ValueError: the cursor was not made by `encode_cursor`.
    """
    padded = cursor + "=" * (-len(cursor) % 4)
    received_at, alert_id = json.loads(base64.urlsafe_b64decode(padded))
    return dt.datetime.fromisoformat(received_at), str(alert_id)
