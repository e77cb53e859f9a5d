"""Delivery tracking: per alert, what was planned, sent, acknowledged, delivered or failed.

Aggregates are computed from the dispatch and SMS rows on request (indexed by
alert): there is no second copy of the truth to drift.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
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
        "acknowledged_at": dispatch.acknowledged_at,
        "finished_at": dispatch.finished_at,
    }


async def delivery_summary(session: AsyncSession, alert: Alert) -> dict[str, Any]:
    """The manager's view of one alert's delivery: the whole, each operator, every dispatch."""
    dispatches = list(
        (
            await session.exec(
                select(Dispatch)
                .where(Dispatch.alert_id == alert.id)
                .order_by(col(Dispatch.planned_at))
            )
        ).all()
    )
    targeted = dict(
        (
            await session.exec(
                select(Targeting.operator_id, Targeting.cell_count).where(
                    Targeting.alert_id == alert.id
                )
            )
        ).all()
    )
    sms_by_operator, sms_latency = await _sms(session, alert.id)
    operators = sorted(set(targeted) | set(sms_by_operator) | {d.operator_id for d in dispatches})
    cells = {
        operator: {
            "targeted": int(targeted.get(operator) or 0),
            **await _cells_reported(session, _broadcasts(dispatches, operator)),
        }
        for operator in operators
    }
    sms = {o: _sms_counts(sms_by_operator.get(o, Counter())) for o in operators}
    accept_to_submit = [
        (d.submitted_at - alert.received_at).total_seconds() * 1000
        for d in dispatches
        if d.submitted_at is not None and d.action != "kill"
    ]
    return {
        "alert": alert.id,
        "state": alert.state,
        "cells": _sum(cells.values(), ("targeted", "acknowledged", "failed")),
        "sms": _sum(sms.values(), tuple(_sms_counts(Counter()))),
        "latency_ms": {
            "accept_to_submit": _percentiles(accept_to_submit),
            "submit_to_delivered": _percentiles(sms_latency),
        },
        "operators": [{"operator": o, "cells": cells[o], "sms": sms[o]} for o in operators],
        "dispatches": [_dispatch_view(d) for d in dispatches],
    }


def _broadcasts(dispatches: Sequence[Dispatch], operator: str) -> list[Dispatch]:
    return [
        d
        for d in dispatches
        if d.operator_id == operator and d.channel == Channel.CELL_BROADCAST and d.action != "kill"
    ]


def _sum(rows: Iterable[dict[str, int]], keys: tuple[str, ...]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for row in rows:
        total.update(row)
    return {key: total[key] for key in keys}


_CALLBACKS = {cbc.kind: cbc.capabilities.status_callbacks for cbc in (EcbeCbc, GenericHttpCbc)}


def _cells_of(dispatch: Dispatch) -> int:
    return int(dispatch.payload.get("cells", 0)) if dispatch.payload else 0


async def _cells_reported(session: AsyncSession, broadcasts: Sequence[Dispatch]) -> dict[str, int]:
    """One operator's cells with the warning on air, and cells that failed, each counted once.

    An operator gets one broadcast per language over the same cells: a cell
    counts as acknowledged once any of them is taken there. A CBC that
    reports no cell states (osmo-cbc) acknowledges a job as a whole: its
    accepted broadcasts count all their cells. One that does report (the
    JSON API) counts only the cells it reported: until its first callback,
    none. A failed cell is one that failed and is on air in no broadcast.
    """
    submitted = [d for d in broadcasts if d.submitted_at is not None]
    whole_jobs = [_cells_of(d) for d in submitted if not _reports_cells(d)]
    reporting = [d.id for d in submitted if _reports_cells(d)]
    taken = failed = 0
    if reporting:
        taken, failed = await _count_cells(session, reporting)
    acknowledged = max([taken, *whole_jobs])
    return {"acknowledged": acknowledged, "failed": failed if not whole_jobs else 0}


async def _count_cells(session: AsyncSession, reporting: Sequence[str]) -> tuple[int, int]:
    """Distinct cells taken in any of `reporting`, and failed cells taken in none of them.

    Counted by the database: a national alert in two languages has some
    130,000 status rows, and the summary is read at every dashboard refresh.
    """
    mine = col(CellStatus.dispatch_id).in_(list(reporting))
    is_taken = col(CellStatus.status).in_(sorted(TAKEN_STATES))
    taken_cells = select(CellStatus.cell_id).where(mine, is_taken)
    distinct_cells = func.count(func.distinct(CellStatus.cell_id))
    taken = (await session.exec(select(distinct_cells).where(mine, is_taken))).one()
    failed = (
        await session.exec(
            select(distinct_cells).where(
                mine,
                col(CellStatus.status).not_in(sorted(TAKEN_STATES)),
                col(CellStatus.cell_id).not_in(taken_cells),
            )
        )
    ).one()
    return int(taken), int(failed)


def _reports_cells(dispatch: Dispatch) -> bool:
    """Whether the CBC that took the broadcast sends per-cell status (its kind is in `result`)."""
    return _CALLBACKS.get(str(dispatch.result.get("cbc")), False)


async def _sms(session: AsyncSession, alert_id: str) -> tuple[dict[str, Counter[str]], list[float]]:
    """SMS rows by operator and state, and a sample of submit-to-delivered times (ms)."""
    rows = (
        await session.exec(
            select(SmsMessage.operator_id, SmsMessage.state, func.count())
            .where(SmsMessage.alert_id == alert_id)
            .group_by(col(SmsMessage.operator_id), col(SmsMessage.state))
        )
    ).all()
    by_operator: dict[str, Counter[str]] = {}
    for operator, state, count in rows:
        by_operator.setdefault(operator, Counter())[state] += int(count)
    delivered = (
        await session.exec(
            select(SmsMessage.submitted_at, SmsMessage.final_at)
            .where(
                SmsMessage.alert_id == alert_id,
                SmsMessage.state == SmsState.DELIVERED.value,
            )
            .order_by(col(SmsMessage.id))
            .limit(20000)
        )
    ).all()
    latency = [
        (f - s).total_seconds() * 1000 for s, f in delivered if s is not None and f is not None
    ]
    return by_operator, latency


def _sms_counts(by_state: Counter[str]) -> dict[str, int]:
    return {
        "total": sum(by_state.values()),
        "submitted": by_state[SmsState.SUBMITTED.value],
        "delivered": by_state[SmsState.DELIVERED.value],
        "failed": by_state[SmsState.FAILED.value] + by_state[SmsState.EXPIRED.value],
        "cancelled": by_state[SmsState.CANCELLED.value],
        "unknown": by_state[SmsState.UNKNOWN.value],
        # Not yet accepted by a gateway (submitted ones await their delivery report).
        "pending": by_state[SmsState.QUEUED.value] + by_state[SmsState.SENDING.value],
    }


async def events_after(
    session: AsyncSession, after: int, alert_id: str | None = None, limit: int = 500
) -> list[DispatchEvent]:
    """Events with an id above `after` (optionally one alert's), oldest first."""
    query = select(DispatchEvent).where(col(DispatchEvent.id) > after)
    if alert_id is not None:
        query = query.where(DispatchEvent.alert_id == alert_id)
    return list((await session.exec(query.order_by(col(DispatchEvent.id)).limit(limit))).all())
