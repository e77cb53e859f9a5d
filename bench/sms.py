"""SMS benchmark: N recipients through the JSON gateway adapter and back in as receipts.

The service's own code runs in this process (no Redis, no worker process in
between); the HTTP SMS simulator, standing in for the operator's gateway,
runs in a child process (`--in-process-simulator`: in this event loop):

  1. a fresh database (a temporary SQLite file, or a new database on the
     PostgreSQL server `--database-url` names, dropped afterwards), migrated;
     an operator with a synthetic network and an http-json SMS gateway, N
     opted-in subscribers, and one alert covering them all, posted to the API
     and planned by the service's own planner (`process_alert`: targeting,
     then N queued `SmsMessage` rows in batches of 1,000);
  2. submit: every planned batch through `sms_send.run_sms_batch` (claim,
     windows of 100 marked `sending`, `HttpJsonGateway.submit_many`, outcomes
     recorded), `--jobs` batches at a time like one worker's SMS queue, to the
     simulator (unthrottled, holding its reports); submits/s is N over the
     phase's wall time, once all N are `submitted` and accepted;
  3. receipts: the simulator posts all N delivery reports (signed batches of
     1,000 over 8 connections) to the API's `POST /api/v1/receipts/http/{gateway}`
     (uvicorn, in this process), whose writer group-commits them; the phase
     ends when all N rows are `delivered` in the database. Rows/s counts from
     the first report reaching the endpoint (the simulator first spends about
     a second building and signing all 100 batches; the rate from asking it to
     report is printed too).

    .venv/bin/python bench/sms.py [--recipients N | --quick] [--database-url URL] [--jobs 8]

Full: 100,000 recipients; `--quick`: 10,000. Targets on the 2-core machine:
>= 2,000 submits/s and >= 20,000 receipt rows/s. Peak RSS is this process's
plus the simulator's. The last line is JSON:
{"bench": "sms", "recipients", "submits_per_s", "receipts_rows_per_s", "rss_mb"}.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
ROOT = HERE.parents[1]
sys.path[:0] = [str(ROOT)]
for _name in [n for n in sys.modules if n == "geo" or n.startswith("geo.")]:
    del sys.modules[_name]

# What the simulator's child process needs, and no more (its RSS is reported too).
import httpx  # noqa: E402
import uvicorn  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse, Response  # noqa: E402

from channels.simulators.sms_http import (  # noqa: E402
    SmsHttpSettings,
    SmsHttpSimulator,
    running_sms_http,
)

SECRET = "bench-secret"  # noqa: S105 (simulator only)


def simulator_stats(simulator: SmsHttpSimulator) -> dict[str, int]:
    return {
        "messages": len(simulator.messages),
        "requests": simulator.requests,
        "sent": simulator.reporter.sent,
        "failed": simulator.reporter.failed,
        "retried": simulator.reporter.retried,
    }


def simulator_settings() -> SmsHttpSettings:
    """Unthrottled, no latency, reports held until the bench asks for them."""
    return SmsHttpSettings(secret=SECRET, report_delay=None)


async def serve_simulator(port: int) -> None:
    """The child process: the simulator on 127.0.0.1:`port` until SIGTERM."""
    simulator = SmsHttpSimulator(simulator_settings())

    async def stats(request: Request) -> Response:
        return JSONResponse(simulator_stats(simulator))

    simulator.app.add_route("/_bench/stats", stats, methods=["GET"])
    async with httpx.AsyncClient(timeout=30) as client:
        simulator.reporter.start(client)
        config = uvicorn.Config(
            simulator.app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
        server = uvicorn.Server(config)
        watch = asyncio.create_task(_exit_with_parent(server))
        try:
            await server.serve()
        finally:
            watch.cancel()
            await simulator.reporter.stop()


async def _exit_with_parent(server: uvicorn.Server) -> None:
    """Stop when the bench is gone (killed by a timeout, say): no orphaned simulator."""
    parent = os.getppid()
    while os.getppid() == parent:
        await asyncio.sleep(0.5)
    server.should_exit = True


if __name__ == "__main__" and sys.argv[1:2] == ["--serve-sim"]:  # the child: nothing else
    asyncio.run(serve_simulator(int(sys.argv[2])))
    sys.exit(0)

import sqlalchemy as sa  # noqa: E402
from sqlalchemy import func, insert  # noqa: E402
from sqlmodel import col, select  # noqa: E402
from starlette.types import ASGIApp, Receive, Scope, Send  # noqa: E402

from channels.sms import HttpJsonConfig  # noqa: E402
from geo import CellImport, synthesize_table  # noqa: E402
from service import migrations  # noqa: E402
from service.app import create_app  # noqa: E402
from service.auth import service as auth  # noqa: E402
from service.auth.models import Role  # noqa: E402
from service.context import AppContext, open_context  # noqa: E402
from service.db import transaction  # noqa: E402
from service.delivery.models import SmsMessage, SmsState  # noqa: E402
from service.dispatch import sms_send  # noqa: E402
from service.dispatch.models import Channel, Dispatch  # noqa: E402
from service.dispatch.outcomes import Sent  # noqa: E402
from service.dispatch.registry import ChannelRegistry  # noqa: E402
from service.dispatch.service import plan_pending_sms, process_alert  # noqa: E402
from service.network import service as network  # noqa: E402
from service.network.channels import ChannelsConfig  # noqa: E402
from service.network.inventory import prepare_table  # noqa: E402
from service.network.models import Operator  # noqa: E402
from service.recipients.models import Subscriber  # noqa: E402
from service.settings import Settings, sync_database_url  # noqa: E402

BBOX = (5.9, 45.8, 10.5, 47.8)  # a country-sized box
WHOLE = "45.7,5.8 45.7,10.6 47.9,10.6 47.9,5.8 45.7,5.8"  # lat,lon: all of it
SENDER = "bench@tocsin.dev"
GATEWAY = "bench-sms"
OPERATOR = "bench"
FULL, QUICK = 100_000, 10_000


def cap_alert(identifier: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
<identifier>{identifier}</identifier><sender>{SENDER}</sender>
<sent>2026-11-22T10:00:00+00:00</sent><status>Actual</status><msgType>Alert</msgType>
<scope>Public</scope><info><language>en</language><category>Met</category>
<event>Flood</event><urgency>Immediate</urgency><severity>Severe</severity>
<certainty>Observed</certainty><expires>2030-01-01T00:00:00+00:00</expires>
<headline>Flood warning</headline><instruction>Move to higher ground now.</instruction>
<area><areaDesc>bench</areaDesc><polygon>{WHOLE}</polygon></area></info></alert>""".encode()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def peak_rss_mb() -> tuple[float, float]:
    """Peak resident set of this process and of its (finished) children, in MB (ru_maxrss: KB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return own / 1024, children / 1024


@contextlib.contextmanager
def fresh_database(url: str | None, data: Path) -> Iterator[str]:
    """A migrated, empty database: a SQLite file in `data`, or a new PostgreSQL database."""
    if url is None or url.startswith("sqlite"):
        path = data / "tocsin.db"
        fresh = f"sqlite:///{path}"
        migrations.upgrade(fresh)
        yield fresh
        return
    name = f"tocsin_bench_sms_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(sync_database_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    fresh = url.rsplit("/", 1)[0] + f"/{name}"
    try:
        migrations.upgrade(fresh)
        yield fresh
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


class FirstReceipt:
    """ASGI wrapper noting when the first delivery report reaches the receipt endpoints."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.at: float | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        receipt = scope["type"] == "http" and str(scope["path"]).startswith("/api/v1/receipts/")
        if receipt and self.at is None:
            self.at = time.perf_counter()
        await self.app(scope, receive, send)


