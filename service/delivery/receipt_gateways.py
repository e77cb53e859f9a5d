"""Which configured SMS gateway a receipt URL names, with the secret that authenticates it.

Gateways live in each operator's channel configuration (JSON on the operator
row). Reading and validating every operator per receipt would cost more
than writing the receipt, so the directory keeps them in memory and reloads
after `ttl` seconds, or at once (but at most every `miss_interval` s, so
requests naming unknown gateways cannot hammer the database) when a name is
not found: a gateway just configured works within a second.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from channels.sms import HttpJsonConfig, KannelConfig, SmppConfig
from service.db import transaction
from service.network.channels import ChannelsConfig
from service.network.models import Operator

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConfiguredGateway:
    """One SMS gateway of one operator."""

    operator_id: str
    kind: str
    config: KannelConfig | HttpJsonConfig | SmppConfig


class GatewayDirectory:
    """Gateway name -> every operator's gateway of that name (names are not unique)."""

    def __init__(self, *, ttl: float = 5.0, miss_interval: float = 1.0) -> None:
        self._ttl = ttl
        self._miss_interval = miss_interval
        self._gateways: dict[str, list[ConfiguredGateway]] = {}
        self._loaded_at = float("-inf")
        self._lock = asyncio.Lock()

    async def find(
        self, readers: async_sessionmaker[AsyncSession], name: str
    ) -> list[ConfiguredGateway]:
        """The gateways called `name`, freshly enough read; empty when there is none."""
        if self._stale(name):
            async with self._lock:
                if self._stale(name):  # another request may have reloaded meanwhile
                    await self._reload(readers)
        return self._gateways.get(name, [])

    def _stale(self, name: str) -> bool:
        age = time.monotonic() - self._loaded_at
        return age > self._ttl or (name not in self._gateways and age > self._miss_interval)

    def invalidate(self) -> None:
        """Forget what was read (tests; a configuration change made in this process)."""
        self._loaded_at = float("-inf")

    async def _reload(self, readers: async_sessionmaker[AsyncSession]) -> None:
        async with transaction(readers) as session:
            rows = (await session.exec(select(Operator.id, Operator.channels))).all()
        gateways: dict[str, list[ConfiguredGateway]] = {}
        for operator_id, stored in rows:
            if not stored or not stored.get("sms"):
                continue
            try:
                sms = ChannelsConfig.model_validate(stored).sms
            except ValidationError:  # refused by the channels API; only hand edits get here
                log.warning("operator %s has an invalid channel configuration", operator_id)
                continue
            for gateway in sms.gateways if sms else []:
                entry = ConfiguredGateway(operator_id, gateway.kind, gateway.config)
                gateways.setdefault(gateway.config.name, []).append(entry)
        self._gateways = gateways
        self._loaded_at = time.monotonic()
