"""HTTP endpoints for an alert's targeting: per-operator metrics, cells (paged), map."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from sqlmodel.ext.asyncio.session import AsyncSession

from service.alerts import repository as alerts_repository
from service.auth.api import require
from service.auth.models import Role
from service.auth.service import Principal
from service.context import AppContext, get_context
from service.db import transaction
from service.network import repository
from service.network.models import Targeting
from service.network.schemas import (
    OperatorTargetingOut,
    TargetingOut,
    decode_cursor,
)
from service.problems import Problem

router = APIRouter(prefix="/api/v1/alerts", tags=["targeting"])

GEOJSON = "application/geo+json"
Context = Annotated[AppContext, Depends(get_context)]
Reader = Annotated[Principal, Depends(require(Role.AGENCY, Role.MANAGER, Role.OPERATOR))]


async def _rows(
    session: AsyncSession, principal: Principal, alert_id: str
) -> tuple[list[Targeting], bool]:
    """The rows the caller may see, and whether every operator has been resolved."""
    alert = await alerts_repository.get(session, alert_id)
    if alert is None or (principal.agency and alert.agency_id != principal.agency.id):
        raise Problem(404, "not-found", "Alert not found", f"no alert with id {alert_id}")
    rows = await repository.targetings(session, alert_id)
    operators = {o.id for o in await repository.list_operators(session)}
    complete = bool(rows) and operators <= {r.operator_id for r in rows}
    if principal.role is Role.OPERATOR:
        rows = [r for r in rows if r.operator_id == principal.operator_id]
    return rows, complete


def _page(operator: str | None, cursor: str | None) -> tuple[str | None, int]:
    if cursor is None:
        return operator, 0
    try:
        cursor_operator, offset = decode_cursor(cursor)
    except (ValueError, TypeError) as exc:
        raise Problem(400, "invalid-cursor", "Invalid cursor", "use next_cursor as given") from exc
    if operator is not None and operator != cursor_operator:
        raise Problem(400, "invalid-cursor", "Invalid cursor", "the cursor is for another operator")
    return cursor_operator, offset


def _map(rows: list[Targeting]) -> dict[str, Any]:
    features: list[dict[str, Any]] = []
    for row in rows:
        for feature in row.geojson.get("features", []):
            role = feature["properties"]["role"]
            if role == "target" and any(f["properties"]["role"] == "target" for f in features):
                continue  # the same target for every operator: once is enough
            if role == "covered":
                feature = {
                    **feature,
                    "properties": {**feature["properties"], "cells": row.cell_count, **row.metrics},
                }
            features.append(feature)
    return {"type": "FeatureCollection", "features": features}


@router.get("/{alert_id}/targeting", response_model=TargetingOut)
async def get_targeting(
    alert_id: str,
    context: Context,
    principal: Reader,
    operator: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    format: Annotated[str | None, Query(pattern="^(json|geojson)$")] = None,
) -> TargetingOut | JSONResponse:
    """Per operator: metrics, problems and a page of cell ids (`pending` until computed).

    `?format=geojson` answers like `/targeting.geojson`.
    """
    if format == "geojson":
        return await get_targeting_geojson(alert_id, context, principal)
    only, offset = _page(operator, cursor)
    async with transaction(context.readers) as session:
        rows, complete = await _rows(session, principal, alert_id)
    if only is not None:
        rows = [r for r in rows if r.operator_id == only]
    return TargetingOut(
        alert_id=alert_id,
        state="computed" if complete else "pending",
        operators=[OperatorTargetingOut.of(r, offset, limit) for r in rows],
    )


@router.get(
    "/{alert_id}/targeting.geojson",
    response_class=JSONResponse,
    responses={200: {"content": {GEOJSON: {}}}},
)
async def get_targeting_geojson(alert_id: str, context: Context, principal: Reader) -> JSONResponse:
    """A FeatureCollection for maps: the target, and the area each operator covers."""
    async with transaction(context.readers) as session:
        rows, _ = await _rows(session, principal, alert_id)
    return JSONResponse(_map(rows), media_type=GEOJSON)
