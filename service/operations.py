"""Operations endpoints: liveness, readiness (database, Redis, workers) and Prometheus metrics."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from sqlalchemy import func, text
from sqlmodel import col, select

from service.alerts.models import Alert
from service.context import AppContext, get_context
from service.db import transaction
from service.dispatch.models import Dispatch
from service.queue.names import Queue
from service.queue.outbox import oldest_unsent_age
from service.worker import HEARTBEAT_KEY

router = APIRouter(tags=["operations"])
Context = Annotated[AppContext, Depends(get_context)]
WORKER_SEEN_S = 30.0


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
    """Prometheus metrics computed from the database and Redis at scrape time."""
    registry = CollectorRegistry()
    alerts = Gauge("tocsin_alerts", "Alerts by state", ["state"], registry=registry)
    dispatches = Gauge(
        "tocsin_dispatches",
        "Dispatches by channel and state",
        ["channel", "state"],
        registry=registry,
    )
    depth = Gauge("tocsin_queue_depth", "Jobs waiting per queue", ["queue"], registry=registry)
    lag = Gauge(
        "tocsin_outbox_lag_seconds", "Age of the oldest unsent outbox row", registry=registry
    )
    latency = Gauge(
        "tocsin_accept_to_submit_seconds",
        "Accept to CBC submit, recent dispatches",
        ["quantile"],
        registry=registry,
    )
    async with transaction(context.readers) as session:
        for state, count in (
            await session.exec(select(Alert.state, func.count()).group_by(col(Alert.state)))
        ).all():
            alerts.labels(state).set(count)
        for channel, state, count in (
            await session.exec(
                select(Dispatch.channel, Dispatch.state, func.count()).group_by(
                    col(Dispatch.channel), col(Dispatch.state)
                )
            )
        ).all():
            dispatches.labels(channel, state).set(count)
        lag.set(await oldest_unsent_age(session))
        recent = (
            await session.exec(
                select(Dispatch.submitted_at, Alert.received_at)
                .join(Alert, col(Alert.id) == col(Dispatch.alert_id))
                .where(col(Dispatch.submitted_at).is_not(None))
                .order_by(col(Dispatch.submitted_at).desc())
                .limit(1000)
            )
        ).all()
        seconds = sorted((s - r).total_seconds() for s, r in recent if s is not None)
        for quantile in (0.5, 0.95, 0.99):
            if seconds:
                latency.labels(str(quantile)).set(seconds[int(quantile * (len(seconds) - 1))])
    if context.queue is not None:
        for queue in Queue:
            depth.labels(queue.value).set(await context.queue.zcard(queue.value))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
