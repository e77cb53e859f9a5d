"""Queue names and job ids, shared by whoever enqueues and whoever works."""

from __future__ import annotations

from enum import StrEnum


class Queue(StrEnum):
    """Separate queues so a flood of SMS batches never delays a cell broadcast."""

    CELL_BROADCAST = "tocsin:cbs"  # polled every few ms: ETWS leaves the service ~1 s
    SMS = "tocsin:sms"


def dispatch_job_id(dispatch_id: str, attempt: int) -> str:
    """The deterministic id of a dispatch job: a row relayed twice is one job."""
    return f"dispatch:{dispatch_id}:attempt:{attempt}"


def plan_job_id(alert_id: str) -> str:
    """The deterministic id of the job planning an alert's dispatch."""
    return f"plan:{alert_id}"
