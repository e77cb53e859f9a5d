"""A job PostgreSQL aborted to break a deadlock runs again; other database errors do not."""

from __future__ import annotations

from typing import Any

import psycopg.errors
import pytest
from arq import Retry
from sqlalchemy.exc import OperationalError

from service.db import lost_a_conflict
from service.dispatch.jobs import CONFLICT_RETRY_S, FUNCTIONS, _rerun_on_conflict


def _raising(orig: Exception) -> Any:
    async def job(ctx: dict[str, Any], alert_id: str) -> int:
        raise OperationalError("SELECT ... FOR UPDATE", {"id": alert_id}, orig)

    return job


async def test_a_deadlocked_job_is_retried_later_each_try() -> None:
    job = _rerun_on_conflict(_raising(psycopg.errors.DeadlockDetected("deadlock detected")))
    with pytest.raises(Retry) as first:
        await job({"job_try": 1}, "a-1")
    with pytest.raises(Retry) as third:
        await job({"job_try": 3}, "a-1")
    assert first.value.defer_score == pytest.approx(CONFLICT_RETRY_S * 1000)
    assert third.value.defer_score == pytest.approx(3 * CONFLICT_RETRY_S * 1000)


async def test_a_serialization_failure_is_a_conflict_too() -> None:
    job = _rerun_on_conflict(_raising(psycopg.errors.SerializationFailure("could not serialize")))
    with pytest.raises(Retry):
        await job({"job_try": 1}, "a-1")


async def test_any_other_database_error_still_fails_the_job() -> None:
    job = _rerun_on_conflict(_raising(psycopg.errors.UndefinedTable("no such table")))
    with pytest.raises(OperationalError):
        await job({"job_try": 1}, "a-1")
    assert not lost_a_conflict(ValueError("not a database error"))


def test_the_worker_registers_each_job_under_its_own_name() -> None:
    names = [function.__name__ for function in FUNCTIONS]
    assert names == ["plan_alert", "plan_sms", "run_broadcast", "run_sms_batch"]
