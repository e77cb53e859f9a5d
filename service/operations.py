"""Operations endpoints: liveness, readiness (database, Redis, workers) and Prometheus metrics."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import func, text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.alerts.models import Alert
from service.context import AppContext, get_context
from service.db import transaction
from service.delivery.models import SmsMessage
from service.dispatch.broadcast import ENDPOINT_ERROR_EVENT
from service.dispatch.models import Action, Channel, Dispatch, DispatchEvent
from service.queue.names import Queue
from service.queue.outbox import oldest_unsent_age
from service.worker import HEARTBEAT_KEY

router = APIRouter(tags=["operations"])
Context = Annotated[AppContext, Depends(get_context)]
WORKER_SEEN_S = 30.0
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 10.0, 30.0, 60.0, 300.0)
# A cell broadcast attempt may fail over from CBC to CBC: each CBC's error is its own event,
# and its `dispatch.retrying` (all of them failed) is not counted again. SMS attempts use one
# gateway each, so their `dispatch.retrying` is that gateway's error.
_ERROR_EVENTS = {
    ENDPOINT_ERROR_EVENT: "transient",
    "dispatch.retrying": "transient",
    "dispatch.failed": "final",
}


@router.get("/readyz")
async def readyz(context: Context, response: Response) -> dict[str, Any]:
    """Ready when the database answers, Redis answers and a worker was seen lately."""
    checks: dict[str, Any] = {}
    try:
        async with transaction(context.readers) as session:
            await session.exec(select(text("1")))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {exc}"
    checks["redis"], checks["workers"] = await _redis_and_workers(context)
    ready = checks["database"] == "ok" and checks["redis"] == "ok" and bool(checks["workers"])
    response.status_code = 200 if ready else 503
    return {"status": "ready" if ready else "not ready", "checks": checks}


async def _redis_and_workers(context: AppContext) -> tuple[str, list[str]]:
    if context.queue is None:
        return "not configured", []
    try:
        beats = await context.queue.hgetall(HEARTBEAT_KEY)
    except Exception as exc:
        return f"error: {exc}", []
    now = time.time()
    seen = [name.decode() for name, at in beats.items() if now - float(at) < WORKER_SEEN_S]
    return "ok", seen


@router.get("/metrics")
async def metrics(context: Context) -> Response:
    """Prometheus metrics computed from the database and Redis at scrape time.

    Everything is derived from stored state rather than in-process counters,
    so any API replica answers the same, and a restart loses nothing.
    """
    registry = CollectorRegistry()
    families: list[Metric] = []
    async with transaction(context.readers) as session:
        families.append(await _alerts_by_state(session))
        families.append(await _dispatches_by_state(session))
        families.append(await _channel_errors(session))
        families.append(await _sms_by_state(session))
        families.append(await _accept_to_submit(session))
        lag = GaugeMetricFamily("tocsin_outbox_lag_seconds", "Age of the oldest unsent outbox row")
        lag.add_metric([], await oldest_unsent_age(session))
        families.append(lag)
    if context.queue is not None:
        depth = GaugeMetricFamily("tocsin_queue_depth", "Jobs waiting per queue", labels=["queue"])
        for queue in Queue:
            depth.add_metric([queue.value], await context.queue.zcard(queue.value))
        families.append(depth)
    registry.register(_Families(families))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


class _Families(Collector):
    """Hands prometheus_client the families computed for this scrape."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


async def _alerts_by_state(session: AsyncSession) -> Metric:
    family = GaugeMetricFamily("tocsin_alerts", "Alerts by state", labels=["state"])
    rows = await session.exec(select(Alert.state, func.count()).group_by(col(Alert.state)))
    for state, count in rows.all():
        family.add_metric([state], count)
    return family


async def _dispatches_by_state(session: AsyncSession) -> Metric:
    family = GaugeMetricFamily(
        "tocsin_dispatches", "Dispatches by channel and state", labels=["channel", "state"]
    )
    query = select(Dispatch.channel, Dispatch.state, func.count()).group_by(
        col(Dispatch.channel), col(Dispatch.state)
    )
    for channel, state, count in (await session.exec(query)).all():
        family.add_metric([channel, state], count)
    return family


async def _channel_errors(session: AsyncSession) -> Metric:
    """CBC and gateway errors: `transient` and `final` (the dispatch failed).

    `transient` counts each endpoint's timeout, refusal or 5xx, also when failover
    to the next CBC or a later attempt made up for it.
    """
    family = CounterMetricFamily(
        "tocsin_channel_errors",
        "Channel errors by channel, operator and kind",
        labels=["channel", "operator", "kind"],
    )
    query = (
        select(Dispatch.channel, DispatchEvent.operator_id, DispatchEvent.kind, func.count())
        .join(Dispatch, col(Dispatch.id) == col(DispatchEvent.dispatch_id))
        .where(col(DispatchEvent.kind).in_(list(_ERROR_EVENTS)))
        .group_by(col(Dispatch.channel), col(DispatchEvent.operator_id), col(DispatchEvent.kind))
    )
    totals: dict[tuple[str, str, str], int] = {}
    for channel, operator, kind, count in (await session.exec(query)).all():
        if kind == "dispatch.retrying" and channel == Channel.CELL_BROADCAST:
            continue  # its CBCs' errors are counted one by one (endpoint-error)
        key = (channel, operator or "", _ERROR_EVENTS[kind])
        totals[key] = totals.get(key, 0) + count
    for labels, count in totals.items():
        family.add_metric(list(labels), count)
    return family


async def _sms_by_state(session: AsyncSession) -> Metric:
    family = GaugeMetricFamily("tocsin_sms_messages", "SMS recipients by state", labels=["state"])
    query = select(SmsMessage.state, func.count()).group_by(col(SmsMessage.state))
    for state, count in (await session.exec(query)).all():
        family.add_metric([state], count)
    return family


async def _accept_to_submit(session: AsyncSession) -> Metric:
    """Histogram of accept -> first submission to a CBC or gateway, over every dispatch sent."""
    query = (
        select(Dispatch.submitted_at, Alert.received_at)
        .join(Alert, col(Alert.id) == col(Dispatch.alert_id))
        .where(col(Dispatch.submitted_at).is_not(None), Dispatch.action != Action.KILL.value)
    )
    seconds = [(s - r).total_seconds() for s, r in (await session.exec(query)).all() if s]
    cumulative = [
        (str(bound), sum(1 for value in seconds if value <= bound)) for bound in LATENCY_BUCKETS
    ]
    cumulative.append(("+Inf", len(seconds)))
    family = HistogramMetricFamily(
        "tocsin_dispatch_accept_to_submit_seconds",
        "Alert accepted to its dispatch submitted to the CBC or gateway",
    )
    family.add_metric([], cumulative, sum(seconds))
    return family
