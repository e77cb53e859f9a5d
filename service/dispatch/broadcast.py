"""Running one cell-broadcast dispatch: broadcast, replace or kill, with CBC failover.

Three short transactions around the network call, never one held across it:
claim the attempt, talk to the CBCs, record the result. A crash in between
leaves the dispatch `queued` with its attempt counted; the relay re-sends the
job and the CBCs' idempotency (osmo-cbc 409, generic API keys) absorbs the
repeat.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from channels.cbc.base import BroadcastSchedule, BroadcastTargets, Submission
from channels.errors import PermanentChannelError, TransientChannelError
from service.alerts.models import Alert
from service.alerts.states import AlertState
from service.context import AppContext
from service.db import transaction, utcnow
from service.dispatch import events, occupancy, repository
from service.dispatch.content import compose_broadcast, load_cap, warning_area_of
from service.dispatch.models import Action, Dispatch, DispatchState
from service.dispatch.outcomes import (
    KILL_MAX_ATTEMPTS,
    MAX_ATTEMPTS,
    Failed,
    Outcome,
    RetryLater,
    Sent,
    backoff,
)
from service.dispatch.planner import plan_kill
from service.dispatch.progress import after_success, cancelled_by, settle_canceller
from service.dispatch.registry import ChannelRegistry, NamedCbc
from service.dispatch.retries import schedule_retry
from service.dispatch.scheduling import schedule_dispatch
from service.network import repository as network_repository
from service.network.channels import CellBroadcastSettings, ChannelsConfig
from service.network.models import Operator, Targeting

log = logging.getLogger(__name__)
ENDPOINT_ERROR_EVENT = "dispatch.endpoint-error"
_STOPPED_ALERTS = {
    AlertState.CANCELLED,
    AlertState.EXPIRED,
    AlertState.COMPLETED,
    AlertState.FAILED,
}


@dataclasses.dataclass(frozen=True)
class EndpointError:
    """A CBC that failed transiently during one attempt (recorded, counted in the metrics)."""

    cbc: str
    error: str


@dataclasses.dataclass(frozen=True)
class _Work:
    dispatch: Dispatch
    operator: Operator
    alert: Alert
    previous: Dispatch | None
    cells: tuple[str, ...]
    avoid: frozenset[str] = frozenset()  # CBCs where the identifier is taken (occupancy)


async def run_broadcast(
    ctx: AppContext, registry: ChannelRegistry, dispatch_id: str, attempt: int
) -> Outcome:
    """Carry out attempt `attempt` of a broadcast, replace or kill."""
    work = await _claim(ctx, registry, dispatch_id, attempt)
    if not isinstance(work, _Work):
        return work
    config = ChannelsConfig.model_validate(work.operator.channels)  # checked by _claim
    settings = config.cell_broadcast
    if settings is None:
        return await _finish_failed(
            ctx, dispatch_id, "the operator has no cell broadcast configured"
        )
    configured = registry.cbcs(work.operator.id, work.operator.channels)
    holder = _holder(work)
    if holder is None and _replaces_live(work):
        # Which CBC runs it is not recorded: a new broadcast could run beside the old one.
        reason = "the CBC holding the broadcast this replaces is not recorded; it stays live"
        return await _finish_failed(ctx, dispatch_id, reason)
    if holder is None:
        cbcs = _in_order(configured, work)
    else:
        # A kill or replace goes to the CBC holding the broadcast, never elsewhere: another
        # CBC's 404 would pass for "killed", its new broadcast would run beside the old one.
        cbcs = [cbc for cbc in configured if cbc.name == holder]
        if not cbcs:
            reason = _unreachable(work, holder, "that CBC is no longer configured")
            return await _finish_failed(ctx, dispatch_id, reason)
    failures: list[EndpointError] = []  # every CBC's transient error, failover or not
    try:
        name, submission = await _talk(ctx, work, cbcs, settings, failures)
    except PermanentChannelError as exc:
        return await _finish_failed(ctx, dispatch_id, f"refused: {exc}", failures)
    except TransientChannelError as exc:
        error = str(exc) if holder is None else _unreachable(work, holder, str(exc))
        return await _retry_or_fail(ctx, dispatch_id, attempt, error, exc.retry_after, failures)
    return await _record_success(ctx, dispatch_id, name, submission, failures)


async def _claim(
    ctx: AppContext, registry: ChannelRegistry, dispatch_id: str, attempt: int
) -> _Work | Outcome:
    """Count the attempt and gather what the network call needs, or say why not to make it."""
    async with transaction(ctx.sessions) as session:
        dispatch = await repository.get_for_update(session, dispatch_id)
        if (
            dispatch is None
            or dispatch.state != DispatchState.QUEUED
            or dispatch.attempts >= attempt
        ):
            return Sent()  # done, cancelled, or a stale duplicate of an earlier attempt
        alert = await session.get(Alert, dispatch.alert_id)
        # Locked: two broadcasts of one operator check identifier occupancy one at a time.
        operator = await network_repository.lock_operator(session, dispatch.operator_id)
        assert alert is not None  # foreign keys
        assert operator is not None
        if dispatch.action != Action.KILL and AlertState(alert.state) in _STOPPED_ALERTS:
            dispatch.state = DispatchState.CANCELLED
            dispatch.finished_at = utcnow()
            events.record(
                session,
                "dispatch.cancelled",
                alert_id=alert.id,
                dispatch=dispatch,
                reason=f"alert is {alert.state}",
            )
            return Sent()
        try:
            cbcs = registry.cbcs(operator.id, operator.channels) if operator.channels else []
        except ValidationError as exc:  # stored before a validator got stricter: fail, loudly
            reason = f"the operator's stored channels config is invalid: {exc}"[:1000]
            await _fail(session, dispatch, reason)
            return Failed(reason)
        verdict = await occupancy.check(session, dispatch, cbcs, utcnow())
        if isinstance(verdict, occupancy.Wait):
            return _wait(session, dispatch, verdict)
        dispatch.attempts = attempt
        if isinstance(verdict, occupancy.Refuse):
            return await _conflict(session, dispatch, verdict)
        if dispatch.action != Action.KILL:
            dispatch.heartbeat_at = utcnow()  # being sent: holds its identifier (occupancy)
        session.add(dispatch)
        previous = (
            None if dispatch.replaces is None else await session.get(Dispatch, dispatch.replaces)
        )
        targeting = await _targeting(session, dispatch)
        cells = () if targeting is None else tuple(targeting.cells)
        return _Work(dispatch, operator, alert, previous, cells, verdict.avoid)


def _wait(session: AsyncSession, dispatch: Dispatch, verdict: occupancy.Wait) -> Outcome:
    """Look again shortly, without spending an attempt: nothing was tried."""
    if dispatch.last_error != verdict.reason:  # one event per wait, not one per look
        events.record(
            session,
            "dispatch.waiting",
            alert_id=dispatch.alert_id,
            dispatch=dispatch,
            reason=verdict.reason,
            holder=verdict.holder.id,
        )
        dispatch.last_error = verdict.reason
    tag = "wait" + utcnow().strftime("%H%M%S%f")
    job_id = schedule_dispatch(
        session, dispatch, defer_until=utcnow() + occupancy.WAIT, resend_tag=tag
    )
    return RetryLater(job_id, occupancy.WAIT)


async def _conflict(
    session: AsyncSession, dispatch: Dispatch, verdict: occupancy.Refuse
) -> Outcome:
    events.record(
        session,
        "dispatch.identifier-conflict",
        alert_id=dispatch.alert_id,
        dispatch=dispatch,
        message_identifier=dispatch.message_identifier,
        holder=verdict.holder.id,
        holder_alert=verdict.holder.alert_id,
    )
    await _fail(session, dispatch, verdict.reason)
    return Failed(verdict.reason)


async def _targeting(session: Any, dispatch: Dispatch) -> Targeting | None:
    targetings = await repository.targetings(session, dispatch.alert_id)
    return targetings.get(dispatch.operator_id)


def _holder(work: _Work) -> str | None:
    """The CBC a kill or replace must go to: the one that accepted the broadcast it acts on.

    None when any CBC will do: a new broadcast, a replace whose broadcast is no
    longer on air, or (kill) a broadcast whose CBC was never recorded, which is
    then stopped on every CBC (`_kill`).
    """
    previous = work.previous
    if previous is None or work.dispatch.action == Action.BROADCAST:
        return None
    if work.dispatch.action == Action.REPLACE and not previous.live:
        return None  # gone meanwhile (expired, killed): nothing to run beside

    return previous.endpoint


def _replaces_live(work: _Work) -> bool:
    return (
        work.dispatch.action == Action.REPLACE and work.previous is not None and work.previous.live
    )


def _unreachable(work: _Work, holder: str, error: str) -> str:
    previous = work.previous
    assert previous is not None
    return (
        f"CBC '{holder}', which holds broadcast {previous.id}, did not take the"
        f" {work.dispatch.action}: {error}; the broadcast stays live there (no other CBC"
        " is asked: it never had it)"
    )


def _in_order(cbcs: list[NamedCbc], work: _Work) -> list[NamedCbc]:
    """The CBC that held the broadcast (a replace of one gone) or the last good one first."""
    first = work.previous.endpoint if work.previous is not None else work.operator.last_good_cbc
    usable = [cbc for cbc in cbcs if cbc.name not in work.avoid]
    return sorted(usable, key=lambda cbc: cbc.name != first)


async def _kill(
    work: _Work, cbcs: list[NamedCbc], failures: list[EndpointError]
) -> tuple[str | None, None]:
    """Stop the broadcast on its CBC (`cbcs` is that one alone), or on every CBC if unknown.

    No failover: a CBC that never had the broadcast answers 404, which the
    adapters count as stopped. A transient error is raised for a later attempt.
    """
    assert work.previous is not None
    if not cbcs:
        raise TransientChannelError("no CBC configured")
    submission = _submission_of(work.previous)
    for cbc in cbcs:
        try:
            await cbc.adapter.cancel(submission)
        except TransientChannelError as exc:
            log.warning(
                "cbc unavailable",
                extra={"dispatch_id": work.dispatch.id, "cbc": cbc.name, "error": str(exc)},
            )
            failures.append(EndpointError(cbc.name, str(exc)))
            raise
    return (cbcs[0].name if len(cbcs) == 1 else None), None


async def _talk(
    ctx: AppContext,
    work: _Work,
    cbcs: list[NamedCbc],
    settings: CellBroadcastSettings,
    failures: list[EndpointError],
) -> tuple[str | None, Submission | None]:
    """Send to the first CBC that answers; a transient failure moves on to the next.

    A kill, and a replace of a live broadcast, get only the CBC holding it. Each
    transient failure is added to `failures`, even when a later CBC takes it.
    """
    dispatch = work.dispatch
    if dispatch.action == Action.KILL:
        return await _kill(work, cbcs, failures)
    last_error: TransientChannelError | None = None
    for cbc in cbcs:
        try:
            async with ctx.readers() as session:
                cap = await load_cap(session, dispatch.alert_id)
            message = compose_broadcast(
                cap,
                dispatch.info_index or 0,
                settings.profile,
                message_code=dispatch.message_code or 0,
                update_number=dispatch.update_number or 0,
            )
            area = warning_area_of(
                cap.infos[dispatch.info_index or 0],
                settings.warning_area_budget_octets,
                max_wait_s=settings.warning_area_max_wait_s,
            )
            targets = BroadcastTargets(cells=work.cells, warning_area=area)
            schedule = BroadcastSchedule(
                repetition_period_s=settings.repetition_period_s, expires_at=dispatch.expires_at
            )
            if (
                dispatch.action == Action.REPLACE
                and work.previous is not None
                and work.previous.endpoint == cbc.name
            ):
                submission = await cbc.adapter.replace(
                    _submission_of(work.previous), message, targets=targets, schedule=schedule
                )
            else:
                submission = await cbc.adapter.submit(
                    message, targets=targets, idempotency_key=dispatch.id, schedule=schedule
                )
            return cbc.name, submission
        except TransientChannelError as exc:
            log.warning(
                "cbc unavailable",
                extra={"dispatch_id": dispatch.id, "cbc": cbc.name, "error": str(exc)},
            )
            failures.append(EndpointError(cbc.name, str(exc)))
            last_error = exc
    raise last_error or TransientChannelError("no CBC configured")


def _submission_of(dispatch: Dispatch) -> Submission:
    data = dict(dispatch.result)
    data["remote_ids"] = tuple(data.get("remote_ids", ()))
    return Submission(**data)


async def _record_success(
    ctx: AppContext,
    dispatch_id: str,
    cbc: str | None,
    submission: Submission | None,
    failures: Sequence[EndpointError] = (),
) -> Outcome:
    async with transaction(ctx.sessions) as session:
        dispatch = await repository.get_for_update(session, dispatch_id)
        assert dispatch is not None
        _record_endpoint_errors(session, dispatch, failures)
        operator = await session.get(Operator, dispatch.operator_id)
        assert operator is not None
        cancelled_meanwhile = dispatch.state == DispatchState.CANCELLED
        cancel_reason = dispatch.last_error
        if cbc is not None:  # None: a kill sent to every CBC (which one held it was unknown)
            operator.last_good_cbc = cbc
            session.add(operator)
            dispatch.endpoint = cbc
        dispatch.submitted_at = utcnow()
        dispatch.heartbeat_at = None
        if submission is not None:
            dispatch.result = _jsonable(submission)
        if dispatch.action == Action.KILL:
            dispatch.state = DispatchState.DELIVERED
            dispatch.finished_at = utcnow()
        else:
            # On air, even if a Cancel came while it was being sent: it stays marked live
            # until the kill planned below lands, so retries and the expiry sweep apply.
            dispatch.state = dispatch.submitted_state
            dispatch.finished_at = None
            dispatch.live = True
        await _retire_previous(session, dispatch)
        session.add(dispatch)
        events.record(
            session,
            f"dispatch.{'killed' if dispatch.action == Action.KILL else 'submitted'}",
            alert_id=dispatch.alert_id,
            dispatch=dispatch,
            cbc=cbc,
        )
        kills = []
        if cancelled_meanwhile:  # a Cancel came while it was being sent: stop it, durably
            kills = await _kill_cancelled(session, dispatch, cancel_reason)
        follow_ups = await after_success(session, dispatch)
    return Sent((*kills, *follow_ups))


async def _kill_cancelled(
    session: AsyncSession, dispatch: Dispatch, cancel_reason: str | None
) -> list[str]:
    """Plan (in the outbox) the kill of a broadcast a Cancel overtook while it was being sent.

    Under the Cancel (`cancelled_by`): it waited for this, and a kill that fails is its failure.
    """
    reason = f"{cancel_reason or 'cancelled'} while it was being submitted"
    owner = cancelled_by(dispatch) or dispatch.alert_id
    kill = await plan_kill(session, dispatch, alert_id=owner, reason=reason)
    return [] if kill is None else [schedule_dispatch(session, kill)]


async def _retire_previous(session: Any, dispatch: Dispatch) -> None:
    if dispatch.replaces is None:
        return
    previous = await session.get(Dispatch, dispatch.replaces)
    if previous is None:
        return
    previous.live = False
    session.add(previous)
    if dispatch.action == Action.KILL:
        await repository.release_code(
            session, previous.operator_id, previous.chain_id, previous.message_identifier
        )


async def _retry_or_fail(
    ctx: AppContext,
    dispatch_id: str,
    attempt: int,
    error: str,
    hint_s: float | None,
    failures: Sequence[EndpointError] = (),
) -> Outcome:
    async with transaction(ctx.readers) as session:
        found = await session.get(Dispatch, dispatch_id)
        kill = found is not None and found.action == Action.KILL
    if attempt >= (KILL_MAX_ATTEMPTS if kill else MAX_ATTEMPTS):
        reason = f"gave up after {attempt} attempts: {error}"
        return await _finish_failed(ctx, dispatch_id, reason, failures)
    delay = backoff(attempt, hint_s)
    async with transaction(ctx.sessions) as session:
        dispatch = await repository.get_for_update(session, dispatch_id)
        assert dispatch is not None
        _record_endpoint_errors(session, dispatch, failures)
        if kill and attempt == MAX_ATTEMPTS:
            events.record(
                session,
                "dispatch.kill-late",
                alert_id=dispatch.alert_id,
                dispatch=dispatch,
                attempt=attempt,
                error=error,
                note="the broadcast is still on air; the kill keeps being retried",
            )
        retry = schedule_retry(session, dispatch, attempt, error, delay)
        await settle_canceller(session, dispatch)  # no longer being submitted
        return retry


async def _finish_failed(
    ctx: AppContext, dispatch_id: str, reason: str, failures: Sequence[EndpointError] = ()
) -> Outcome:
    async with transaction(ctx.sessions) as session:
        dispatch = await repository.get_for_update(session, dispatch_id)
        assert dispatch is not None
        _record_endpoint_errors(session, dispatch, failures)
        await _fail(session, dispatch, reason)
    return Failed(reason)


def _record_endpoint_errors(
    session: AsyncSession, dispatch: Dispatch, failures: Sequence[EndpointError]
) -> None:
    """One `dispatch.endpoint-error` event per CBC that failed in this attempt.

    Failover within an attempt hides these from `dispatch.retrying`; the
    channel-errors metric counts them (service/operations.py).
    """
    for failure in failures:
        events.record(
            session,
            ENDPOINT_ERROR_EVENT,
            alert_id=dispatch.alert_id,
            dispatch=dispatch,
            cbc=failure.cbc,
            error=failure.error,
            attempt=dispatch.attempts,
        )


async def _fail(session: AsyncSession, dispatch: Dispatch, reason: str) -> None:
    dispatch.state = DispatchState.FAILED
    dispatch.last_error = reason
    dispatch.finished_at = utcnow()
    dispatch.heartbeat_at = None
    session.add(dispatch)
    events.record(
        session, "dispatch.failed", alert_id=dispatch.alert_id, dispatch=dispatch, reason=reason
    )
    await after_success(session, dispatch)


def _jsonable(submission: Submission) -> dict[str, Any]:
    data = dataclasses.asdict(submission)
    data["remote_ids"] = list(submission.remote_ids)
    return data