@contextlib.asynccontextmanager
async def serving_api(ctx: AppContext, port: int) -> AsyncIterator[tuple[str, FirstReceipt]]:
    """The API (receipt endpoints included) on 127.0.0.1:`port`, in this event loop."""
    app = FirstReceipt(create_app(context=ctx))
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning", access_log=False))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        await task


class SimulatorHandle:
    """The HTTP SMS simulator as the bench steers it, wherever it runs."""

    def __init__(self, url: str, control: httpx.AsyncClient | None = None) -> None:
        self.url = url
        self._control = control
        self.local: SmsHttpSimulator | None = None

    async def report(self) -> None:
        """Deliver every held report now."""
        if self.local is not None:
            self.local.report()
            return
        assert self._control is not None
        (await self._control.post("/_sim/report", json={"state": "delivered"})).raise_for_status()

    async def stats(self) -> dict[str, int]:
        """Messages accepted, requests, reports sent / refused for good / retried."""
        if self.local is not None:
            return simulator_stats(self.local)
        assert self._control is not None
        response = await self._control.get("/_bench/stats")
        response.raise_for_status()
        return {str(k): int(v) for k, v in response.json().items()}


@contextlib.asynccontextmanager
async def running_simulator(in_process: bool) -> AsyncIterator[SimulatorHandle]:
    """The simulator in this process, or (the default) in a child process like a real gateway."""
    if in_process:
        async with running_sms_http(simulator_settings()) as (simulator, url):
            handle = SimulatorHandle(url)
            handle.local = simulator
            yield handle
        return
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    child = subprocess.Popen([sys.executable, str(HERE), "--serve-sim", str(port)])
    try:
        async with httpx.AsyncClient(base_url=url, timeout=60) as control:
            for _ in range(300):
                if child.poll() is not None:
                    raise RuntimeError(f"the simulator exited with {child.returncode}")
                with contextlib.suppress(httpx.TransportError):
                    if (await control.get("/v1/health")).status_code == 200:
                        break
                await asyncio.sleep(0.05)
            else:
                raise RuntimeError("the simulator did not start")
            yield SimulatorHandle(url, control)
    finally:
        child.terminate()
        child.wait(timeout=30)


