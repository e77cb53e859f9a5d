"""Retry back-off: exponential from 0.5 s, jittered, at most 30 s, honouring Retry-After."""

from __future__ import annotations

import pytest

from service.dispatch.outcomes import KILL_MAX_ATTEMPTS, MAX_ATTEMPTS, backoff

SAMPLES = 200


def delays(attempt: int, hint_s: float | None = None) -> list[float]:
    return [backoff(attempt, hint_s).total_seconds() for _ in range(SAMPLES)]


@pytest.mark.parametrize("attempt", range(1, MAX_ATTEMPTS + 1))
def test_each_attempt_waits_between_half_and_all_of_its_ceiling(attempt: int) -> None:
    ceiling = min(30.0, 0.5 * 2 ** (attempt - 1))
    assert all(ceiling / 2 <= d <= ceiling for d in delays(attempt))


def test_the_wait_grows_with_each_attempt_until_the_cap() -> None:
    # 0.5, 1, 2, 4, 8, 16 s ceilings: every wait of attempt n+1 is at least any of n.
    for attempt in range(1, 6):
        assert min(delays(attempt + 1)) >= max(delays(attempt))
    assert sum(delays(7)) > sum(delays(6))  # 16 s -> the 30 s cap: ranges overlap, still longer


@pytest.mark.parametrize("attempt", [7, 10, MAX_ATTEMPTS * 4, KILL_MAX_ATTEMPTS])
def test_never_more_than_30_seconds(attempt: int) -> None:
    waits = delays(attempt)
    assert max(waits) <= 30.0
    assert min(waits) >= 15.0  # still jittered at the ceiling


def test_a_retry_after_hint_is_honoured_but_capped() -> None:
    assert min(delays(1, hint_s=10.0)) == 10.0  # longer than the back-off: the gateway's word
    assert max(delays(1, hint_s=10.0)) == 10.0
    assert max(delays(1, hint_s=3600.0)) == 30.0  # an absurd Retry-After still caps at 30 s
    assert min(delays(5, hint_s=0.1)) >= 4.0  # shorter than the back-off: the back-off wins
    assert max(delays(3, hint_s=None)) <= 2.0


def test_retries_of_many_jobs_do_not_march_in_step() -> None:
    for attempt in (1, 4, 10):
        waits = delays(attempt)
        assert len(set(waits)) > SAMPLES * 0.9
        assert max(waits) - min(waits) > 0.2 * min(30.0, 0.5 * 2 ** (attempt - 1))
