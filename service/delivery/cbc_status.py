"""Per-cell status from a CBC: stored as the latest state per (broadcast, cell).

A CBC reports late, in batches, sometimes twice and out of order; the row
keeps the report with the latest `at`, so replays and stragglers change
nothing. The first report that a cell took or is broadcasting the message
moves its dispatch to `acknowledged`.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from channels.cbc.jobs import InvalidSignature, StatusReport, verify
from service.context import AppContext
from service.db import transaction, upsert_into
from service.delivery.models import CellStatus
from service.dispatch import events, repository
from service.dispatch.models import Dispatch
from service.network.channels import ChannelsConfig, GenericCbcEndpoint
from service.network.models import Operator

# A cell in one of these has the message: it counts as acknowledged.
TAKEN_STATES = frozenset({"acknowledged", "broadcasting"})
_CELLS = CellStatus.__table__  # type: ignore[attr-defined]


class StatusRefused(Exception):
    """The callback cannot be taken: a problem kind, status and detail for the answer."""

    def __init__(self, status: int, kind: str, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.kind, self.title, self.detail = status, kind, title, detail


@dataclass(frozen=True)
class StatusSummary:
    """What one callback did."""

    cells: int
    dispatch: str | None  # None: the job is not one of ours (ignored, not an error)


async def ingest_status(
    ctx: AppContext, operator_id: str, endpoint: str, headers: Mapping[str, str], body: bytes
) -> StatusSummary:
    """Verify, parse and store one status callback of `operator_id`'s CBC `endpoint`.

    Raises:
        StatusRefused: unknown endpoint, bad signature, or a body that is no report.
    """
    secret = await _endpoint_secret(ctx, operator_id, endpoint)
    try:
        verify(secret, headers, body, now=time.time())
    except InvalidSignature as exc:
        raise StatusRefused(401, "callback-unauthenticated", "Bad signature", str(exc)) from None
    try:
        report = StatusReport.model_validate_json(body)
    except ValidationError as exc:
        detail = f"not a status report: {exc.errors()[0]['msg']}"
        raise StatusRefused(422, "invalid-request", "Invalid status report", detail) from None
    async with transaction(ctx.sessions) as session:
        first = await repository.get(session, report.key.split("-", 1)[0])
        if first is None or first.operator_id != operator_id:
            return StatusSummary(0, None)
        # Only the dispatch reported on is locked: a replace being recorded holds
        # its own row and then its predecessor's, and this must not hold them the other way.
        dispatch = await repository.get_for_update(
            session, await _about(session, first, report.serial_number)
        )
        assert dispatch is not None  # dispatches are never deleted
        await _store(session, dispatch, report)
    return StatusSummary(len(report.statuses), dispatch.id)


async def _about(session: AsyncSession, first: Dispatch, serial_number: int) -> str:
    """The id of the dispatch whose content the report is about.

    A Write-Replace keeps the job key of the broadcast it replaces, so the key
    names the chain's first broadcast; the serial number (message code and
    update number) picks the replacement it reports on. A late report on the
    old content stays with the old dispatch.
    """
    code, update = (serial_number >> 4) & 0x3FF, serial_number & 0xF
    current: Dispatch | None = first
    while current is not None:
        if (current.message_code, current.update_number) == (code, update):
            return current.id
        current = await repository.replacement_of(session, current.id)
    return first.id


async def _endpoint_secret(ctx: AppContext, operator_id: str, endpoint: str) -> str:
    async with transaction(ctx.readers) as session:
        operator = await session.get(Operator, operator_id)
    config = ChannelsConfig.model_validate(operator.channels) if operator else None
    broadcast = config.cell_broadcast if config else None
    for candidate in broadcast.endpoints if broadcast else []:
        if candidate.name == endpoint and isinstance(candidate, GenericCbcEndpoint):
            return candidate.config.secret.get_secret_value()
    detail = f"operator '{operator_id}' has no JSON CBC endpoint '{endpoint}'"
    raise StatusRefused(404, "unknown-endpoint", "Unknown CBC endpoint", detail)


async def _store(session: AsyncSession, dispatch: Dispatch, report: StatusReport) -> None:
    latest: dict[str, tuple[str, object]] = {}
    for status in sorted(report.statuses, key=lambda s: s.at):
        latest[status.cell_id] = (status.status, status.at)
    rows = [
        {"dispatch_id": dispatch.id, "cell_id": cell, "status": state, "at": at}
        for cell, (state, at) in latest.items()
    ]
    statement = upsert_into(session, _CELLS)
    statement = statement.on_conflict_do_update(
        index_elements=["dispatch_id", "cell_id"],
        set_={"status": statement.excluded.status, "at": statement.excluded.at},
        where=statement.excluded.at > _CELLS.c.at,  # an older report never wins
    )
    await session.exec(statement, params=rows)
    counts = Counter(state for state, _ in latest.values())
    # The report may overtake the job's own record of its submission (see acknowledge()).
    if TAKEN_STATES & set(counts) and dispatch.acknowledge():
        session.add(dispatch)
    events.record(
        session,
        "dispatch.cell_status",
        alert_id=dispatch.alert_id,
        dispatch=dispatch,
        cells=dict(counts),
    )