async def setup_operator(ctx: AppContext, sms_url: str, api: str) -> list[str]:
    """An operator with a synthetic network and the simulator as its http-json gateway."""
    table = synthesize_table(300, BBOX, seed=11, mcc="228", mnc="01")
    prepared = prepare_table(CellImport(table, len(table), len(table), 0, ()))
    gateway = HttpJsonConfig(
        name=GATEWAY,
        base_url=sms_url,
        secret=SECRET,
        # A national operator's contract: far above what one worker can push.
        rate_per_second=50_000,
        burst=5_000,
        max_in_flight=16,
        callback_url=f"{api}/api/v1/receipts/http/{GATEWAY}",
    )
    channels = ChannelsConfig.model_validate(
        {"sms": {"gateways": [{"kind": "http-json", "config": gateway}]}}
    )
    async with transaction(ctx.sessions) as session:
        await network.create_operator(
            session, operator_id=OPERATOR, name="Bench", mcc="228", mnc="01", country="CH"
        )
        await network.store_inventory(session, OPERATOR, prepared, source="bench")
        operator = await session.get(Operator, OPERATOR)
        assert operator is not None
        operator.channels = channels.stored()
        session.add(operator)
    ctx.receipt_gateways.invalidate()
    return [str(cell) for cell in table.ids]


async def add_subscribers(ctx: AppContext, cell_ids: list[str], count: int) -> None:
    step = 20_000
    for start in range(0, count, step):
        rows = [
            {
                "msisdn": f"4179{n:08d}",
                "operator_id": OPERATOR,
                "language": "en",
                "cell_id": cell_ids[n % len(cell_ids)],
                "test": False,
            }
            for n in range(start, min(count, start + step))
        ]
        async with transaction(ctx.sessions) as session:
            await session.exec(insert(Subscriber), params=rows)


