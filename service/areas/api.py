"""HTTP endpoints for agency jurisdictions (the territory an agency may warn)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Response

from service.areas import service
from service.areas.schemas import JurisdictionOut
from service.auth import service as auth
from service.auth.api import require
from service.auth.models import Agency, Role
from service.auth.service import Principal
from service.context import AppContext, get_context
from service.db import transaction
from service.problems import Problem

router = APIRouter(prefix="/api/v1/agencies", tags=["agencies"])

Context = Annotated[AppContext, Depends(get_context)]
Admin = Annotated[Principal, Depends(require())]
Reader = Annotated[Principal, Depends(require(Role.AGENCY, Role.MANAGER))]


def _not_found(agency_id: str) -> Problem:
    return Problem(404, "not-found", "Not found", f"no agency '{agency_id}' or no jurisdiction")


async def _agency(session: Any, agency_id: str) -> Agency:
    agency = await auth.find_agency(session, agency_id)
    if agency is None:
        raise _not_found(agency_id)
    return agency


@router.put("/{agency_id}/jurisdiction", response_model=JurisdictionOut)
async def put_jurisdiction(
    agency_id: str,
    context: Context,
    principal: Admin,
    geojson: Annotated[
        dict[str, Any], Body(description="a GeoJSON geometry, Feature or collection")
    ],
    tolerance_m: Annotated[float, Query(ge=0, le=service.MAX_TOLERANCE_M)] = 1000.0,
) -> JurisdictionOut:
    """Set the agency's jurisdiction; alerts reaching beyond it are then refused (403)."""
    try:
        async with transaction(context.sessions) as session:
            agency = await _agency(session, agency_id)
            row = await service.set_jurisdiction(session, agency, geojson, tolerance_m=tolerance_m)
            return JurisdictionOut.of(row)
    except service.AreaConfigurationError as exc:
        raise Problem(422, "invalid-request", "Invalid jurisdiction", str(exc)) from exc


@router.get("/{agency_id}/jurisdiction", response_model=JurisdictionOut)
async def get_jurisdiction(agency_id: str, context: Context, principal: Reader) -> JurisdictionOut:
    """The agency's jurisdiction (an agency key sees its own only)."""
    async with transaction(context.readers) as session:
        agency = await _agency(session, agency_id)
        own = principal.agency.id if principal.agency is not None else None
        if principal.role is Role.AGENCY and own != agency.id:
            raise _not_found(agency_id)
        row = await service.get_jurisdiction(session, agency.id)
    if row is None:
        raise _not_found(agency_id)
    return JurisdictionOut.of(row)


@router.delete("/{agency_id}/jurisdiction", status_code=204)
async def delete_jurisdiction(agency_id: str, context: Context, principal: Admin) -> Response:
    """Remove the jurisdiction: the agency may warn anywhere again."""
    async with transaction(context.sessions) as session:
        agency = await _agency(session, agency_id)
        if not await service.clear_jurisdiction(session, agency.id):
            raise _not_found(agency_id)
    return Response(status_code=204)
