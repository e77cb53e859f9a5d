"""Planning: from an alert ready to go to dispatch rows and their outbox jobs, in one transaction.

One broadcast per (alert, operator, language); an Update replaces the chain's
live broadcast when the identifier is unchanged (same message code, update
number + 1: Write-Replace) and otherwise kills it and starts a new one; a
Cancel kills every live broadcast of its chains and stops what was not sent.
SMS batches are planned by `service.dispatch.sms_plan`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from channels.cbs.facts import NotBroadcastable
from channels.cbs.identifiers import classify
from channels.cbs.serial import MESSAGE_CODES, next_message_code
from service.alerts.models import Alert
from service.alerts.states import DispatchClass
from service.cap import CapAlert
from service.db import utcnow
from service.dispatch import events, repository
from service.dispatch.content import facts_of, is_additional_language
from service.dispatch.models import Action, Channel, Dispatch, DispatchState
from service.dispatch.operator_config import channels_of
from service.dispatch.scheduling import schedule_dispatch
from service.dispatch.sms_location import plan_stops
from service.dispatch.sms_plan import plan_all_clear, plan_sms, stop_queued_sms
from service.dispatch.sms_planning import drop_pending_sms, schedule_sms_planning
from service.network.channels import CellBroadcastSettings
from service.network.models import Operator, Targeting

ETWS_CODES = 256


@dataclass(frozen=True)
class _Live:
    """The chain's live broadcast on one operator, by language."""

    by_language: dict[str | None, Dispatch]


async def plan_alert(session: AsyncSession, alert: Alert, cap: CapAlert) -> list[Dispatch]:
    """Plan the broadcasts of an approved Alert or Update, with their jobs (caller's transaction).

    Its SMS are planned by their own job (`sms_planning`), staged here: the
    recipients' rows must not hold back the broadcasts' commit.
    """
    # The chains it references: none to look up for an alert that references nothing.
    chains = {alert.chain_id, *(await _referenced_chains(session, alert) if cap.references else ())}
    targetings = await repository.targetings(session, alert.id)
    planned: list[Dispatch] = []
    if alert.msg_type == "Update":
        # The old text stops where it was not sent yet; the Update plans its own SMS.
        planned += await _stop_superseded_sms(session, alert, chains)
    sends_sms = False
    for operator in await repository.operators_with_channels(session):
        config = channels_of(session, alert.id, operator)
        if config is None:
            continue
        targeting = targetings.get(operator.id)
        if config.cell_broadcast is not None:
            planned += await _plan_broadcasts(
                session, alert, cap, operator, config.cell_broadcast, targeting, chains
            )
        sends_sms = sends_sms or (config.sms is not None and targeting is not None)
    for dispatch in planned:
        schedule_dispatch(session, dispatch)
    if sends_sms and cap.infos:
        schedule_sms_planning(session, alert)
    events.record(session, "alert.planned", alert_id=alert.id, dispatches=len(planned))
    return planned


async def plan_alert_sms(session: AsyncSession, alert: Alert, cap: CapAlert) -> list[Dispatch]:
    """Every operator's SMS dispatches of an Alert or Update (caller's transaction)."""
    targetings = await repository.targetings(session, alert.id)
    planned: list[Dispatch] = []
    for operator in await repository.operators_with_channels(session):
        config = channels_of(session, alert.id, operator)
        if config is None:
            continue
        targeting = targetings.get(operator.id)
        if config.sms is not None and targeting is not None:
            planned += await plan_sms(session, alert, cap, operator, config.sms, targeting)
    return planned


