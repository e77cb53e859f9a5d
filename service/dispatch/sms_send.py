"""Running one SMS batch: claim its recipients, send window by window, record each outcome.

Never twice: a recipient is marked `sending` (committed) before it is handed
to a gateway. If a worker dies after that, the recipient is left `unknown`
rather than sent again: a possible miss is reported, a duplicate is not
possible. A Cancel is checked between windows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import bindparam, case, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from channels.errors import ChannelError, PermanentChannelError, TransientChannelError
from channels.sms import (
    HttpJsonGateway,
    LocationSms,
    OutboundSms,
    OutcomeUnknown,
    SmsGateway,
    SubmitResult,
    compose_sms_text,
    fit_text,
)
from service.alerts.models import Alert
from service.alerts.states import AlertState
from service.cap import CapAlert
from service.context import AppContext
from service.db import transaction, utcnow
from service.delivery.models import SmsMessage, SmsState
from service.dispatch import events, repository
from service.dispatch.content import load_cap
from service.dispatch.models import Channel, Dispatch, DispatchState
from service.dispatch.outcomes import MAX_ATTEMPTS, Failed, Outcome, Sent, backoff
from service.dispatch.progress import after_success, cancelled_by, settle_canceller
from service.dispatch.registry import ChannelRegistry
from service.dispatch.retries import schedule_retry
from service.dispatch.scheduling import schedule_dispatch
from service.dispatch.sms_location import is_location_stop, plan_stop, run_location_stop
from service.dispatch.sms_plan import stop_queued_sms
from service.network.channels import ChannelsConfig, SmsSettings
from service.network.models import Operator

WINDOW = 100
_STOPPED = {AlertState.CANCELLED, AlertState.EXPIRED, AlertState.COMPLETED, AlertState.FAILED}


async def run_sms_batch(
    ctx: AppContext,
    registry: ChannelRegistry,
    dispatch_id: str,
    attempt: int,
    *,
    resumed: bool = False,
) -> Outcome:
    """Carry out attempt `attempt` of an SMS batch (or of the stop of a location job).

    `resumed`: the queue runs this attempt's job again because its last run
    ended early (a transaction lost a deadlock and was rolled back, or the
    worker died) after the attempt was claimed. Without it the claim would
    read that as a stale duplicate and stop, leaving the batch unfinished
    (and its alert dispatching) until the stall sweep.
    """
    async with transaction(ctx.sessions) as session:
        dispatch = await repository.get(session, dispatch_id)
        stop = dispatch is not None and is_location_stop(dispatch)
    if stop:
        return await run_location_stop(ctx, registry, dispatch_id, attempt)
    claimed = await _claim(ctx, dispatch_id, attempt, resumed=resumed)
    if claimed is None:
        return Sent()
    operator, texts, location = claimed
    gateways = registry.gateways(operator.id, operator.channels)
    if not gateways:
        return await _finish(ctx, dispatch_id, DispatchState.FAILED, "no SMS gateway configured")
    if location is not None:
        return await _send_location_job(ctx, dispatch_id, attempt, gateways, location)
    gateway = gateways[(attempt - 1) % len(gateways)]  # a retry fails over to the next gateway
    # Recipients whose last outcome is unknown at a de-duplicating gateway go back
    # there first, as the same request (same Idempotency-Key); never elsewhere.
    transient = await _resend_pinned(ctx, dispatch_id, gateways, texts)
    while transient is None:
        window = await _take_window(ctx, dispatch_id)
        if window is None:  # cancelled between windows
            return Sent()
        if not window:
            break
        transient = await _send_window(ctx, window, gateway, texts)
    if transient is not None:
        return await _retry_or_fail(ctx, dispatch_id, attempt, transient)
    return await _finish(ctx, dispatch_id, DispatchState.SUBMITTED, None)


async def _send_window(
    ctx: AppContext, window: Sequence[SmsMessage], gateway: SmsGateway, texts: dict[str, str]
) -> str | None:
    outcomes = await gateway.submit_many(
        [OutboundSms(str(m.id), m.msisdn, texts[m.language]) for m in window]
    )
    return await _record(ctx, window, outcomes, gateway.name, _deduplicates(gateway))


def _deduplicates(gateway: SmsGateway) -> bool:
    """Whether the same messages re-sent to `gateway` are recognised (Idempotency-Key)."""
    return bool(getattr(gateway, "deduplicates", False))


async def _resend_pinned(
    ctx: AppContext, dispatch_id: str, gateways: Sequence[SmsGateway], texts: dict[str, str]
) -> str | None:
    """Re-send, each to its own gateway, the recipients whose outcome there is unknown."""
    async with transaction(ctx.sessions) as session:
        names = (
            await session.exec(
                select(SmsMessage.gateway)
                .where(
                    SmsMessage.dispatch_id == dispatch_id,
                    SmsMessage.state == SmsState.QUEUED.value,
                    col(SmsMessage.gateway).is_not(None),
                )
                .distinct()
            )
        ).all()
    by_name = {g.name: g for g in gateways}
    for name in sorted(n for n in names if n is not None):
        window = await _take_window(ctx, dispatch_id, pinned_to=name)
        if not window:
            continue  # None (cancelled): the main loop sees it too
        gateway = by_name.get(name)
        if gateway is None or not _deduplicates(gateway):  # reconfigured meanwhile
            gone = OutcomeUnknown(f"gateway {name} can no longer take the retry")
            await _record(ctx, window, [gone] * len(window), name, False)
            continue
        transient = await _send_window(ctx, window, gateway, texts)
        if transient is not None:
            return transient
    return None


async def _claim(
    ctx: AppContext, dispatch_id: str, attempt: int, *, resumed: bool = False
) -> tuple[Operator, dict[str, str], LocationSms | None] | None:
    """Take attempt `attempt`: the operator, the text per language, the location job if any.

    A resumed attempt takes over its own earlier claim; its recipients left
    `sending` are marked unknown below (never sent twice), and the queued
    ones are sent.
    """
    async with transaction(ctx.sessions) as session:
        dispatch = await repository.get_for_update(session, dispatch_id)
        if dispatch is None or dispatch.state != DispatchState.QUEUED:
            return None
        if dispatch.attempts > attempt or (dispatch.attempts == attempt and not resumed):
            return None  # a stale duplicate of this or an earlier attempt
        alert = await session.get(Alert, dispatch.alert_id)
        operator = await session.get(Operator, dispatch.operator_id)
        assert alert is not None
        assert operator is not None
        if AlertState(alert.state) in _STOPPED:
            await _cancel_rest(session, dispatch_id)
            dispatch.state = DispatchState.CANCELLED
            dispatch.finished_at = utcnow()
            events.record(
                session,
                "dispatch.cancelled",
                alert_id=alert.id,
                dispatch=dispatch,
                reason=f"alert is {alert.state}",
            )
            return None
        dispatch.attempts = attempt
        dispatch.heartbeat_at = utcnow()
        session.add(dispatch)
        # A previous attempt that died mid-window: those recipients may have the SMS.
        await session.exec(
            update(SmsMessage)
            .where(
                col(SmsMessage.dispatch_id) == dispatch_id,
                col(SmsMessage.state) == SmsState.SENDING.value,
            )
            .values(state=SmsState.UNKNOWN.value, error="worker stopped while sending; not resent")
        )
        cap = await load_cap(session, dispatch.alert_id)
        settings = ChannelsConfig.model_validate(operator.channels).sms
        assert settings is not None
        location = None
        if dispatch.channel == Channel.OPERATOR_SMS:
            location = await location_job(session, dispatch, alert, cap, settings)
        # An all-clear batch carries the agency's texts; a warning's come from its CAP.
        agency_texts = dispatch.payload.get("texts")
        texts = _fitted(agency_texts, settings) if agency_texts else _texts(cap, settings)
    return operator, dict(texts), location


async def location_job(
    session: AsyncSession, dispatch: Dispatch, alert: Alert, cap: CapAlert, settings: SmsSettings
) -> LocationSms:
    """One job for the operator: the targeted cells and a text per language.

    Also what an operator pulling its jobs sees (`service.delivery.operator_jobs`).
    """
    targeting = (await repository.targetings(session, dispatch.alert_id))[dispatch.operator_id]
    texts = _texts(cap, settings)
    expires = alert.expires_at or utcnow() + dt.timedelta(hours=24)
    return LocationSms(
        correlation_id=dispatch.id,
        alert_ref=f"{cap.sender},{cap.identifier},{cap.sent_text}",
        operator=dispatch.operator_id,
        cells=list(targeting.cells),
        texts=texts,
        default_language=cap.infos[0].language,
        expires_at=expires,
    )


async def _send_location_job(
    ctx: AppContext,
    dispatch_id: str,
    attempt: int,
    gateways: Sequence[SmsGateway],
    job: LocationSms,
) -> Outcome:
    """Location-based SMS: the operator resolves the handsets in its own network."""
    gateway = next((g for g in gateways if isinstance(g, HttpJsonGateway)), None)
    if gateway is None:
        reason = "location-based SMS needs an http-json gateway"
        return await _finish(ctx, dispatch_id, DispatchState.FAILED, reason)
    try:
        job_id = await gateway.submit_location_job(job)
    except TransientChannelError as exc:
        return await _retry_or_fail(ctx, dispatch_id, attempt, str(exc))
    except ChannelError as exc:
        return await _finish(ctx, dispatch_id, DispatchState.FAILED, f"refused: {exc}")
    return await _location_submitted(ctx, dispatch_id, gateway.name, job_id, job.expires_at)


async def _location_submitted(
    ctx: AppContext, dispatch_id: str, gateway: str, job_id: str, expires_at: dt.datetime
) -> Outcome:
    """The operator runs the job now: keep its id, so a Cancel or the expiry can stop it."""
    async with transaction(ctx.sessions) as session:
        dispatch = await repository.get_for_update(session, dispatch_id)
        assert dispatch is not None
        cancelled_meanwhile = dispatch.state == DispatchState.CANCELLED
        dispatch.result = {"job_id": job_id, "gateway": gateway}
        dispatch.endpoint = gateway
        dispatch.live = True
        dispatch.expires_at = expires_at
        dispatch.submitted_at = utcnow()
        dispatch.heartbeat_at = None
        if not cancelled_meanwhile:
            dispatch.state = dispatch.submitted_state
            dispatch.last_error = None
        session.add(dispatch)
        events.record(
            session, "dispatch.submitted", alert_id=dispatch.alert_id, dispatch=dispatch, job=job_id
        )
        job_ids: list[str] = []
        if cancelled_meanwhile:  # a Cancel or Update came while it was being sent: stop it
            # Under the alert that cancelled it: it waited for this (`progress.settle`).
            reason = dispatch.last_error or "cancelled while being sent"
            owner = cancelled_by(dispatch) or dispatch.alert_id
            stop = await plan_stop(session, dispatch, alert_id=owner, reason=reason)
            if stop is not None:
                job_ids.append(schedule_dispatch(session, stop))
            await settle_canceller(session, dispatch)
        else:
            await after_success(session, dispatch)
    return Sent(tuple(job_ids))


def segment_budget(settings: SmsSettings) -> tuple[int, Literal[8, 16]]:
    """Segments and UDH reference width every gateway that may send the text accepts.

    The smallest of the operator's `max_segments` and each gateway's own cap
    (in operator mode only the first http-json gateway sends); a 16-bit
    reference anywhere leaves less room in every segment, so it counts.
    """
    operator_mode = settings.mode == "operator"
    chosen = [g for g in settings.gateways if not operator_mode or g.kind == "http-json"]
    gateways = [g.config for g in (chosen[:1] if operator_mode else chosen)]
    segments = min([settings.max_segments, *(g.max_segments for g in gateways)])
    bits: Literal[8, 16] = 16 if any(g.reference_bits == 16 for g in gateways) else 8
    return segments, bits


def _fitted(texts: dict[str, str], settings: SmsSettings) -> dict[str, str]:
    segments, bits = segment_budget(settings)
    return {
        language: fit_text(text, max_segments=segments, reference_bits=bits)
        for language, text in texts.items()
    }


def _texts(cap: CapAlert, settings: SmsSettings) -> dict[str, str]:
    segments, bits = segment_budget(settings)
    return {
        info.language: compose_sms_text(
            headline=info.headline,
            instruction=info.instruction,
            description=info.description,
            parameters=info.parameters,
            text_parameter=settings.text_parameter,
            max_segments=segments,
            reference_bits=bits,
        )
        for info in reversed(cap.infos)  # the first info of a language wins
    }


async def _take_window(
    ctx: AppContext, dispatch_id: str, *, pinned_to: str | None = None
) -> list[SmsMessage] | None:
    """Mark the next recipients `sending`; None when the batch was cancelled.

    Queued recipients tied to a gateway (`pinned_to`) wait for that gateway's
    retry; the others are free for whichever gateway this attempt uses.

    Each window is also the batch's heartbeat: the stall sweep leaves alone a
    batch that a live worker is still working through, however long it takes.
    """
    async with transaction(ctx.sessions) as session:
        dispatch = await repository.get(session, dispatch_id)
        if dispatch is None or dispatch.state == DispatchState.CANCELLED:
            return None
        dispatch.heartbeat_at = utcnow()
        session.add(dispatch)
        query = (
            select(SmsMessage)
            .where(
                SmsMessage.dispatch_id == dispatch_id,
                SmsMessage.state == SmsState.QUEUED.value,
                col(SmsMessage.gateway).is_(None)
                if pinned_to is None
                else col(SmsMessage.gateway) == pinned_to,
            )
            .order_by(col(SmsMessage.id))
            .limit(WINDOW)
            # Should two attempts ever overlap, PostgreSQL hands each row to one of them.
            .with_for_update(skip_locked=True)
        )
        window = list((await session.exec(query)).all())
        for message in window:
            message.state = SmsState.SENDING
            session.add(message)
        return window


# Outcomes only ever move a recipient out of `sending`: a delivery report can
# overtake the gateway's answer (Kannel calls the dlr-url before its HTTP reply
# reaches us), and the report's later news (state, final_at, error, the
# segment count its delivered-segment mask was read against) must not be
# overwritten by it. The answer's own facts (gateway, message id, submitted_at)
# are kept either way.
_SMS = SmsMessage.__table__  # type: ignore[attr-defined]  # Core: plain executemany
_STILL_SENDING = _SMS.c.state == SmsState.SENDING.value


def _from_sending(state: SmsState) -> Any:
    return case((_STILL_SENDING, state.value), else_=_SMS.c.state)


def _if_sending(column: Any, value: Any) -> Any:
    return case((_STILL_SENDING, value), else_=column)


_OUTCOME = (
    update(_SMS)
    .where(_SMS.c.id == bindparam("row_id"))
    .values(
        gateway=bindparam("new_gateway"),
        segments=_if_sending(_SMS.c.segments, bindparam("new_segments")),
        gateway_message_id=bindparam("new_message_id"),
        submitted_at=bindparam("new_submitted_at"),
        error=_if_sending(_SMS.c.error, bindparam("new_error")),
        final_at=_if_sending(_SMS.c.final_at, bindparam("new_final_at")),
    )
)


async def _record(
    ctx: AppContext,
    window: Sequence[SmsMessage],
    outcomes: Sequence[SubmitResult | ChannelError],
    gateway: str,
    deduplicates: bool,
) -> str | None:
    """Write each recipient's outcome; a transient error if any (those go back to queued).

    Never twice: only a gateway that surely did not take the message (refused
    the connection, answered 429/5xx, throttled) frees the recipient for any
    gateway. An unknown outcome (timeout or connection lost after sending) is
    retried only at the same de-duplicating gateway (the recipient is tied to
    it); anywhere else the recipient is `unknown` and is not sent again.
    """
    transient: str | None = None
    now = utcnow()
    by_state: dict[SmsState, list[dict[str, Any]]] = {}
    for message, outcome in zip(window, outcomes, strict=True):
        row: dict[str, Any] = {
            "row_id": message.id,
            "new_gateway": gateway,
            "new_segments": message.segments,
            "new_message_id": None,
            "new_submitted_at": None,
            "new_error": None,
            "new_final_at": None,
        }
        if isinstance(outcome, SubmitResult):
            state = SmsState.SUBMITTED
            row["new_segments"] = outcome.segments
            row["new_message_id"] = outcome.message_ids[0] if outcome.message_ids else None
            row["new_submitted_at"] = now
        elif isinstance(outcome, OutcomeUnknown) and deduplicates:
            state = SmsState.QUEUED  # tied to this gateway: it will know the retry
            transient = str(outcome)
        elif isinstance(outcome, OutcomeUnknown):
            state = SmsState.UNKNOWN  # the phone may have it: a possible miss, never a duplicate
            row["new_error"] = f"outcome unknown, not resent: {outcome}"[:500]
        elif isinstance(outcome, TransientChannelError):
            state = SmsState.QUEUED  # never handed over: safe to send later
            row["new_gateway"] = message.gateway  # not this gateway's: a queued row has none
            transient = str(outcome)
        else:
            assert isinstance(outcome, PermanentChannelError | ChannelError)
            state = SmsState.FAILED
            row["new_error"] = str(outcome)[:500]
            row["new_final_at"] = now
        by_state.setdefault(state, []).append(row)
    async with transaction(ctx.sessions) as session:
        for state, rows in by_state.items():
            statement = _OUTCOME.values(state=_from_sending(state))
            await session.exec(statement, params=rows)
    return transient


async def _cancel_rest(session: AsyncSession, dispatch_id: str) -> None:
    await stop_queued_sms(session, dispatch_id)


async def _retry_or_fail(ctx: AppContext, dispatch_id: str, attempt: int, error: str) -> Outcome:
    if attempt >= MAX_ATTEMPTS:
        return await _finish(
            ctx, dispatch_id, DispatchState.FAILED, f"gave up after {attempt} attempts: {error}"
        )
    async with transaction(ctx.sessions) as session:
        dispatch = await repository.get_for_update(session, dispatch_id)
        assert dispatch is not None
        retry = schedule_retry(session, dispatch, attempt, error, backoff(attempt))
        await settle_canceller(session, dispatch)  # no longer being sent
        return retry


async def _handed_over(session: AsyncSession, dispatch_id: str) -> bool:
    """Whether a gateway took at least one recipient of the batch."""
    query = (
        select(SmsMessage.id)
        .where(SmsMessage.dispatch_id == dispatch_id, col(SmsMessage.submitted_at).is_not(None))
        .limit(1)
    )
    return (await session.exec(query)).first() is not None


async def _finish(
    ctx: AppContext, dispatch_id: str, state: DispatchState, error: str | None
) -> Outcome:
    async with transaction(ctx.sessions) as session:
        dispatch = await repository.get_for_update(session, dispatch_id)
        assert dispatch is not None
        if dispatch.state == DispatchState.CANCELLED:
            await _cancel_rest(session, dispatch_id)
            dispatch.heartbeat_at = None  # no longer being sent
            session.add(dispatch)
            await settle_canceller(session, dispatch)
            return Sent()
        if state == DispatchState.FAILED:
            await _cancel_rest(session, dispatch_id)
        # The operator may have pulled and acknowledged the job already.
        dispatch.state = dispatch.submitted_state if state == DispatchState.SUBMITTED else state
        dispatch.last_error = error
        # Only a batch that handed something over was submitted (accept→submit metrics).
        dispatch.submitted_at = utcnow() if await _handed_over(session, dispatch_id) else None
        if state == DispatchState.FAILED:
            dispatch.finished_at = utcnow()
        session.add(dispatch)
        events.record(
            session,
            f"dispatch.{state.value}",
            alert_id=dispatch.alert_id,
            dispatch=dispatch,
            reason=error,
        )
        await after_success(session, dispatch)
    return Failed(error) if error else Sent()


__all__ = ["SmsGateway", "run_sms_batch"]
