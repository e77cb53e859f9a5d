"""`/api/v1/operators/{id}/jobs`: an operator sees and acknowledges its own jobs (pull mode)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from service.auth.api import require
from service.auth.models import Role
from service.auth.service import Principal
from service.context import AppContext, get_context
from service.db import transaction
from service.delivery.operator_jobs import JobRefused, acknowledge, decode_cursor, list_jobs
from service.dispatch.models import DispatchState
from service.network.models import Operator
from service.problems import Problem

router = APIRouter(prefix="/api/v1/operators", tags=["operators"])
Context = Annotated[AppContext, Depends(get_context)]
Reader = Annotated[Principal, Depends(require(Role.OPERATOR, Role.MANAGER))]
OperatorKey = Annotated[Principal, Depends(require(Role.OPERATOR))]


def _operator_scope(principal: Principal, operator_id: str) -> None:
    """An operator key sees its own operator only; others do not learn it exists."""
    if principal.role is Role.OPERATOR and principal.operator_id != operator_id:
        raise Problem(404, "not-found", "Operator not found", f"no operator '{operator_id}'")


@router.get("/{operator_id}/jobs")
async def get_jobs(
    operator_id: str,
    context: Context,
    principal: Reader,
    state: Annotated[DispatchState | None, Query(description="only jobs in this state")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """The operator's jobs, oldest first, with their content, state and timestamps."""
    _operator_scope(principal, operator_id)
    try:
        after = decode_cursor(cursor) if cursor else None
    except ValueError as exc:
        raise Problem(400, "invalid-cursor", "Invalid cursor", "use next_cursor as given") from exc
    async with transaction(context.readers) as session:
        operator = await session.get(Operator, operator_id)
        if operator is None:
            raise Problem(404, "not-found", "Operator not found", f"no operator '{operator_id}'")
        items, next_cursor = await list_jobs(
            session, operator, state=state.value if state else None, limit=limit, after=after
        )
    return {"items": items, "next_cursor": next_cursor}


@router.post("/{operator_id}/jobs/{dispatch_id}/acknowledge")
async def acknowledge_job(
    operator_id: str, dispatch_id: str, context: Context, principal: OperatorKey
) -> dict[str, Any]:
    """Say the job is taken; repeating it changes nothing."""
    _operator_scope(principal, operator_id)
    try:
        async with transaction(context.sessions) as session:
            dispatch = await acknowledge(session, operator_id, dispatch_id)
            return {
                "id": dispatch.id,
                "state": dispatch.state,
                "acknowledged_at": dispatch.acknowledged_at,
            }
    except JobRefused as exc:
        title = "Not found" if exc.status == 404 else "Invalid state"
        raise Problem(exc.status, exc.kind, title, exc.detail) from None
