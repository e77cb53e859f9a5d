"""Delivery tracking over HTTP: the summary, and live events as Server-Sent Events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse

from service.alerts.models import Alert
from service.auth.api import require
from service.auth.models import Role
from service.auth.service import Principal
from service.context import AppContext, get_context
from service.db import transaction
from service.delivery.tracking import delivery_summary, events_after
from service.problems import Problem

router = APIRouter(prefix="/api/v1", tags=["delivery"])
Context = Annotated[AppContext, Depends(get_context)]
Watcher = Annotated[Principal, Depends(require(Role.MANAGER, Role.AGENCY))]
POLL_S = 0.25
KEEPALIVE_S = 15.0


async def _alert(context: AppContext, principal: Principal, alert_id: str) -> Alert:
    async with transaction(context.readers) as session:
        alert = await session.get(Alert, alert_id)
    visible = alert is not None and (
        principal.agency is None or alert.agency_id == principal.agency.id
    )
    if alert is None or not visible:
        raise Problem(404, "not-found", "No such alert", f"no alert '{alert_id}'")
    return alert


@router.get("/alerts/{alert_id}/delivery")
async def get_delivery(alert_id: str, context: Context, principal: Watcher) -> dict[str, Any]:
    """Cells targeted and acknowledged, SMS by state, latencies, and every dispatch."""
    alert = await _alert(context, principal, alert_id)
    async with transaction(context.readers) as session:
        return await delivery_summary(session, alert)


@router.get("/alerts/{alert_id}/events")
async def alert_events(
    alert_id: str,
    request: Request,
    context: Context,
    principal: Watcher,
    last_event_id: Annotated[int, Header(alias="Last-Event-ID")] = 0,
    after: Annotated[int, Query(ge=0)] = 0,
) -> StreamingResponse:
    """Live dispatch events of one alert (text/event-stream; resumes from Last-Event-ID)."""
    await _alert(context, principal, alert_id)
    return _stream(request, context, max(last_event_id, after), alert_id)


@router.get("/events")
async def all_events(
    request: Request,
    context: Context,
    principal: Annotated[Principal, Depends(require(Role.MANAGER))],
    last_event_id: Annotated[int, Header(alias="Last-Event-ID")] = 0,
    after: Annotated[int, Query(ge=0)] = 0,
) -> StreamingResponse:
    """Live dispatch events of every alert (managers)."""
    return _stream(request, context, max(last_event_id, after), None)


def _stream(
    request: Request, context: AppContext, after: int, alert_id: str | None
) -> StreamingResponse:
    async def generate() -> AsyncIterator[str]:
        cursor, idle = after, 0.0
        yield "retry: 1000\n\n"
        while not await request.is_disconnected():
            async with transaction(context.readers) as session:
                batch = await events_after(session, cursor, alert_id)
            for event in batch:
                assert event.id is not None
                cursor = event.id
                data = {
                    "alert": event.alert_id,
                    "dispatch": event.dispatch_id,
                    "operator": event.operator_id,
                    "at": event.at.isoformat(),
                    **event.detail,
                }
                yield f"id: {event.id}\nevent: {event.kind}\ndata: {json.dumps(data)}\n\n"
            idle = 0.0 if batch else idle + POLL_S
            if idle >= KEEPALIVE_S:
                idle = 0.0
                yield ": keep-alive\n\n"
            await asyncio.sleep(POLL_S)

    return StreamingResponse(generate(), media_type="text/event-stream")
