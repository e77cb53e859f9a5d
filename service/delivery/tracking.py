"""Delivery tracking: per alert, what was planned, sent, acknowledged, delivered or failed.

Aggregates are computed from the dispatch and SMS rows on request (indexed by
alert): there is no second copy of the truth to drift.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from channels.cbc import EcbeCbc, GenericHttpCbc
from service.alerts.models import Alert
from service.delivery.cbc_status import TAKEN_STATES
from service.delivery.models import CellStatus, SmsMessage, SmsState
from service.dispatch.models import Channel, Dispatch, DispatchEvent
from service.network.models import Targeting


def _percentiles(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None}
    if len(values) == 1:
        return {"p50": round(values[0], 1), "p95": round(values[0], 1)}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": round(cuts[49], 1), "p95": round(cuts[94], 1)}


def _dispatch_view(dispatch: Dispatch) -> dict[str, Any]:
    return {
        "id": dispatch.id,
        "operator": dispatch.operator_id,
        "channel": dispatch.channel,
        "action": dispatch.action,
        "language": dispatch.language,
        "batch": dispatch.batch_no,
        "state": dispatch.state,
        "attempts": dispatch.attempts,
        "endpoint": dispatch.endpoint,
        "message_identifier": dispatch.message_identifier,
        "message_code": dispatch.message_code,
        "update_number": dispatch.update_number,
        "live": dispatch.live,
        "error": dispatch.last_error,
        "planned_at": dispatch.planned_at,
        "queued_at": dispatch.queued_at,
        "submitted_at": dispatch.submitted_at,
        "finished_at": dispatch.finished_at,
    }


async def delivery_summary(session: AsyncSession, alert: Alert) -> dict[str, Any]:
    """The manager's view of one alert's delivery."""
    dispatches = list(
        (
            await session.exec(
                select(Dispatch)
                .where(Dispatch.alert_id == alert.id)
                .order_by(col(Dispatch.planned_at))
            )
        ).all()
    )
    cells = (
        await session.exec(
            select(func.coalesce(func.sum(Targeting.cell_count), 0)).where(
                Targeting.alert_id == alert.id
            )
        )
    ).one()
    broadcasts = [d for d in dispatches if d.channel == Channel.CELL_BROADCAST]
    cell_counts = await _cells_reported(session, [d for d in broadcasts if d.action != "kill"])
    sms_counts, sms_latency = await _sms(session, alert.id)
    accept_to_submit = [
        (d.submitted_at - alert.received_at).total_seconds() * 1000
        for d in dispatches
        if d.submitted_at is not None and d.action != "kill"
    ]
    return {
        "alert": alert.id,
        "state": alert.state,
        "cells": {"targeted": int(cells), **cell_counts},
        "sms": sms_counts,
        "latency_ms": {
            "accept_to_submit": _percentiles(accept_to_submit),
            "submit_to_delivered": _percentiles(sms_latency),
        },
        "dispatches": [_dispatch_view(d) for d in dispatches],
    }


_CALLBACKS = {cbc.kind: cbc.capabilities.status_callbacks for cbc in (EcbeCbc, GenericHttpCbc)}


def _cells_of(dispatch: Dispatch) -> int:
    return int(dispatch.payload.get("cells", 0)) if dispatch.payload else 0


async def _cells_reported(session: AsyncSession, broadcasts: Sequence[Dispatch]) -> dict[str, int]:
    """Cells acknowledged (taken or broadcasting) and failed, per the CBCs' per-cell reports.

    A CBC that reports no cell states (osmo-cbc) acknowledges a job as a
    whole: its accepted broadcasts count all their cells as acknowledged. One
    that does report (the JSON API) counts only the cells it reported: until
    its first callback, none.
    """
    submitted = [d for d in broadcasts if d.submitted_at is not None]
    ids = [d.id for d in submitted]
    reported: dict[str, Counter[str]] = {}
    if ids:
        query = (
            select(CellStatus.dispatch_id, CellStatus.status, func.count())
            .where(col(CellStatus.dispatch_id).in_(ids))
            .group_by(col(CellStatus.dispatch_id), col(CellStatus.status))
        )
        for dispatch_id, status, count in (await session.exec(query)).all():
            reported.setdefault(dispatch_id, Counter())[status] += int(count)
    acknowledged = failed = 0
    for dispatch in submitted:
        states = reported.get(dispatch.id)
        if states is None:
            acknowledged += 0 if _reports_cells(dispatch) else _cells_of(dispatch)
            continue
        acknowledged += sum(states[state] for state in TAKEN_STATES)
        failed += states["failed"]
    return {"acknowledged": acknowledged, "failed": failed}


def _reports_cells(dispatch: Dispatch) -> bool:
    """Whether the CBC that took the broadcast sends per-cell status (its kind is in `result`)."""
    return _CALLBACKS.get(str(dispatch.result.get("cbc")), False)


async def _sms(session: AsyncSession, alert_id: str) -> tuple[dict[str, int], list[float]]:
    rows = (
        await session.exec(
            select(SmsMessage.state, func.count())
            .where(SmsMessage.alert_id == alert_id)
            .group_by(col(SmsMessage.state))
        )
    ).all()
    by_state: Counter[str] = Counter({state: int(count) for state, count in rows})
    total = sum(by_state.values())
    delivered = (
        await session.exec(
            select(SmsMessage.submitted_at, SmsMessage.final_at)
            .where(
                SmsMessage.alert_id == alert_id,
                SmsMessage.state == SmsState.DELIVERED.value,
            )
            .limit(20000)
        )
    ).all()
    latency = [
        (f - s).total_seconds() * 1000 for s, f in delivered if s is not None and f is not None
    ]
    counts = {
        "total": total,
        "submitted": by_state[SmsState.SUBMITTED.value],
        "delivered": by_state[SmsState.DELIVERED.value],
        "failed": by_state[SmsState.FAILED.value] + by_state[SmsState.EXPIRED.value],
        "cancelled": by_state[SmsState.CANCELLED.value],
        "unknown": by_state[SmsState.UNKNOWN.value],
        # Not yet accepted by a gateway (submitted ones await their delivery report).
        "pending": by_state[SmsState.QUEUED.value] + by_state[SmsState.SENDING.value],
    }
    return counts, latency


async def events_after(
    session: AsyncSession, after: int, alert_id: str | None = None, limit: int = 500
) -> list[DispatchEvent]:
    """Events with an id above `after` (optionally one alert's), oldest first."""
    query = select(DispatchEvent).where(col(DispatchEvent.id) > after)
    if alert_id is not None:
        query = query.where(DispatchEvent.alert_id == alert_id)
    return list((await session.exec(query.order_by(col(DispatchEvent.id)).limit(limit))).all())
