"""`/api/v1/agencies/{id}/all-clear`: read, set and remove an agency's all-clear texts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from service.auth import service as auth
from service.auth.all_clear import AllClearTexts
from service.auth.api import require
from service.auth.models import Agency, Role
from service.auth.service import Principal
from service.context import AppContext, get_context
from service.db import transaction
from service.problems import Problem

router = APIRouter(prefix="/api/v1/agencies", tags=["agencies"])
Context = Annotated[AppContext, Depends(get_context)]
Writer = Annotated[Principal, Depends(require(Role.AGENCY))]
Reader = Annotated[Principal, Depends(require(Role.AGENCY, Role.MANAGER))]


async def _agency(session: Any, agency_id: str, principal: Principal) -> Agency:
    """The agency, if it exists and the caller may see it (an agency key: its own only)."""
    agency = await auth.find_agency(session, agency_id)
    own = principal.agency.id if principal.agency is not None else None
    if agency is None or (principal.role is Role.AGENCY and own != agency.id):
        raise Problem(404, "not-found", "Not found", f"no agency '{agency_id}'")
    return agency


@router.get("/{agency_id}/all-clear", response_model=AllClearTexts)
async def get_all_clear(agency_id: str, context: Context, principal: Reader) -> AllClearTexts:
    """The texts a Cancel from this agency sends by SMS (empty: none is sent)."""
    async with transaction(context.readers) as session:
        agency = await _agency(session, agency_id, principal)
        return AllClearTexts(texts=agency.all_clear)


@router.put("/{agency_id}/all-clear", response_model=AllClearTexts)
async def put_all_clear(
    agency_id: str, body: AllClearTexts, context: Context, principal: Writer
) -> AllClearTexts:
    """Set the texts (the admin, or the agency itself); later Cancels send them."""
    async with transaction(context.sessions) as session:
        agency = await _agency(session, agency_id, principal)
        agency.all_clear = dict(body.texts)
        session.add(agency)
    return body


@router.delete("/{agency_id}/all-clear", status_code=204)
async def delete_all_clear(agency_id: str, context: Context, principal: Writer) -> Response:
    """No all-clear any more: a Cancel only stops the warning."""
    async with transaction(context.sessions) as session:
        agency = await _agency(session, agency_id, principal)
        agency.all_clear = {}
        session.add(agency)
    return Response(status_code=204)
