"""RFC 9457 problem details: every error Tocsin returns has this shape."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.db import lost_a_conflict

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
# Problem types are relative URIs that resolve on the API itself: GET /problems/<kind>
# explains the type (docs/api.md has examples of each).
TYPE_BASE = "/problems/"

PROBLEM_TYPES: dict[str, str] = {
    "invalid-cap": "The document is XML but not valid CAP; `errors` names each element at fault.",
    "hostile-xml": "The document uses a construct refused for safety: a DOCTYPE, entities, "
    "XInclude. CAP needs none of them; nothing was fetched or stored.",
    "malformed-xml": "The body is not well-formed XML (truncated, wrong encoding, not XML).",
    "not-cap": "Well-formed XML whose root is not a CAP 1.2 or 1.1 <alert>.",
    "payload-too-large": "The body is larger than the configured limit (TOCSIN_MAX_CAP_BYTES).",
    "unsupported-media-type": "CAP must be sent as application/cap+xml or application/xml.",
    "unauthenticated": "No API key, or an unknown, revoked or malformed one.",
    "forbidden": "The key's role does not allow this operation.",
    "sender-not-allowed": "The CAP <sender> is not one the agency may use, or the key has no "
    "agency, or the alert referenced belongs to another sender.",
    "signature-rejected": "The agency requires a valid XML signature by one of its configured "
    "certificates; the signature is missing, invalid or by someone else.",
    "identity-conflict": "The (sender, identifier, sent) triple was already received with "
    "different content. An identical replay returns 200 instead.",
    "unknown-reference": "An Update or Cancel references an alert Tocsin never received. "
    "Nothing is stored: an unknown reference never becomes a new alert.",
    "ambiguous-reference": "A reference matches more than one stored alert.",
    "chain-conflict": "The Update or Cancel does not fit the chain it references (e.g. a Test "
    "chain cannot continue as Actual).",
    "not-found": "No such resource (or not one your key may see).",
    "invalid-state": "The alert is not in a state that allows this (e.g. approving an alert "
    "that is not pending approval).",
    "self-approval": "Nobody approves or rejects an alert submitted with their own key.",
    "invalid-request": "Query or body parameters are invalid; `errors` names each one.",
    "invalid-cursor": "The pagination cursor was not one the API returned.",
    "method-not-allowed": "The resource exists but not with this HTTP method.",
    "outside-jurisdiction": "An alert area reaches beyond the agency's jurisdiction (plus its "
    "tolerance); `errors` names each such /alert/info[n]/area[m]. Nothing is stored.",
    "area-too-complex": "An info's areas have more polygons or points than the hard limit; "
    "`errors` names the info. Nothing is stored.",
    "operator-exists": "An operator with this id already exists.",
    "invalid-inventory": "The cell file cannot become an inventory: unreadable, no valid cell, "
    "or (strict import) some invalid rows; `errors` gives each row's line. Nothing is stored.",
    "invalid-receipt": "A delivery report that cannot be read (no DLR type, no message "
    "reference, not a JSON list of receipts). Nothing is stored.",
    "unknown-gateway": "The receipt URL names no SMS gateway of that kind in any operator's "
    "channel configuration.",
    "receipt-unauthenticated": "A delivery report without its credentials: no `cid`/`secret` in "
    "the Kannel dlr-url, or no signature headers on a JSON callback.",
    "receipt-forbidden": "A delivery report whose secret or signature is wrong (or whose "
    "timestamp is too old) for the named gateway. Nothing is stored.",
    "receipts-busy": "Too many delivery reports are waiting to be written, or the service is "
    "stopping; retry after `Retry-After` seconds.",
    "callback-unauthenticated": "A CBC's per-cell status callback without a valid signature "
    "(X-Tocsin-Timestamp, X-Tocsin-Signature) by the endpoint's secret, or with a stale "
    "timestamp. Nothing is stored.",
    "unknown-endpoint": "The status callback URL names an operator or JSON CBC endpoint that "
    "is not configured.",
    "write-conflict": "The database aborted this request's transaction to break a lock "
    "conflict with another one. Nothing of it is stored; retry after `Retry-After` seconds.",
    "internal-error": "An unexpected error; quote the correlation id when reporting it.",
}


class Problem(Exception):
    """An error the client can act on, rendered as `application/problem+json`.

    `kind` becomes the type URI (`/problems/<kind>`); each
    kind is documented in docs/api.md. `errors` points at the offending CAP
    element or field: ``[{"path": "/alert/info[1]/urgency", "message": ...}]``.
    """

    def __init__(
        self,
        status: int,
        kind: str,
        title: str,
        detail: str,
        *,
        errors: Sequence[dict[str, str]] = (),
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.title = title
        self.detail = detail
        self.errors = list(errors)
        self.headers = headers or {}
        self.extra = extra

    def body(self, instance: str | None = None) -> dict[str, Any]:
        """The JSON document for this problem."""
        body: dict[str, Any] = {
            "type": TYPE_BASE + self.kind,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


def problem_response(problem: Problem, instance: str | None = None) -> JSONResponse:
    """Render `problem` as a response."""
    return JSONResponse(
        problem.body(instance),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=problem.headers,
    )


def _write_conflict() -> Problem:
    # PostgreSQL rolled the whole transaction back: answering 503 with
    # Retry-After lets the sender post again instead of reading a 500 as lost.
    log.warning("a request lost a lock conflict; asked the client to retry")
    return Problem(
        503,
        "write-conflict",
        "Try again",
        "Another request held what this one needed; nothing was stored.",
        headers={"Retry-After": "1"},
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error path of `app` answer with a problem document."""

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem_response(exc, request.url.path)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "HTTP error")
        kind = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        return problem_response(
            Problem(exc.status_code, kind, title, str(exc.detail)), request.url.path
        )

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"path": "/" + "/".join(str(p) for p in err["loc"]), "message": err["msg"]}
            for err in exc.errors()
        ]
        problem = Problem(
            422, "invalid-request", "Invalid request", "The request is not valid.", errors=errors
        )
        return problem_response(problem, request.url.path)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        if lost_a_conflict(exc):
            return problem_response(_write_conflict(), request.url.path)
        correlation_id = uuid.uuid4().hex
        log.exception("unexpected error", extra={"correlation_id": correlation_id})
        problem = Problem(
            500,
            "internal-error",
            "Internal error",
            "Something went wrong on our side; quote the correlation id.",
            correlation_id=correlation_id,
        )
        return problem_response(problem, request.url.path)

    @app.get("/problems/{kind}", tags=["operations"], include_in_schema=True)
    async def problem_type(kind: str) -> dict[str, str]:
        """What a problem type means (the `type` of every error response points here)."""
        if kind not in PROBLEM_TYPES:
            raise Problem(404, "not-found", "Not found", f"no problem type '{kind}'")
        return {"type": TYPE_BASE + kind, "description": PROBLEM_TYPES[kind]}

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(Exception, on_unexpected)
