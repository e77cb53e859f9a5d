"""What a dispatch step returns; only the job turns it into queue behaviour."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

MAX_ATTEMPTS = 6
# A kill stops a warning already on air: giving up leaves it there until its
# end (up to 22.5 h). With back-off capped at 30 s this keeps trying for about
# an hour; managers are told once it is late (MAX_ATTEMPTS), and every retry
# is an event.
KILL_MAX_ATTEMPTS = 120
_BASE_DELAY_S = 0.5
_MAX_DELAY_S = 30.0


@dataclass(frozen=True)
class Sent:
    """Done (or nothing left to do); `job_ids` are follow-up jobs to relay now."""

    job_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class RetryLater:
    """A transient failure: the next attempt is already in the outbox."""

    job_id: str
    after: dt.timedelta


@dataclass(frozen=True)
class Failed:
    """Given up: the dispatch is `failed` and managers have an event saying why."""

    reason: str


Outcome = Sent | RetryLater | Failed


def backoff(attempt: int, hint_s: float | None = None) -> dt.timedelta:
    """Exponential back-off with full jitter (retries of many jobs do not march in step)."""
    ceiling = min(_MAX_DELAY_S, _BASE_DELAY_S * 2 ** (attempt - 1))
    delay = max(hint_s or 0.0, random.uniform(ceiling / 2, ceiling))
    return dt.timedelta(seconds=min(delay, _MAX_DELAY_S))
