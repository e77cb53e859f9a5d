"""The audit trail over HTTP, for managers and admins."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from service.audit import repository
from service.auth.api import require
from service.auth.models import Role
from service.auth.service import Principal
from service.context import AppContext, get_context
from service.db import transaction

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


class AuditEventOut(BaseModel):
    seq: int
    at: dt.datetime
    actor: str
    action: str
    alert_id: str | None
    detail: dict[str, Any]
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    items: list[AuditEventOut]
    next_after: int | None


@router.get("", response_model=AuditPage)
async def list_audit(
    context: Annotated[AppContext, Depends(get_context)],
    _principal: Annotated[Principal, Depends(require(Role.MANAGER))],
    after: Annotated[int, Query(ge=0, description="seq of the last event already seen")] = 0,
    alert_id: str | None = None,
    since: dt.datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPage:
    """Audit events in chain order; page with `after=<next_after>`."""
    async with transaction(context.readers) as session:
        events = await repository.list_events(
            session, after_seq=after, limit=limit, alert_id=alert_id, since=since
        )
    items = [AuditEventOut.model_validate(e, from_attributes=True) for e in events]
    return AuditPage(items=items, next_after=items[-1].seq if len(items) == limit else None)
