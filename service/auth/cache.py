"""A short-lived cache of authenticated principals.

Authenticating every request against the database costs a transaction per
call; agencies post in bursts. A principal is reused for `ttl` seconds, so
revoking a key takes effect within that time (documented in docs/api.md).
"""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from service.auth.service import Principal

DEFAULT_TTL_S = 5.0
MAX_ENTRIES = 10_000


class PrincipalCache:
    """Presented key -> principal, for a few seconds. Keys are stored hashed."""

    def __init__(self, ttl: float = DEFAULT_TTL_S) -> None:
        self._ttl = ttl
        self._entries: dict[str, tuple[float, Principal]] = {}

    @staticmethod
    def _slot(presented: str) -> str:
        return hashlib.sha256(presented.encode()).hexdigest()

    def get(self, presented: str) -> Principal | None:
        """The cached principal for this key, if still fresh."""
        entry = self._entries.get(self._slot(presented))
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, presented: str, principal: Principal) -> None:
        """Remember a principal just authenticated from the database."""
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()  # crude but bounded; a refill costs one query per key
        self._entries[self._slot(presented)] = (time.monotonic() + self._ttl, principal)
