"""Operations endpoints against a real worker and Redis: readiness and Prometheus metrics."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from channels.simulators.cbc import CbcSimulator
from service.context import AppContext
from service.worker import running_worker
from tests.dispatch.conftest import channels_for, make_network
from tests.dispatch.test_dispatch_e2e import FAR, NAIROBI_POLYGON, _active, eventually, post
from tests.service.capdocs import cap_alert
from tests.service.conftest import Keys

pytestmark = pytest.mark.timeout(90)


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a Prometheus exposition, keyed by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_ready_only_once_a_worker_is_seen(
    app_context: AppContext, api: httpx.AsyncClient
) -> None:
    assert (await api.get("/healthz")).status_code == 200
    before = await api.get("/readyz")
    assert before.status_code == 503
    assert before.json()["checks"] == {"database": "ok", "redis": "ok", "workers": []}
    async with running_worker(app_context, "w-ready"):
        ready = await eventually(lambda: _ready(api), timeout=10)
    assert ready["checks"]["workers"] == ["w-ready"]


async def _ready(api: httpx.AsyncClient) -> dict[str, object] | None:
    response = await api.get("/readyz")
    return dict(response.json()) if response.status_code == 200 else None


async def test_metrics_count_alerts_latency_and_channel_errors(
    app_context: AppContext, api: httpx.AsyncClient, keys: Keys, cbc_sim: CbcSimulator
) -> None:
    cbc_sim.fail_next(2, status=503)  # two transient errors before the CBC takes it
    await make_network(app_context, "metered", channels_for([cbc_sim.base_url], None))
    async with running_worker(app_context):
        alert = await post(api, keys, cap_alert("m-1", expires=FAR, polygon=NAIROBI_POLYGON))
        await eventually(lambda: _active(api, keys, alert["id"]), timeout=60)
    response = await api.get("/metrics")
    assert response.status_code == 200
    values = samples(response.text)
    assert values[("tocsin_alerts", frozenset({("state", "active")}))] == 1
    submitted = frozenset({("channel", "cbs"), ("state", "submitted")})
    assert values[("tocsin_dispatches", submitted)] == 1
    errors = frozenset({("channel", "cbs"), ("operator", "metered"), ("kind", "transient")})
    assert values[("tocsin_channel_errors_total", errors)] == 2  # one per refused request
    final = frozenset({("channel", "cbs"), ("operator", "metered"), ("kind", "final")})
    assert final not in {labels for name, labels in values if name == "tocsin_channel_errors_total"}
    assert values[("tocsin_dispatch_accept_to_submit_seconds_count", frozenset())] == 1
    within_a_minute = frozenset({("le", "60.0")})
    assert values[("tocsin_dispatch_accept_to_submit_seconds_bucket", within_a_minute)] == 1
    assert values[("tocsin_outbox_lag_seconds", frozenset())] == 0
    assert ("tocsin_queue_depth", frozenset({("queue", "tocsin:cbs")})) in values


async def test_an_error_absorbed_by_failover_is_still_counted(
    app_context: AppContext,
    api: httpx.AsyncClient,
    keys: Keys,
    cbc_sim: CbcSimulator,
    cbc_backup: CbcSimulator,
) -> None:
    """The primary refuses (503), the secondary takes it in the same attempt: one error."""
    from sqlmodel import select

    from service.db import transaction
    from service.dispatch.models import DispatchEvent

    cbc_sim.fail_next(1, status=503)
    channels = channels_for([cbc_sim.base_url, cbc_backup.base_url], None)
    await make_network(app_context, "failover", channels)
    async with running_worker(app_context):
        alert = await post(api, keys, cap_alert("m-2", expires=FAR, polygon=NAIROBI_POLYGON))
        summary = await eventually(lambda: _active(api, keys, alert["id"]), timeout=30)
    (dispatch,) = summary["dispatches"]
    assert (dispatch["endpoint"], dispatch["attempts"]) == ("cbc2", 1)  # no retry was needed
    values = samples((await api.get("/metrics")).text)
    errors = frozenset({("channel", "cbs"), ("operator", "failover"), ("kind", "transient")})
    assert values[("tocsin_channel_errors_total", errors)] == 1
    async with transaction(app_context.readers) as session:
        events = (
            await session.exec(
                select(DispatchEvent).where(DispatchEvent.kind == "dispatch.endpoint-error")
            )
        ).all()
    assert [(e.detail["cbc"], e.detail["attempt"]) for e in events] == [("cbc1", 1)]
    assert "503" in str(events[0].detail["error"])
