"""Dispatch history: every step is an event, feeding the live streams and managers' views."""

from __future__ import annotations

import logging
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from service.dispatch.models import Dispatch, DispatchEvent

log = logging.getLogger(__name__)


def record(
    session: AsyncSession,
    kind: str,
    *,
    alert_id: str,
    dispatch: Dispatch | None = None,
    operator_id: str | None = None,
    **detail: Any,
) -> DispatchEvent:
    """Add an event in the caller's transaction (kinds: `dispatch.<state>`, `alert.<...>`)."""
    event = DispatchEvent(
        dispatch_id=None if dispatch is None else dispatch.id,
        alert_id=alert_id,
        operator_id=operator_id if dispatch is None else dispatch.operator_id,
        kind=kind,
        detail=detail,
    )
    session.add(event)
    # The same step as a log line, for operators who read logs rather than the API.
    ids = {"alert_id": alert_id, "dispatch_id": event.dispatch_id, "operator_id": event.operator_id}
    log.info(kind, extra={"event": kind, **ids, "detail": detail})
    return event
