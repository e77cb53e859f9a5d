"""Per-gateway pacing: a token bucket shared by every caller of one adapter.

Gateways and SMSCs sell throughput in messages per second and punish bursts
(throttling errors, dropped binds), so each adapter instance paces itself.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class RateLimiter:
    """A token bucket in its GCRA form: one timestamp, no refill task.

    `acquire` reserves its slot at once and then sleeps until the slot comes,
    so concurrent callers are served in arrival order and never stampede.
    `rate` is tokens per second (None: unlimited); `burst` tokens may go out
    back to back after an idle period.
    """

    def __init__(
        self,
        rate: float | None,
        *,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate is not None and rate <= 0:
            raise ValueError(f"rate must be positive or None, got {rate}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst}")
        self._interval = 0.0 if rate is None else 1.0 / rate
        self._burst = burst
        self._clock = clock
        self._theoretical_arrival = clock()
        self._held_until = 0.0

    def reserve(self, tokens: int = 1) -> float:
        """Take `tokens` now and return how long to wait before using them."""
        now = self._clock()
        held = max(0.0, self._held_until - now)
        if self._interval == 0.0:
            return held
        start = max(self._theoretical_arrival, now)
        self._theoretical_arrival = start + tokens * self._interval
        return max(held, self._theoretical_arrival - now - self._burst * self._interval)

    async def acquire(self, tokens: int = 1) -> None:
        """Wait until `tokens` may be used."""
        delay = self.reserve(tokens)
        if delay > 0:
            await asyncio.sleep(delay)

    def hold(self, seconds: float) -> None:
        """Let nobody through for `seconds` (the peer asked us to slow down), then pace again.

        Works for an unlimited rate too: throttling must be honoured even
        when we did not configure a rate.
        """
        until = self._clock() + seconds
        self._held_until = max(self._held_until, until)
        self._theoretical_arrival = max(self._theoretical_arrival, until)
