"""Operators' channels: set and read the configuration, and test every link."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit import service as audit
from service.network.channels import ChannelsConfig
from service.network.models import Operator


class UnknownOperatorError(LookupError):
    """No operator with that id."""


async def set_channels(
    session: AsyncSession, operator_id: str, config: ChannelsConfig, *, actor: str
) -> Operator:
    """Replace an operator's channel configuration (audited; secrets are not logged).

    Raises:
        UnknownOperatorError: no such operator.
    """
    operator = await session.get(Operator, operator_id)
    if operator is None:
        raise UnknownOperatorError(operator_id)
    operator.channels = config.stored()
    operator.last_good_cbc = None
    session.add(operator)
    audit.record(
        session,
        actor=actor,
        action="operator.channels",
        detail={"operator": operator_id, "channels": config.public_view()},
    )
    return operator


@dataclass(frozen=True)
class LinkReport:
    """One endpoint's link test."""

    operator: str
    channel: str  # "cbc" or "sms"
    endpoint: str
    up: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "operator": self.operator,
            "channel": self.channel,
            "endpoint": self.endpoint,
            "up": self.up,
            "detail": self.detail,
        }


async def check_links(operator: Operator, client: httpx.AsyncClient) -> list[LinkReport]:
    """Test each configured CBC and SMS gateway without sending anything to the public."""
    from service.dispatch.registry import ChannelRegistry

    registry = ChannelRegistry(client)
    reports: list[LinkReport] = []
    try:
        for cbc in registry.cbcs(operator.id, operator.channels):
            status = await cbc.adapter.check()
            reports.append(
                LinkReport(operator.id, "cbc", cbc.name, status.reachable, status.detail)
            )
        for gateway in registry.gateways(operator.id, operator.channels):
            link = await gateway.check()
            reports.append(LinkReport(operator.id, "sms", gateway.name, link.up, link.detail))
    finally:
        await registry.close()
    return reports
