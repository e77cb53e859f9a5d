"""The token bucket and the batch coalescer, on a fake clock where time matters."""

from __future__ import annotations

import asyncio

import pytest

from channels.errors import ChannelError, PermanentChannelError, TransientChannelError
from channels.sms.batching import Coalescer
from channels.sms.limits import RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_rate_and_burst() -> None:
    clock = FakeClock()
    limiter = RateLimiter(10.0, burst=3, clock=clock)
    assert [limiter.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]  # the burst
    assert limiter.reserve() == pytest.approx(0.1)
    assert limiter.reserve() == pytest.approx(0.2)
    clock.now += 10  # idle: the burst is available again, not ten seconds' worth
    assert [limiter.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.reserve(5) == pytest.approx(0.5)


def test_hold_applies_even_without_a_rate() -> None:
    clock = FakeClock()
    unlimited = RateLimiter(None, clock=clock)
    assert unlimited.reserve() == 0.0
    unlimited.hold(2.0)
    assert unlimited.reserve() == pytest.approx(2.0)
    clock.now += 2.5
    assert unlimited.reserve() == 0.0
    paced = RateLimiter(10.0, burst=1, clock=clock)
    paced.hold(1.0)
    assert paced.reserve() == pytest.approx(1.0)
    assert paced.reserve() == pytest.approx(1.1)


def test_bad_settings() -> None:
    with pytest.raises(ValueError, match="rate"):
        RateLimiter(0)
    with pytest.raises(ValueError, match="burst"):
        RateLimiter(1, burst=0)


async def test_coalescer_batches_and_routes_outcomes() -> None:
    batches: list[list[int]] = []

    async def send(items: list[int]) -> list[str | ChannelError]:
        batches.append(list(items))
        return [PermanentChannelError("odd") if i % 2 else f"ok-{i}" for i in items]

    coalescer: Coalescer[int, str] = Coalescer(send, max_batch=4, linger=0.01)  # type: ignore[arg-type]
    outcomes = await asyncio.gather(
        *(coalescer.submit(i) for i in range(10)), return_exceptions=True
    )
    assert batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert outcomes[0] == "ok-0"
    assert isinstance(outcomes[1], PermanentChannelError)


async def test_coalescer_batch_failure_reaches_every_caller() -> None:
    async def send(items: list[int]) -> list[str | ChannelError]:
        raise TransientChannelError("503", retry_after=3)

    coalescer: Coalescer[int, str] = Coalescer(send, max_batch=10, linger=0)  # type: ignore[arg-type]
    outcomes = await asyncio.gather(
        *(coalescer.submit(i) for i in range(3)), return_exceptions=True
    )
    assert all(isinstance(o, TransientChannelError) and o.retry_after == 3 for o in outcomes)
    assert len({id(o) for o in outcomes}) == 3  # one error object per caller
