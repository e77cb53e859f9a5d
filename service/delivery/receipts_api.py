"""Delivery-report endpoints for SMS gateways: HTTP only, authenticated by the gateway's secret.

No API key: gateways authenticate with what we configured for them (the
Kannel dlr-url secret, the JSON gateway's HMAC signature).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request

from channels.sms.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER
from service.context import AppContext, get_context
from service.delivery.receipts import ReceiptRefused, ingest_http, ingest_kannel
from service.problems import Problem
from service.request_body import read_body

router = APIRouter(prefix="/api/v1/receipts", tags=["delivery"])
Context = Annotated[AppContext, Depends(get_context)]
# 1,000 receipts with their raw text stay far below this.
MAX_BODY_BYTES = 4 * 1024 * 1024
_FORM = "application/x-www-form-urlencoded"


def _problem(exc: ReceiptRefused) -> Problem:
    headers = {"Retry-After": "1"} if exc.status == 503 else None
    return Problem(exc.status, exc.kind, exc.title, exc.detail, headers=headers)


@router.api_route("/kannel/{gateway}", methods=["GET", "POST"])
async def kannel_receipt(gateway: str, request: Request, context: Context) -> dict[str, Any]:
    """A Kannel DLR: our dlr-url with Kannel's %-escapes filled in (form fields for POST)."""
    params = dict(request.query_params)
    if request.method == "POST" and request.headers.get("content-type", "").startswith(_FORM):
        form = (await read_body(request, MAX_BODY_BYTES)).decode("utf-8", errors="replace")
        params.update(parse_qsl(form, keep_blank_values=True))
    try:
        summary = await ingest_kannel(context, gateway, params)
    except ReceiptRefused as exc:
        raise _problem(exc) from None
    return asdict(summary)


@router.post("/http/{gateway}")
async def http_receipts(gateway: str, request: Request, context: Context) -> dict[str, Any]:
    """The JSON gateway's signed receipt callback (a JSON list, docs/sms.md)."""
    body = await read_body(request, MAX_BODY_BYTES)
    try:
        summary = await ingest_http(
            context,
            gateway,
            body,
            timestamp=request.headers.get(TIMESTAMP_HEADER),
            signature=request.headers.get(SIGNATURE_HEADER),
        )
    except ReceiptRefused as exc:
        raise _problem(exc) from None
    return asdict(summary)