async def post_and_plan(ctx: AppContext, api: str) -> tuple[str, list[str]]:
    """The alert through the intake API, then the service's planner: (alert id, batch ids)."""
    async with transaction(ctx.sessions) as session:
        agency = await auth.create_agency(session, name="bench", senders=[SENDER])
        _key, key = await auth.create_key(
            session, name="bench", role=Role.AGENCY, agency_id=agency.id
        )
    headers = {"Authorization": f"Bearer {key.plaintext}", "Content-Type": "application/cap+xml"}
    async with httpx.AsyncClient(base_url=api, headers=headers, timeout=60) as client:
        posted = await client.post("/api/v1/alerts", content=cap_alert("sms-bench"))
    if posted.status_code != 201:
        raise RuntimeError(f"intake refused the alert: {posted.status_code} {posted.text[:300]}")
    alert_id = str(posted.json()["id"])
    await process_alert(ctx, alert_id)
    await plan_pending_sms(ctx, alert_id)  # the SMS batches: their own job in a worker
    async with transaction(ctx.readers) as session:
        batches = (
            await session.exec(
                select(Dispatch.id)
                .where(Dispatch.alert_id == alert_id, Dispatch.channel == Channel.SMS)
                .order_by(col(Dispatch.batch_no))
            )
        ).all()
    return alert_id, [str(b) for b in batches]


async def count_rows(ctx: AppContext, alert_id: str, state: SmsState) -> int:
    async with transaction(ctx.readers) as session:
        query = select(func.count()).where(
            SmsMessage.alert_id == alert_id, SmsMessage.state == state.value
        )
        return int((await session.exec(query)).one())


async def submit_phase(ctx: AppContext, batch_ids: list[str], jobs: int) -> float:
    """Every batch through the real send path, `jobs` at a time; the phase's seconds."""
    registry = ChannelRegistry(ctx.http)
    slots = asyncio.Semaphore(jobs)

    async def one(dispatch_id: str) -> None:
        async with slots:
            outcome = await sms_send.run_sms_batch(ctx, registry, dispatch_id, 1)
        if not isinstance(outcome, Sent):
            raise RuntimeError(f"batch {dispatch_id} did not go out: {outcome}")

    start = time.perf_counter()
    try:
        await asyncio.gather(*(one(b) for b in batch_ids))
    finally:
        await registry.close()
    return time.perf_counter() - start


async def receipt_phase(
    ctx: AppContext,
    simulator: SimulatorHandle,
    first: FirstReceipt,
    alert_id: str,
    recipients: int,
    timeout: float,
) -> tuple[float, float]:
    """The simulator reports every message now; seconds until all rows are `delivered`.

    Two clocks: from the first report reaching the endpoint (the service's
    rate: what the target is about), and from the report request (which includes
    the simulator building and signing all its batches before the first leaves).
    """
    writer = ctx.receipts
    assert writer is not None
    applied = writer.stats.verdicts["applied"]
    first.at = None
    start = time.perf_counter()
    await simulator.report()
    deadline = start + timeout
    while True:
        # The writer counts a report after the commit that carries it: a cheap
        # trigger; the database count is what ends the phase.
        written = writer.stats.verdicts["applied"] - applied >= recipients
        if written and await count_rows(ctx, alert_id, SmsState.DELIVERED) >= recipients:
            break
        if time.perf_counter() > deadline:
            raise TimeoutError("not every receipt was written in time")
        await asyncio.sleep(0.005)
    end = time.perf_counter()
    assert first.at is not None
    return end - first.at, end - start


