"""`POST /api/v1/cbc/status/{operator}/{endpoint}`: per-cell status callbacks from a JSON CBC.

No API key: the CBC signs with the secret configured for its endpoint,
exactly as Tocsin signs the jobs it sends there (docs/operators.md).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from service.context import AppContext, get_context
from service.delivery.cbc_status import StatusRefused, ingest_status
from service.problems import Problem
from service.request_body import read_body

router = APIRouter(prefix="/api/v1/cbc", tags=["delivery"])
Context = Annotated[AppContext, Depends(get_context)]
MAX_BODY_BYTES = 16 * 1024 * 1024  # 65,535 cells of status in one callback fit


@router.post("/status/{operator_id}/{endpoint}")
async def cbc_status(
    operator_id: str, endpoint: str, request: Request, context: Context
) -> dict[str, Any]:
    """Store the cells' states; a job that is not ours is acknowledged and ignored."""
    body = await read_body(request, MAX_BODY_BYTES)
    try:
        summary = await ingest_status(context, operator_id, endpoint, request.headers, body)
    except StatusRefused as exc:
        raise Problem(exc.status, exc.kind, exc.title, exc.detail) from None
    return asdict(summary)
