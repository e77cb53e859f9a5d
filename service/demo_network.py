"""The demo's world: two operators with synthetic networks, subscribers and simulated channels.

Everything here points at in-process simulators: nothing the demo sends can
leave the machine, let alone reach a phone.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy import insert
from sqlmodel import col, select

from channels.cbc import GenericCbcConfig
from channels.simulators.cbc import CbcSimulator
from channels.simulators.sms_http import SmsHttpSettings, running_sms_http
from channels.sms import HttpJsonConfig
from geo import CellImport, synthesize_table
from service.context import AppContext
from service.db import transaction
from service.network import service as network
from service.network.channels import ChannelsConfig
from service.network.inventory import prepare_table
from service.network.models import Operator
from service.recipients.models import Subscriber

DEMO_BBOX = (-22.4, 63.9, -21.4, 64.35)  # around the bundled IMO alert's polygons
SIMULATOR_SECRET = "demo-simulator-secret"  # noqa: S105 (shared with in-process simulators only)
SUBSCRIBERS_PER_OPERATOR = 2000


@dataclass(frozen=True)
class DemoOperator:
    id: str
    name: str
    mnc: str
    sites: int


OPERATORS = (
    DemoOperator("demo-is-tel", "Demo Telecom Iceland", "01", 500),
    DemoOperator("demo-is-mob", "Demo Mobile Iceland", "02", 350),
)


@dataclass(frozen=True)
class Simulators:
    cbc_url: str
    sms_url: str


@contextlib.asynccontextmanager
async def running_simulators() -> AsyncIterator[Simulators]:
    """A CBC simulator (Tocsin's JSON job API) and an HTTP SMS gateway simulator."""
    # Handsets "receive" each SMS a second after the gateway takes it.
    sms_settings = SmsHttpSettings(secret=SIMULATOR_SECRET, report_delay=1.0)
    async with (
        CbcSimulator(secret=SIMULATOR_SECRET) as cbc,
        running_sms_http(sms_settings) as (_, sms_url),
    ):
        yield Simulators(cbc.base_url, sms_url)


def demo_channels(simulators: Simulators, operator: DemoOperator, api_url: str) -> ChannelsConfig:
    cbc = GenericCbcConfig(base_url=simulators.cbc_url, secret=SIMULATOR_SECRET)
    gateway = f"{operator.id}-sms"
    sms = HttpJsonConfig(
        name=gateway,
        base_url=simulators.sms_url,
        secret=SIMULATOR_SECRET,
        callback_url=f"{api_url}/api/v1/receipts/http/{gateway}",
    )
    return ChannelsConfig.model_validate(
        {
            "cell_broadcast": {
                "profile": {"profile": "eu-alert"},
                "endpoints": [{"kind": "generic-http", "name": "sim-cbc", "config": cbc}],
            },
            "sms": {"gateways": [{"kind": "http-json", "config": sms}]},
        }
    )


async def provision_network(context: AppContext, simulators: Simulators, api_url: str) -> list[str]:
    """Create the demo operators once; point their channels at this run's simulators."""
    for operator in OPERATORS:
        async with transaction(context.sessions) as session:
            existing = await session.get(Operator, operator.id)
        if existing is None:
            await _create(context, operator)
        async with transaction(context.sessions) as session:
            row = await session.get(Operator, operator.id)
            assert row is not None
            row.channels = demo_channels(simulators, operator, api_url).stored()
            session.add(row)
    return [operator.id for operator in OPERATORS]


async def _create(context: AppContext, operator: DemoOperator) -> None:
    table = synthesize_table(
        operator.sites, DEMO_BBOX, seed=int(operator.mnc), mcc="274", mnc=operator.mnc
    )
    count = len(table)
    prepared = prepare_table(CellImport(table, count, count, 0, ()))
    async with transaction(context.sessions) as session:
        await network.create_operator(
            session,
            operator_id=operator.id,
            name=operator.name,
            mcc="274",
            mnc=operator.mnc,
            country="IS",
        )
        await network.store_inventory(session, operator.id, prepared, source="demo synth")
    cells = [str(cell) for cell in table.ids]
    step = max(1, len(cells) // SUBSCRIBERS_PER_OPERATOR)
    rows = [
        {
            "msisdn": f"354{operator.mnc}{n:06d}",
            "operator_id": operator.id,
            "language": "en" if n % 4 == 0 else "is",  # visitors read the English info
            "cell_id": cells[(n * step) % len(cells)],
            "test": n % 10 == 0,
        }
        for n in range(SUBSCRIBERS_PER_OPERATOR)
    ]
    async with transaction(context.sessions) as session:
        known = set(
            (
                await session.exec(
                    select(Subscriber.msisdn).where(col(Subscriber.operator_id) == operator.id)
                )
            ).all()
        )
        fresh = [row for row in rows if row["msisdn"] not in known]
        if fresh:
            await session.exec(insert(Subscriber), params=fresh)