async def plan_cancel(session: AsyncSession, cancel: Alert, chains: set[str]) -> list[Dispatch]:
    """Kill every live broadcast of `chains` and stop their unsent dispatches."""
    await drop_pending_sms(session, chains, but=cancel.id)
    for dispatch in await repository.open_dispatches(session, chains, exclude_alert=cancel.id):
        _cancel_unsent(session, dispatch, f"cancelled by {cancel.id}", by=cancel.id)
        if dispatch.channel == Channel.SMS:
            await stop_queued_sms(session, dispatch.id)
    kills = [
        await plan_kill(session, live, alert_id=cancel.id, reason=f"cancelled by {cancel.id}")
        for live in await repository.live_broadcasts(session, chains)
    ]
    planned = [kill for kill in kills if kill is not None]
    planned += await plan_stops(
        session, chains, alert_id=cancel.id, reason=f"cancelled by {cancel.id}"
    )
    operators = await repository.operators_with_channels(session)
    planned += await plan_all_clear(session, cancel, chains, operators)
    for dispatch in planned:
        schedule_dispatch(session, dispatch)
    events.record(session, "alert.planned", alert_id=cancel.id, dispatches=len(planned))
    return planned


async def _stop_superseded_sms(
    session: AsyncSession, update: Alert, chains: set[str]
) -> list[Dispatch]:
    """An Update: the chain's SMS batches not yet sent stop, its location jobs are stopped."""
    reason = f"superseded by update {update.id}"
    await drop_pending_sms(session, chains, but=update.id)
    for dispatch in await repository.open_dispatches(session, chains, exclude_alert=update.id):
        if dispatch.channel in (Channel.SMS, Channel.OPERATOR_SMS):
            _cancel_unsent(session, dispatch, reason, by=update.id)
            await stop_queued_sms(session, dispatch.id)
    return await plan_stops(session, chains, alert_id=update.id, reason=reason)


async def plan_kill(
    session: AsyncSession, live: Dispatch, *, alert_id: str, reason: str
) -> Dispatch | None:
    """A kill of the live broadcast `live` (None if one is already on its way)."""
    if await repository.pending_kill_of(session, live.id) is not None:
        return None
    kill = Dispatch(
        alert_id=alert_id,
        chain_id=live.chain_id,
        operator_id=live.operator_id,
        channel=Channel.CELL_BROADCAST,
        action=Action.KILL,
        language=live.language,
        replaces=live.id,
        message_identifier=live.message_identifier,
        message_code=live.message_code,
        update_number=live.update_number,
        endpoint=live.endpoint,
        payload={"reason": reason},
    )
    session.add(kill)
    events.record(session, "dispatch.planned", alert_id=alert_id, dispatch=kill, action="kill")
    return kill


def _cancel_unsent(session: AsyncSession, dispatch: Dispatch, reason: str, *, by: str) -> None:
    """Stop a dispatch not sent yet; `by` (the Cancel or Update) owns any follow-up.

    A broadcast or location job being submitted right now lands anyway: its
    kill or stop is planned then, under `by` (payload `cancelled_by`), and
    `by` stays `dispatching` until then (`progress.settle`).
    """
    dispatch.payload = {**(dispatch.payload or {}), "cancelled_by": by}
    dispatch.state = DispatchState.CANCELLED
    dispatch.last_error = reason
    dispatch.finished_at = utcnow()
    session.add(dispatch)
    events.record(
        session, "dispatch.cancelled", alert_id=dispatch.alert_id, dispatch=dispatch, reason=reason
    )


async def _referenced_chains(session: AsyncSession, alert: Alert) -> set[str]:
    from service.alerts import repository as alerts  # the alerts feature owns chain lookups

    return await alerts.chains_affected_by(session, alert)


async def _plan_broadcasts(
    session: AsyncSession,
    alert: Alert,
    cap: CapAlert,
    operator: Operator,
    settings: CellBroadcastSettings,
    targeting: Targeting | None,
    chains: set[str],
) -> list[Dispatch]:
    live = await repository.live_broadcasts(session, chains, operator.id)
    # An Update's info blocks replace the live broadcasts in the same place and language.
    by_slot = {(dispatch.language, dispatch.info_index): dispatch for dispatch in live}
    planned: list[Dispatch] = []
    if targeting is None or targeting.cell_count == 0:
        reason = "no cell of this operator covers the alert area"
        events.record(
            session, "dispatch.skipped", alert_id=alert.id, operator_id=operator.id, reason=reason
        )
    else:
        for index, info in enumerate(cap.infos):
            previous = by_slot.pop((info.language, index), None)
            planned += await _plan_language(
                session, alert, cap, index, operator, settings, previous, targeting.cell_count
            )
    for left_over in by_slot.values():  # languages or areas the Update dropped
        kill = await plan_kill(
            session, left_over, alert_id=alert.id, reason=f"not in update {alert.id}"
        )
        if kill is not None:
            planned.append(kill)
    return [*planned]


