"""Channel adapters built from operators' configuration, one per endpoint, reused.

Adapters hold rate limiters and connections, so they must be shared by every
job of a process; they are rebuilt only when the operator's configuration
changes (the stored JSON is the cache key).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from channels.cbc import EcbeCbc, GenericHttpCbc
from channels.cbc.base import CellBroadcastCenter
from channels.sms import HttpJsonGateway, KannelGateway, SmppGateway, SmsGateway
from service.delivery.receipt_writer import ReceiptWriter
from service.delivery.receipts import smpp_receipt_handler
from service.network.channels import (
    CbcEndpoint,
    ChannelsConfig,
    EcbeEndpoint,
    SmsGatewayConfig,
)
from service.network.channels import (
    HttpJsonGateway as HttpJsonGatewayConfig,
)
from service.network.channels import (
    KannelGateway as KannelGatewayConfig,
)


@dataclass(frozen=True)
class NamedCbc:
    """A CBC adapter and the endpoint name dispatch rows record."""

    name: str
    adapter: CellBroadcastCenter


def build_cbc(
    endpoint: CbcEndpoint, client: httpx.AsyncClient, status_url: str | None = None
) -> NamedCbc:
    """The adapter for one configured CBC endpoint.

    A JSON CBC without a configured callback URL is given `status_url`, so
    its per-cell reports come back to this installation.
    """
    if isinstance(endpoint, EcbeEndpoint):
        return NamedCbc(endpoint.name, EcbeCbc(endpoint.config, client))
    config = endpoint.config
    if config.callback_url is None and status_url is not None:
        config = config.model_copy(update={"callback_url": status_url})
    return NamedCbc(endpoint.name, GenericHttpCbc(config, client))


def status_callback_url(public_url: str, operator_id: str, endpoint: str) -> str:
    """Where a JSON CBC sends per-cell status (`service.delivery.cbc_status_api`)."""
    return f"{public_url.rstrip('/')}/api/v1/cbc/status/{operator_id}/{endpoint}"


def build_gateway(
    gateway: SmsGatewayConfig,
    client: httpx.AsyncClient,
    receipts: ReceiptWriter | None = None,
) -> SmsGateway:
    """The adapter for one configured SMS gateway.

    An SMPP bind carries its own delivery receipts (deliver_sm): with
    `receipts` (the process's writer) they are stored like the HTTP ones;
    without it (a link check) they are dropped.
    """
    if isinstance(gateway, KannelGatewayConfig):
        return KannelGateway(gateway.config, client)
    if isinstance(gateway, HttpJsonGatewayConfig):
        return HttpJsonGateway(gateway.config, client)
    handler = None if receipts is None else smpp_receipt_handler(receipts, gateway.config.name)
    return SmppGateway(gateway.config, handler)


@dataclass
class _Entry:
    key: str
    cbcs: list[NamedCbc]
    gateways: list[SmsGateway]


@dataclass
class ChannelRegistry:
    """Adapters per operator, rebuilt when its channel configuration changes."""

    client: httpx.AsyncClient
    public_url: str | None = None  # set: JSON CBCs call back with per-cell status
    receipts: ReceiptWriter | None = None  # set: SMPP binds' receipts are stored
    _entries: dict[str, _Entry] = field(default_factory=dict)

    def _entry(self, operator_id: str, stored: dict[str, Any]) -> _Entry:
        key = json.dumps(stored, sort_keys=True, default=str)
        entry = self._entries.get(operator_id)
        if entry is not None and entry.key == key:
            return entry
        config = ChannelsConfig.model_validate(stored)
        cbcs = (
            [
                build_cbc(e, self.client, self._status_url(operator_id, e.name))
                for e in config.cell_broadcast.endpoints
            ]
            if config.cell_broadcast
            else []
        )
        gateways = (
            [build_gateway(g, self.client, self.receipts) for g in config.sms.gateways]
            if config.sms
            else []
        )
        entry = _Entry(key, cbcs, gateways)
        self._entries[operator_id] = entry
        return entry

    def _status_url(self, operator_id: str, endpoint: str) -> str | None:
        if self.public_url is None:
            return None
        return status_callback_url(self.public_url, operator_id, endpoint)

    def cbcs(self, operator_id: str, stored: dict[str, Any]) -> list[NamedCbc]:
        """The operator's CBC adapters in configured order."""
        return self._entry(operator_id, stored).cbcs

    def gateways(self, operator_id: str, stored: dict[str, Any]) -> list[SmsGateway]:
        """The operator's SMS gateway adapters in configured order."""
        return self._entry(operator_id, stored).gateways

    async def close(self) -> None:
        """Close gateways that own connections (SMPP binds)."""
        for entry in self._entries.values():
            for gateway in entry.gateways:
                await gateway.close()
        self._entries.clear()
