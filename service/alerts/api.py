"""HTTP endpoints for alerts: parse the request, call one service function, answer."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from service.alerts import decisions, intake, manager_cancel, repository
from service.alerts.errors import AlertNotFoundError, IntakeError
from service.alerts.models import Alert
from service.alerts.schemas import (
    AlertOut,
    AlertPage,
    CancelBody,
    RejectBody,
    decode_cursor,
    encode_cursor,
)
from service.auth.api import require
from service.auth.models import Role
from service.auth.service import Principal
from service.context import AppContext, get_context
from service.db import transaction, utcnow
from service.problems import Problem
from service.queue.outbox import wake_relay
from service.request_body import read_body

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])

CAP_MEDIA_TYPES = {"application/cap+xml", "application/xml"}
Context = Annotated[AppContext, Depends(get_context)]
Sender = Annotated[Principal, Depends(require(Role.AGENCY))]
Reader = Annotated[Principal, Depends(require(Role.AGENCY, Role.MANAGER, Role.OPERATOR))]
Manager = Annotated[Principal, Depends(require(Role.MANAGER))]


async def ring_relay(context: AppContext, alert_id: str) -> None:
    """Wake a worker's relay for the jobs this request committed (it also polls).

    The alert is already committed: a Redis failure here only delays it.
    """
    if context.queue is None:
        return
    try:
        await wake_relay(context.queue)
    except Exception:
        log.warning("relay wake-up failed; the relay polls", extra={"alert_id": alert_id})


def as_problem(exc: IntakeError) -> Problem:
    """The problem document for a refusal."""
    errors = [{"path": i.path, "message": i.message} for i in exc.errors]
    return Problem(exc.status, exc.kind, exc.title, exc.detail, errors=errors)


async def read_cap_body(request: Request, max_bytes: int) -> tuple[bytes, str]:
    """The request body and its media type, refusing early what cannot be CAP."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in CAP_MEDIA_TYPES:
        raise Problem(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            f"send CAP as application/cap+xml (or application/xml), not '{media_type}'",
        )
    return await read_body(request, max_bytes, _too_large(max_bytes)), media_type


def _too_large(max_bytes: int) -> Problem:
    return Problem(
        413,
        "payload-too-large",
        "Alert too large",
        f"CAP documents are limited to {max_bytes} bytes",
    )


async def _render(session: AsyncSession, context: AppContext, alert: Alert) -> AlertOut:
    references = await repository.referenced_ids(session, alert.id)
    return AlertOut.of(alert, references, context.settings.public_url)


@router.post(
    "",
    status_code=201,
    response_model=AlertOut,
    response_model_by_alias=True,
    responses={200: {"description": "an identical replay of a stored alert"}},
)
async def post_alert(
    request: Request, response: Response, context: Context, principal: Sender
) -> AlertOut:
    """Submit a CAP 1.2 or 1.1 alert (body: the XML, `Content-Type: application/cap+xml`)."""
    content, media_type = await read_cap_body(request, context.settings.max_cap_bytes)
    try:
        document = await _checked(context, principal, content, media_type)
        try:
            outcome, body = await _stored(context, principal, document)
        except IntegrityError:
            # Two posts of one CAP identity at once (a sender retrying): the
            # loser's insert hit the unique identity. Its second pass finds the
            # winner's row and answers as a replay (200) or a conflict (409).
            outcome, body = await _stored(context, principal, document)
    except IntakeError as exc:
        raise as_problem(exc) from exc
    if outcome.created:
        await ring_relay(context, outcome.alert.id)
    response.status_code = 201 if outcome.created else 200
    response.headers["Location"] = body.links["self"]
    return body


async def _checked(
    context: AppContext, principal: Principal, content: bytes, media_type: str
) -> intake.CheckedDocument:
    """Every check needing no write: the document in a thread, its areas in a read.

    Raises:
        IntakeError: the document was refused.
    """
    document = await asyncio.to_thread(
        intake.check_document,
        principal,
        content,
        content_type=media_type,
        max_bytes=context.settings.max_cap_bytes,
    )
    async with transaction(context.readers) as session:
        return await intake.check_areas(session, document)


async def _stored(
    context: AppContext, principal: Principal, document: intake.CheckedDocument
) -> tuple[intake.IntakeOutcome, AlertOut]:
    """One unit of work: store and render, committed together.

    Raises:
        IntakeError: the document was refused (identity conflict, references); nothing stored.
        IntegrityError: another request stored the same CAP identity first.
    """
    async with transaction(context.sessions) as session:
        outcome = await intake.ingest(session, principal, document)
        references = outcome.references
        if references is None:  # a replay: its links are read back
            references = await repository.referenced_ids(session, outcome.alert.id)
    # Rendered after commit: the write lock (SQLite has one) is held for the writes only.
    return outcome, AlertOut.of(outcome.alert, references, context.settings.public_url)