async def _plan_language(
    session: AsyncSession,
    alert: Alert,
    cap: CapAlert,
    index: int,
    operator: Operator,
    settings: CellBroadcastSettings,
    previous: Dispatch | None,
    cells: int,
) -> list[Dispatch]:
    """The broadcast of one info block, and the kill of the one it cannot replace."""
    info = cap.infos[index]
    try:
        classification = classify(
            facts_of(cap, info),
            settings.profile,
            additional_language=is_additional_language(cap, index),
        )
    except NotBroadcastable as exc:
        events.record(
            session,
            "dispatch.skipped",
            alert_id=alert.id,
            operator_id=operator.id,
            language=info.language,
            reason=exc.reason,
        )
        if previous is None:
            return []
        kill = await plan_kill(session, previous, alert_id=alert.id, reason=exc.reason)
        return [] if kill is None else [kill]
    identifier = classification.identifier.value
    planned: list[Dispatch] = []
    if previous is not None and previous.message_identifier == identifier:
        code = previous.message_code or 0
        update_number = ((previous.update_number or 0) + 1) % 16
        action, replaces = Action.REPLACE, previous.id
    else:
        if previous is not None:
            reason = f"identifier changed by {alert.id}"
            kill = await plan_kill(session, previous, alert_id=alert.id, reason=reason)
            planned += [] if kill is None else [kill]
        size = ETWS_CODES if classification.etws is not None else MESSAGE_CODES
        code = await _allocate_code(session, operator.id, alert.chain_id, identifier, size)
        update_number, action, replaces = 0, Action.BROADCAST, None
    dispatch = Dispatch(
        alert_id=alert.id,
        chain_id=alert.chain_id,
        operator_id=operator.id,
        channel=Channel.CELL_BROADCAST,
        action=action,
        language=info.language,
        info_index=index,
        replaces=replaces,
        message_identifier=identifier,
        message_code=code,
        update_number=update_number,
        expires_at=_broadcast_end(alert, settings),
        payload={"cells": cells},
    )
    session.add(dispatch)
    events.record(
        session, "dispatch.planned", alert_id=alert.id, dispatch=dispatch, action=action.value
    )
    return [*planned, dispatch]


async def _allocate_code(
    session: AsyncSession, operator_id: str, chain_id: str, identifier: int, size: int
) -> int:
    """A message code not live on the operator's network, held by the chain for `identifier`."""
    from service.dispatch.models import MessageCode

    live, last = await repository.live_codes(session, operator_id)
    code = next_message_code(live, last, size=size)
    held = await repository.message_code(session, operator_id, chain_id, identifier)
    if held is None:
        held = MessageCode(
            operator_id=operator_id, chain_id=chain_id, message_identifier=identifier, code=code
        )
    held.code, held.live, held.update_number, held.allocated_at = code, True, 0, utcnow()
    session.add(held)
    return code


def _broadcast_end(alert: Alert, settings: CellBroadcastSettings) -> dt.datetime:
    """When the broadcast stops at the latest: CAP expiry, capped by the operator's maximum."""
    hours = (
        settings.max_test_broadcast_hours
        if alert.dispatch_class == DispatchClass.TEST
        else settings.max_broadcast_hours
    )
    cap = utcnow() + dt.timedelta(hours=hours)
    return cap if alert.expires_at is None else min(cap, alert.expires_at)
