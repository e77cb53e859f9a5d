"""An operator's own jobs, for operators who pull rather than take pushed jobs.

Each job is a cell broadcast or location-SMS dispatch of the operator's
(SMS batches to subscribers are Tocsin's own sending, not the operator's
jobs): cell broadcasts carry the exact pages Tocsin would push (built from the
stored alert, as the worker does), location-SMS jobs their texts; the cells
are a page away in the targeting API. An operator acknowledges a job once it
has taken it; that is a receipt, not a way around the push, so a job
acknowledged before it was pushed is still pushed (and a Cancel still finds
the broadcast live and kills it).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from channels.cbs.facts import NotBroadcastable
from service.alerts.models import Alert
from service.dispatch import events, repository
from service.dispatch.content import compose_broadcast, load_cap
from service.dispatch.models import Action, Channel, Dispatch, DispatchState
from service.dispatch.sms_send import location_job
from service.network.channels import ChannelsConfig
from service.network.models import Operator

_ACKNOWLEDGEABLE = {
    DispatchState.PLANNED,
    DispatchState.QUEUED,
    DispatchState.SUBMITTED,
    DispatchState.ACKNOWLEDGED,
}
JOB_CHANNELS = (Channel.CELL_BROADCAST.value, Channel.OPERATOR_SMS.value)


class JobRefused(Exception):
    """An acknowledge that cannot be done: status, problem kind and detail."""

    def __init__(self, status: int, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.kind, self.detail = status, kind, detail


def encode_cursor(dispatch: Dispatch) -> str:
    raw = json.dumps([dispatch.planned_at.isoformat(), dispatch.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, str]:
    """Raises ValueError for anything `encode_cursor` did not make."""
    try:
        planned_at, dispatch_id = json.loads(
            base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        )
        return dt.datetime.fromisoformat(planned_at), str(dispatch_id)
    except (TypeError, ValueError, json.JSONDecodeError) as exc:
        raise ValueError("not a jobs cursor") from exc


async def list_jobs(
    session: AsyncSession,
    operator: Operator,
    *,
    state: str | None,
    limit: int,
    after: tuple[dt.datetime, str] | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """The operator's jobs, oldest first, `limit` at a time; and the cursor for the next page."""
    query = select(Dispatch).where(
        Dispatch.operator_id == operator.id, col(Dispatch.channel).in_(JOB_CHANNELS)
    )
    if state is not None:
        query = query.where(Dispatch.state == state)
    if after is not None:
        planned_at, dispatch_id = after
        query = query.where(
            (col(Dispatch.planned_at) > planned_at)
            | ((col(Dispatch.planned_at) == planned_at) & (col(Dispatch.id) > dispatch_id))
        )
    query = query.order_by(col(Dispatch.planned_at), col(Dispatch.id)).limit(limit + 1)
    rows = list((await session.exec(query)).all())
    page = rows[:limit]
    items = [await _job_view(session, operator, dispatch) for dispatch in page]
    return items, encode_cursor(page[-1]) if len(rows) > limit else None


async def _job_view(
    session: AsyncSession, operator: Operator, dispatch: Dispatch
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": dispatch.id,
        "alert": dispatch.alert_id,
        "channel": dispatch.channel,
        "action": dispatch.action,
        "state": dispatch.state,
        "language": dispatch.language,
        "planned_at": dispatch.planned_at,
        "queued_at": dispatch.queued_at,
        "submitted_at": dispatch.submitted_at,
        "acknowledged_at": dispatch.acknowledged_at,
        "finished_at": dispatch.finished_at,
        "expires_at": dispatch.expires_at,
        "last_error": dispatch.last_error,
        "payload": dispatch.payload,
    }
    if dispatch.channel == Channel.CELL_BROADCAST:
        view["broadcast"] = await _broadcast_content(session, operator, dispatch)
    else:
        view["location_sms"] = await _location_content(session, operator, dispatch)
    view["cells_url"] = f"/api/v1/alerts/{dispatch.alert_id}/targeting"
    return view


async def _location_content(
    session: AsyncSession, operator: Operator, dispatch: Dispatch
) -> dict[str, Any] | None:
    """The location-SMS job as pushed (`sms_send.location_job`); its cells via `cells_url`."""
    settings = ChannelsConfig.model_validate(operator.channels).sms
    alert = await session.get(Alert, dispatch.alert_id)
    targeting = (await repository.targetings(session, dispatch.alert_id)).get(operator.id)
    if settings is None or alert is None or targeting is None:
        return None  # the configuration changed since: nothing to rebuild it from
    cap = await load_cap(session, dispatch.alert_id)
    job = await location_job(session, dispatch, alert, cap, settings)
    return {
        "correlation_id": job.correlation_id,
        "alert_ref": job.alert_ref,
        "texts": dict(job.texts),
        "default_language": job.default_language,
        "expires_at": job.expires_at,
        "cells": len(job.cells),
    }


async def _broadcast_content(
    session: AsyncSession, operator: Operator, dispatch: Dispatch
) -> dict[str, Any]:
    content: dict[str, Any] = {
        "message_identifier": dispatch.message_identifier,
        "message_code": dispatch.message_code,
        "update_number": dispatch.update_number,
        "replaces": dispatch.replaces,
    }
    settings = ChannelsConfig.model_validate(operator.channels).cell_broadcast
    if dispatch.action == Action.KILL or settings is None or dispatch.info_index is None:
        return content  # a kill needs no content: stop the message named above
    cap = await load_cap(session, dispatch.alert_id)
    try:
        message = compose_broadcast(
            cap,
            dispatch.info_index,
            settings.profile,
            message_code=dispatch.message_code or 0,
            update_number=dispatch.update_number or 0,
        )
    except NotBroadcastable as exc:
        return content | {"error": exc.reason}
    return content | {
        "serial_number": message.serial_number.encode(),
        "dcs": message.coding.dcs,
        "pages": [page.content.hex().upper() for page in message.pages],
        "page_lengths": [page.useful_length for page in message.pages],
        "text": message.text,
        "repetition_period_s": settings.repetition_period_s,
    }


async def acknowledge(session: AsyncSession, operator_id: str, dispatch_id: str) -> Dispatch:
    """Mark the operator's job taken (again: a no-op).

    A job not pushed yet keeps its state, so the push still happens and records
    `acknowledged` itself; Tocsin's own view of the broadcast (live, killable)
    must not depend on whether the operator also pulled it.

    Raises:
        JobRefused: not this operator's job (404), or already over (409).
    """
    dispatch = await repository.get_for_update(session, dispatch_id)
    if (
        dispatch is None
        or dispatch.operator_id != operator_id
        or dispatch.channel not in JOB_CHANNELS
    ):
        raise JobRefused(404, "not-found", f"operator '{operator_id}' has no job '{dispatch_id}'")
    if dispatch.state not in _ACKNOWLEDGEABLE:
        detail = f"job '{dispatch_id}' is {dispatch.state}: there is nothing to acknowledge"
        raise JobRefused(409, "invalid-state", detail)
    if dispatch.acknowledge():
        session.add(dispatch)
        events.record(
            session,
            "dispatch.acknowledged",
            alert_id=dispatch.alert_id,
            dispatch=dispatch,
            by="operator",
        )
    return dispatch
