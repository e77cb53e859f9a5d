"""Who may call the API: agencies (alert senders) and API keys."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from service.db import UtcDateTime, new_id, utcnow


class Role(StrEnum):
    """What a key may do. Checked per endpoint in `service.auth.api`."""

    AGENCY = "agency"  # posts, updates and cancels alerts for its own senders
    OPERATOR = "operator"  # a mobile operator: its inventory, its jobs
    MANAGER = "manager"  # approves, watches, audits
    ADMIN = "admin"  # everything, including keys and configuration


class Agency(SQLModel, table=True):
    """An alerting authority and the CAP `sender` values it may use."""

    __tablename__ = "agencies"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    name: str = Field(unique=True, max_length=200)
    senders: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    requires_approval: bool = Field(default=False)
    strict_cap: bool = Field(default=False, description="element order deviations are errors")
    requires_signature: bool = Field(default=False)
    certificates_pem: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    all_clear: dict[str, str] = Field(
        default_factory=dict,
        sa_column=Column(JSON, nullable=False, server_default="{}"),
        description="language -> the SMS sent after a Cancel to those who got the warning",
    )
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class ApiKey(SQLModel, table=True):
    """A key, stored as the SHA-256 of its secret part: the secret is shown once."""

    __tablename__ = "api_keys"

    id: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=200)
    role: str = Field(max_length=20, description="a Role value")
    secret_sha256: str = Field(max_length=64)
    agency_id: str | None = Field(default=None, foreign_key="agencies.id", max_length=32)
    operator_id: str | None = Field(default=None, foreign_key="operators.id", max_length=64)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    revoked_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
