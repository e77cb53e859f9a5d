"""Dispatch benchmark: accept->CBC, Cancel->kill, an SMS fan-out and receipt ingest, end to end.

The API runs as `tocsin serve --no-worker`, two `tocsin worker` processes
do the work, on one database and one Redis; the bench process runs the CBC
simulator and the HTTP SMS simulator (unthrottled, delivery reports to the
API's receipt endpoint) and measures.

    .venv/bin/python bench/dispatch.py [--quick] [--database-url URL] [--redis-url URL]

Full: a 1,000,000-cell network, 200 alerts, 1,000,000 recipients. `--quick`:
100,000 cells, 40 alerts, 20,000 recipients (CI-sized). Without URLs it runs
on a temporary SQLite file and the bundled Redis. The last line is JSON:
{"bench": "dispatch", "cells", "accept_to_cbc_ms": {"p50", "p99"},
 "cancel_to_kill_ms": {"p50", "p99"}, "fanout": {...}, "receipts_rows_per_s"}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]
for _name in [n for n in sys.modules if n == "geo" or n.startswith("geo.")]:
    del sys.modules[_name]

import httpx  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402
from sqlalchemy import func, insert  # noqa: E402
from sqlmodel import col, select  # noqa: E402

from channels.cbc import GenericCbcConfig  # noqa: E402
from channels.simulators.cbc import CbcSimulator  # noqa: E402
from channels.simulators.sms_http import SmsHttpSettings, SmsHttpSimulator, running_sms_http  # noqa: E402
from channels.sms import HttpJsonConfig  # noqa: E402
from geo import CellImport, synthesize_table  # noqa: E402
from service import migrations  # noqa: E402
from service.alerts.models import Alert  # noqa: E402
from service.auth import service as auth  # noqa: E402
from service.auth.models import Role  # noqa: E402
from service.context import AppContext, open_context  # noqa: E402
from service.db import transaction  # noqa: E402
from service.delivery.models import SmsMessage, SmsState  # noqa: E402
from service.dispatch.models import Dispatch  # noqa: E402
from service.embedded import EmbeddedRedis  # noqa: E402
from service.network import service as network  # noqa: E402
from service.network.channels import ChannelsConfig  # noqa: E402
from service.network.inventory import prepare_table  # noqa: E402
from service.network.models import Operator  # noqa: E402
from service.recipients.models import Subscriber  # noqa: E402
from service.settings import Settings  # noqa: E402

TOCSIN = str(Path(sys.executable).with_name("tocsin"))
BBOX = (5.9, 45.8, 10.5, 47.8)  # a country-sized box
SENDER = "bench@tocsin.dev"
SECRET = "bench-secret"  # noqa: S105 (simulators only)
FAR = "2030-01-01T00:00:00+00:00"


def cap(identifier: str, polygon: str, msg_type: str = "Alert", references: str = "") -> bytes:
    refs = f"<references>{references}</references>" if references else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
<identifier>{identifier}</identifier><sender>{SENDER}</sender>
<sent>2026-11-22T10:00:00+00:00</sent><status>Actual</status><msgType>{msg_type}</msgType>
<scope>Public</scope>{refs}<info><language>en</language><category>Met</category>
<event>Flood</event><urgency>Immediate</urgency><severity>Severe</severity>
<certainty>Observed</certainty><expires>{FAR}</expires><headline>Flood warning</headline>
<instruction>Move to higher ground now.</instruction>
<area><areaDesc>bench</areaDesc><polygon>{polygon}</polygon></area></info></alert>""".encode()


def square(lon: float, lat: float, half: float) -> str:
    corners = [(lat - half, lon - half), (lat - half, lon + half), (lat + half, lon + half)]
    corners += [(lat + half, lon - half), (lat - half, lon - half)]
    return " ".join(f"{la:.5f},{lo:.5f}" for la, lo in corners)


