"""HTTP endpoints for operators and their cell inventories."""

from __future__ import annotations

import asyncio
import tempfile
from typing import Annotated, BinaryIO, cast

from fastapi import APIRouter, Depends, Query, Request

from service.auth.api import require
from service.auth.models import Role
from service.auth.service import Principal
from service.context import AppContext, get_context
from service.db import transaction
from service.network import service
from service.network.errors import InventoryRejectedError, InventoryTooLargeError, NetworkError
from service.network.inventory import CellFormat, PreparedInventory, prepare_inventory
from service.network.models import CellInventory
from service.network.schemas import (
    ImportOut,
    InventoryOut,
    OperatorIn,
    OperatorOut,
    RowErrorOut,
)
from service.problems import Problem

router = APIRouter(prefix="/api/v1/operators", tags=["operators"])

Context = Annotated[AppContext, Depends(get_context)]
Admin = Annotated[Principal, Depends(require())]
Reader = Annotated[Principal, Depends(require(Role.MANAGER, Role.OPERATOR))]
OperatorKey = Annotated[Principal, Depends(require(Role.OPERATOR))]

MAX_INVENTORY_BYTES = 1 << 30  # a national CSV is ~80 MB; this bounds a runaway upload
_IN_MEMORY_BYTES = 16 << 20
_MEDIA_FORMATS = {
    "text/csv": CellFormat.CSV,
    "application/csv": CellFormat.CSV,
    "application/geo+json": CellFormat.GEOJSON,
    "application/json": CellFormat.GEOJSON,
}


def as_problem(exc: NetworkError) -> Problem:
    """The problem document for a refusal."""
    # Row errors carry an integer `line` (JSON numbers); field errors a `path`.
    errors = cast(list[dict[str, str]], exc.errors)
    return Problem(exc.status, exc.kind, exc.title, exc.detail, errors=errors)


def _forbid_unless_manages(principal: Principal, operator_id: str) -> None:
    if not service.may_manage(principal, operator_id):
        raise Problem(
            403, "forbidden", "Not allowed", f"your key may not manage operator '{operator_id}'"
        )


def _visible_to(principal: Principal, operator_id: str) -> None:
    if principal.role is Role.OPERATOR and principal.operator_id != operator_id:
        raise Problem(
            404, "not-found", "Operator not found", f"no operator with id '{operator_id}'"
        )


@router.post("", status_code=201, response_model=OperatorOut)
async def create_operator(body: OperatorIn, context: Context, principal: Admin) -> OperatorOut:
    """Register a mobile network operator (admin)."""
    try:
        async with transaction(context.sessions) as session:
            operator = await service.create_operator(
                session,
                operator_id=body.id,
                name=body.name,
                mcc=body.mcc,
                mnc=body.mnc,
                country=body.country,
            )
            return OperatorOut.of(operator)
    except NetworkError as exc:
        raise as_problem(exc) from exc


@router.get("", response_model=list[OperatorOut])
async def list_operators(context: Context, principal: Reader) -> list[OperatorOut]:
    """Every operator (an operator key sees its own)."""
    async with transaction(context.readers) as session:
        operators = await service.list_operators(session)
    if principal.role is Role.OPERATOR:
        operators = [o for o in operators if o.id == principal.operator_id]
    return [OperatorOut.of(o) for o in operators]


@router.get("/{operator_id}", response_model=OperatorOut)
async def get_operator(operator_id: str, context: Context, principal: Reader) -> OperatorOut:
    """One operator."""
    _visible_to(principal, operator_id)
    try:
        async with transaction(context.readers) as session:
            return OperatorOut.of(await service.get_operator(session, operator_id))
    except NetworkError as exc:
        raise as_problem(exc) from exc


@router.get("/{operator_id}/cells", response_model=InventoryOut)
async def get_inventory(operator_id: str, context: Context, principal: Reader) -> InventoryOut:
    """The cell inventory in force: version, counts by technology, rejected rows."""
    _visible_to(principal, operator_id)
    try:
        async with transaction(context.readers) as session:
            inventory = await service.current_inventory(session, operator_id)
    except NetworkError as exc:
        raise as_problem(exc) from exc
    return InventoryOut.of(operator_id, inventory)


def _format_of(request: Request, given: CellFormat | None) -> CellFormat:
    if given is not None:
        return given
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type in _MEDIA_FORMATS:
        return _MEDIA_FORMATS[media_type]
    raise Problem(
        415,
        "unsupported-media-type",
        "Unsupported media type",
        "send text/csv or application/geo+json, or name the format with "
        "?format=csv|geojson|opencellid",
    )


async def _spool(request: Request) -> BinaryIO:
    """The body in a temporary file (memory first), refusing it past the size limit."""
    spooled = tempfile.SpooledTemporaryFile(max_size=_IN_MEMORY_BYTES)  # noqa: SIM115
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_INVENTORY_BYTES:
            spooled.close()
            raise as_problem(
                InventoryTooLargeError(f"inventories are limited to {MAX_INVENTORY_BYTES} bytes")
            )
        spooled.write(chunk)
    spooled.seek(0)
    return spooled  # type: ignore[return-value]


@router.put("/{operator_id}/cells", response_model=ImportOut)
async def put_inventory(
    operator_id: str,
    request: Request,
    context: Context,
    principal: OperatorKey,
    format: Annotated[CellFormat | None, Query(description="overrides Content-Type")] = None,
    strict: Annotated[bool, Query(description="refuse the file if any row is bad")] = False,
) -> ImportOut:
    """Replace the operator's cells with the body, atomically, as a new version."""
    _forbid_unless_manages(principal, operator_id)
    fmt = _format_of(request, format)
    try:
        async with transaction(context.readers) as session:
            await service.get_operator(session, operator_id)
        body = await _spool(request)
        try:
            # Parsing a national file takes seconds: off the event loop, outside any transaction.
            prepared = await asyncio.to_thread(prepare_inventory, body, fmt, strict=strict)
        finally:
            body.close()
        async with transaction(context.sessions) as session:
            inventory = await service.store_inventory(
                session, operator_id, prepared, source=f"api:{principal.name}"
            )
    except (NetworkError, InventoryRejectedError) as exc:
        raise as_problem(exc) from exc
    return _import_out(operator_id, inventory, prepared)


def _import_out(
    operator_id: str, inventory: CellInventory, prepared: PreparedInventory
) -> ImportOut:
    summary = InventoryOut.of(operator_id, inventory)
    return ImportOut(
        **summary.model_dump(),
        rows=prepared.rows,
        accepted=prepared.accepted,
        rejected=prepared.rejected,
        errors=[RowErrorOut(line=e.line, message=e.message) for e in prepared.errors],
    )