@router.get("", response_model=AlertPage, response_model_by_alias=True)
async def list_alerts(
    context: Context,
    principal: Reader,
    state: str | None = None,
    status: str | None = None,
    sender: str | None = None,
    msg_type: Annotated[str | None, Query(alias="msgType")] = None,
    sent_after: dt.datetime | None = None,
    sent_before: dt.datetime | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> AlertPage:
    """Alerts, newest first, filtered; agencies see their own only."""
    try:
        after = decode_cursor(cursor) if cursor else None
    except (ValueError, TypeError) as exc:
        raise Problem(400, "invalid-cursor", "Invalid cursor", "use next_cursor as given") from exc
    agency_id = principal.agency.id if principal.agency else None
    filters = repository.AlertFilter(
        state, status, sender, msg_type, sent_after, sent_before, agency_id
    )
    async with transaction(context.readers) as session:
        rows = await repository.page(session, filters, limit=limit + 1, after=after)
        items = [await _render(session, context, a) for a in rows[:limit]]
    return AlertPage(
        items=items, next_cursor=encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    )


async def _visible(session: AsyncSession, principal: Principal, alert_id: str) -> Alert:
    alert = await repository.get(session, alert_id)
    if alert is None or (principal.agency and alert.agency_id != principal.agency.id):
        raise as_problem(AlertNotFoundError(f"no alert with id {alert_id}"))
    return alert


@router.get("/{alert_id}", response_model=AlertOut, response_model_by_alias=True)
async def get_alert(alert_id: str, context: Context, principal: Reader) -> AlertOut:
    """One alert with its state, chain and warnings."""
    async with transaction(context.readers) as session:
        return await _render(session, context, await _visible(session, principal, alert_id))


@router.get(
    "/{alert_id}/cap",
    response_class=Response,
    responses={200: {"content": {"application/cap+xml": {}}}},
)
async def get_alert_cap(alert_id: str, context: Context, principal: Reader) -> Response:
    """The original CAP document, byte for byte as it was posted."""
    async with transaction(context.readers) as session:
        alert = await _visible(session, principal, alert_id)
        document = await repository.get_document(session, alert.id)
    assert document is not None  # stored in the same transaction as the alert
    return Response(document.content, media_type="application/cap+xml")


@router.post("/{alert_id}/approve", response_model=AlertOut, response_model_by_alias=True)
async def approve_alert(alert_id: str, context: Context, principal: Manager) -> AlertOut:
    """Approve an alert pending approval (not one submitted with your own key)."""
    try:
        async with transaction(context.sessions) as session:
            alert = await decisions.approve(session, principal, alert_id)
            body = await _render(session, context, alert)
    except IntakeError as exc:
        raise as_problem(exc) from exc
    await ring_relay(context, alert_id)
    return body


@router.post("/{alert_id}/reject", response_model=AlertOut, response_model_by_alias=True)
async def reject_alert(
    alert_id: str, body: RejectBody, context: Context, principal: Manager
) -> AlertOut:
    """Reject an alert pending approval, with a reason."""
    try:
        async with transaction(context.sessions) as session:
            alert = await decisions.reject(session, principal, alert_id, body.reason)
            return await _render(session, context, alert)
    except IntakeError as exc:
        raise as_problem(exc) from exc


@router.post(
    "/{alert_id}/cancel",
    status_code=201,
    response_model=AlertOut,
    response_model_by_alias=True,
)
async def cancel_alert(
    alert_id: str, body: CancelBody, response: Response, context: Context, principal: Manager
) -> AlertOut:
    """Stop a live (or pending) alert at once: Tocsin writes the CAP Cancel on its chain.

    Answers the new Cancel alert (201, `Location`); every live broadcast of the
    chain is killed and SMS not yet sent are stopped, as for a posted Cancel.
    """
    try:
        async with transaction(context.sessions) as session:
            outcome = await manager_cancel.cancel_alert(
                session, principal, alert_id, body.reason, utcnow()
            )
            rendered = await _render(session, context, outcome.alert)
    except IntakeError as exc:
        raise as_problem(exc) from exc
    await ring_relay(context, outcome.alert.id)
    response.headers["Location"] = rendered.links["self"]
    return rendered