async def run(args: argparse.Namespace) -> dict[str, Any]:
    recipients = args.recipients or (QUICK if args.quick else FULL)
    data = Path(tempfile.mkdtemp(prefix="tocsin-bench-sms-"))
    try:
        with fresh_database(args.database_url, data) as database_url:
            settings = Settings(
                database_url=database_url,
                redis_url=None,
                data_dir=data,
                log_json=True,
                log_level="WARNING",
            )
            async with (
                open_context(settings) as ctx,
                running_simulator(args.in_process_simulator) as simulator,
                serving_api(ctx, free_port()) as (api, first),
            ):
                t0 = time.perf_counter()
                cell_ids = await setup_operator(ctx, simulator.url, api)
                await add_subscribers(ctx, cell_ids, recipients)
                alert_id, batch_ids = await post_and_plan(ctx, api)
                queued = await count_rows(ctx, alert_id, SmsState.QUEUED)
                if queued != recipients:
                    raise RuntimeError(f"planned {queued} recipients, expected {recipients}")
                print(
                    f"setup: {len(cell_ids):,} cells, {recipients:,} subscribers, "
                    f"{len(batch_ids)} batches planned in {time.perf_counter() - t0:.1f} s",
                    flush=True,
                )
                if args.gc_freeze:
                    gc.collect()
                    gc.freeze()
                submit_s = await submit_phase(ctx, batch_ids, args.jobs)
                submitted = await count_rows(ctx, alert_id, SmsState.SUBMITTED)
                stats = await simulator.stats()
                accepted = stats["messages"]
                if submitted != recipients or accepted != recipients:
                    raise RuntimeError(
                        f"{submitted} rows submitted, {accepted} accepted by the simulator,"
                        f" expected {recipients}"
                    )
                submits_per_s = recipients / submit_s
                print(
                    f"submit: {recipients:,} messages in {submit_s:.2f} s = "
                    f"{submits_per_s:,.0f} submits/s ({stats['requests']:,} gateway requests)",
                    flush=True,
                )
                if args.gc_freeze:
                    gc.collect()
                    gc.freeze()
                receipt_s, overall_s = await receipt_phase(
                    ctx, simulator, first, alert_id, recipients, args.timeout
                )
                stats = await simulator.stats()
                if stats["failed"]:
                    raise RuntimeError(f"{stats['failed']} reports were refused for good")
                receipts_per_s = recipients / receipt_s
                writer = ctx.receipts
                assert writer is not None
                print(
                    f"receipts: {recipients:,} rows delivered in {receipt_s:.2f} s from the first"
                    f" report in = {receipts_per_s:,.0f} rows/s ({writer.stats.flushes:,} flushes,"
                    f" {stats['retried']:,} reports retried); {overall_s:.2f} s ="
                    f" {recipients / overall_s:,.0f} rows/s from asking the simulator to report",
                    flush=True,
                )
    finally:
        shutil.rmtree(data, ignore_errors=True)
    own, child = peak_rss_mb()
    rss = own + child  # both peaks added: an upper bound of the pair's footprint
    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    where = "in process" if args.in_process_simulator else f"its process {child:,.0f} MB"
    print(
        f"peak RSS: {rss:,.0f} MB (bench {own:,.0f} MB, simulator {where}; {backend},"
        f" {args.jobs} batches at a time)",
        flush=True,
    )
    return {
        "bench": "sms",
        "recipients": recipients,
        "submits_per_s": round(submits_per_s),
        "receipts_rows_per_s": round(receipts_per_s),
        "rss_mb": round(rss, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recipients", type=int, help=f"default {FULL:,} ({QUICK:,} with --quick)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK:,} recipients (CI)")
    parser.add_argument("--database-url", help="PostgreSQL server to create a fresh database on")
    parser.add_argument("--jobs", type=int, default=8, help="batches sent at a time (8: a worker)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds allowed for receipts")
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="gc.freeze() the set-up heap before the phases (the service does not do this)",
    )
    parser.add_argument(
        "--in-process-simulator",
        action="store_true",
        help="run the SMS simulator in the bench's own process and event loop",
    )
    result = asyncio.run(run(parser.parse_args()))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