def percentiles(values: list[float]) -> dict[str, float]:
    if len(values) < 2:
        return {
            "p50": round(values[0], 1) if values else 0.0,
            "p99": round(values[0], 1) if values else 0.0,
        }
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": round(cuts[49], 1), "p99": round(cuts[98], 1)}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def setup_network(
    ctx: AppContext, cells: int, cbc_url: str, sms_url: str, api: str
) -> list[str]:
    sites = max(10, cells // 3)
    table = synthesize_table(sites, BBOX, seed=7, mcc="228", mnc="01", max_cells=cells)
    prepared = prepare_table(CellImport(table, len(table), len(table), 0, ()))
    gateway = HttpJsonConfig(
        name="bench-sms",
        base_url=sms_url,
        secret=SECRET,
        rate_per_second=50_000,
        burst=5_000,
        max_in_flight=16,
        callback_url=f"{api}/api/v1/receipts/http/bench-sms",
    )
    channels = ChannelsConfig.model_validate(
        {
            "cell_broadcast": {
                "profile": {"profile": "eu-alert"},
                "endpoints": [
                    {
                        "kind": "generic-http",
                        "name": "sim",
                        "config": GenericCbcConfig(base_url=cbc_url, secret=SECRET),
                    }
                ],
            },
            "sms": {"gateways": [{"kind": "http-json", "config": gateway}]},
        }
    )
    async with transaction(ctx.sessions) as session:
        await network.create_operator(
            session, operator_id="bench", name="Bench", mcc="228", mnc="01", country="CH"
        )
        await network.store_inventory(session, "bench", prepared, source="bench")
        operator = await session.get(Operator, "bench")
        assert operator is not None
        operator.channels = channels.stored()
    return [str(cell) for cell in table.ids]


async def add_subscribers(ctx: AppContext, cell_ids: list[str], count: int) -> None:
    step = 20_000
    for start in range(0, count, step):
        rows = [
            {
                "msisdn": f"4179{n:08d}",
                "operator_id": "bench",
                "language": "en",
                "cell_id": cell_ids[n % len(cell_ids)],
                "test": False,
            }
            for n in range(start, min(count, start + step))
        ]
        async with transaction(ctx.sessions) as session:
            await session.exec(insert(Subscriber), params=rows)


async def first_submit_ms(ctx: AppContext, alert_id: str, action: str) -> float | None:
    async with transaction(ctx.readers) as session:
        alert = await session.get(Alert, alert_id)
        first = (
            await session.exec(
                select(func.min(Dispatch.submitted_at)).where(
                    Dispatch.alert_id == alert_id,
                    Dispatch.action == action,
                    Dispatch.channel == "cbs",
                )
            )
        ).one()
    if alert is None or first is None:
        return None
    return (first - alert.received_at).total_seconds() * 1000


async def api_up(api: str) -> bool | None:
    try:
        async with httpx.AsyncClient() as client:
            return True if (await client.get(f"{api}/healthz")).status_code == 200 else None
    except httpx.TransportError:
        return None


async def wait_for(check: Any, timeout: float, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await check()
        if value is not None:
            return value
        await asyncio.sleep(interval)
    raise TimeoutError("benchmark step did not finish in time")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    data = Path(tempfile.mkdtemp(prefix="tocsin-bench-"))
    database_url = args.database_url or f"sqlite:///{data}/tocsin.db"
    redis_server = None if args.redis_url else EmbeddedRedis(data / "redis")
    redis_url = args.redis_url or redis_server.url  # type: ignore[union-attr]
    settings = Settings(
        database_url=database_url, data_dir=data, log_json=True, log_level="WARNING"
    )
    migrations.upgrade(database_url)
    workers: list[subprocess.Popen[bytes]] = []
    processes: list[subprocess.Popen[bytes]] = []  # the API
    cells, alerts, recipients = (100_000, 40, 20_000) if args.quick else (1_000_000, 200, 1_000_000)
    try:
        async with (
            open_context(settings, redis_url=redis_url) as ctx,
            CbcSimulator(secret=SECRET) as cbc,
            running_sms_http(SmsHttpSettings(secret=SECRET, report_delay=None)) as (
                sms_sim,
                sms_url,
            ),
        ):
            port = free_port()
            api = f"http://127.0.0.1:{port}"
            t0 = time.perf_counter()
            cell_ids = await setup_network(ctx, cells, cbc.base_url, sms_url, api)
            print(
                f"network: {len(cell_ids):,} cells in {time.perf_counter() - t0:.1f} s", flush=True
            )
            async with transaction(ctx.sessions) as session:
                agency = await auth.create_agency(session, name="bench", senders=[SENDER])
                _k, key = await auth.create_key(
                    session, name="bench", role=Role.AGENCY, agency_id=agency.id
                )
            env = {
                **os.environ,
                "TOCSIN_DATABASE_URL": database_url,
                "TOCSIN_REDIS_URL": redis_url,
                "TOCSIN_DATA_DIR": str(data),
                "TOCSIN_LOG_LEVEL": "WARNING",
                "TOCSIN_PUBLIC_URL": api,  # the CBC simulator's per-cell callbacks come here
            }
            # The API in its own process, as deployed (`tocsin serve --no-worker`).
            processes.append(
                subprocess.Popen(
                    [TOCSIN, "serve", "--no-worker", "--port", str(port)],
                    env=env,
                    stderr=(data / "api.log").open("wb"),
                )
            )
            for n in range(2):
                workers.append(
                    subprocess.Popen(
                        [TOCSIN, "worker", "--name", f"bench{n}"],
                        env=env,
                        stderr=(data / f"worker{n}.log").open("wb"),
                    )
                )
            await wait_for(lambda: api_up(api), 120)
            headers = {
                "Authorization": f"Bearer {key.plaintext}",
                "Content-Type": "application/cap+xml",
            }
            async with httpx.AsyncClient(base_url=api, headers=headers, timeout=60) as client:
                warm = await client.post(
                    "/api/v1/alerts", content=cap("warm", square(8.2, 46.8, 0.05))
                )
                await wait_for(lambda: first_submit_ms(ctx, warm.json()["id"], "broadcast"), 300)
                accept, cancel = await accept_and_cancel(ctx, client, alerts)
                print(
                    f"accept->CBC {percentiles(accept)}, cancel->kill {percentiles(cancel)}",
                    flush=True,
                )
                fanout = await fan_out(ctx, client, cell_ids, recipients, workers, redis_url)
                print(f"fan-out {fanout}", flush=True)
                receipts = await receipt_rate(ctx, sms_sim, recipients)
    finally:
        for process in [*workers, *processes]:
            process.terminate()
            process.wait(timeout=20)
        if redis_server is not None:
            redis_server.stop()
    return {
        "bench": "dispatch",
        "cells": cells,
        "accept_to_cbc_ms": percentiles(accept),
        "cancel_to_kill_ms": percentiles(cancel),
        "fanout": fanout,
        "receipts_rows_per_s": receipts,
    }


async def accept_and_cancel(
    ctx: AppContext, client: httpx.AsyncClient, count: int
) -> tuple[list[float], list[float]]:
    accept: list[float] = []
    cancel: list[float] = []
    for n in range(count):
        lon, lat = 6.3 + (n % 20) * 0.2, 46.0 + (n // 20 % 8) * 0.2
        posted = await client.post("/api/v1/alerts", content=cap(f"a{n}", square(lon, lat, 0.03)))
        alert_id = posted.json()["id"]
        accept.append(await wait_for(lambda a=alert_id: first_submit_ms(ctx, a, "broadcast"), 60))
        ref = f"{SENDER},a{n},2026-11-22T10:00:00+00:00"
        cancelled = await client.post(
            "/api/v1/alerts", content=cap(f"c{n}", square(lon, lat, 0.03), "Cancel", ref)
        )
        cancel_id = cancelled.json()["id"]
        cancel.append(await wait_for(lambda c=cancel_id: first_submit_ms(ctx, c, "kill"), 60))
        await asyncio.sleep(0.05)
    return accept, cancel


async def fan_out(
    ctx: AppContext,
    client: httpx.AsyncClient,
    cell_ids: list[str],
    recipients: int,
    workers: list[subprocess.Popen[bytes]],
    redis_url: str,
) -> dict[str, Any]:
    await add_subscribers(ctx, cell_ids, recipients)
    redis = aioredis.Redis.from_url(redis_url)
    await redis.config_resetstat()
    whole = "45.7,5.8 45.7,10.6 47.9,10.6 47.9,5.8 45.7,5.8"
    start = time.perf_counter()
    posted = await client.post("/api/v1/alerts", content=cap("fanout", whole))
    alert_id = posted.json()["id"]
    peak = 0.0

    async def all_submitted() -> bool | None:
        nonlocal peak
        info = await redis.info("memory")
        peak = max(peak, info["used_memory"] / 2**20)
        async with transaction(ctx.readers) as session:
            done = (
                await session.exec(
                    select(func.count()).where(
                        SmsMessage.alert_id == alert_id,
                        col(SmsMessage.state).in_(
                            [SmsState.SUBMITTED.value, SmsState.DELIVERED.value]
                        ),
                    )
                )
            ).one()
        return True if done >= recipients else None

    await wait_for(all_submitted, 3600)
    seconds = time.perf_counter() - start
    await redis.aclose()
    return {
        "recipients": recipients,
        "seconds": round(seconds, 1),
        "submits_per_s": round(recipients / seconds),
        "redis_peak_mb": round(peak, 1),
        "worker_rss_mb": round(max(rss_mb(w.pid) for w in workers), 1),
    }


async def receipt_rate(ctx: AppContext, simulator: SmsHttpSimulator, recipients: int) -> float:
    """Rows per second turning delivered when the gateway reports every message at once.

    The simulator held its reports during the fan-out; now it posts them all
    (signed batches of up to 1,000, concurrently) to the API's receipt
    endpoint, which group-commits them: this is the ingest rate after a
    national alert, not the submit rate seen again. The API answers a batch
    only after the commit carrying it, so the clock stops when the simulator
    has every answer; the rows are counted once afterwards (counting them
    while they are written would compete with the writer for the database).
    """

    async def delivered() -> int:
        async with transaction(ctx.readers) as session:
            return int(
                (
                    await session.exec(
                        select(func.count()).where(SmsMessage.state == SmsState.DELIVERED.value)
                    )
                ).one()
            )

    reporter = simulator.reporter
    start_count, start_sent = await delivered(), reporter.sent
    start = time.perf_counter()
    simulator.report()

    async def all_answered() -> bool | None:
        done = reporter.sent - start_sent + reporter.failed >= recipients
        return True if done else None

    await wait_for(all_answered, 3600, interval=0.005)
    elapsed = time.perf_counter() - start
    if reporter.failed:
        raise RuntimeError(f"{reporter.failed} reports were refused for good")
    written = await delivered() - start_count
    if written != recipients:
        raise RuntimeError(f"{written:,} of {recipients:,} reported messages are delivered")
    return round(recipients / elapsed)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--database-url")
    parser.add_argument("--redis-url")
    result = asyncio.run(run(parser.parse_args()))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
