"""Planning SMS: recipients in the targeted cells, in batches of at most 1,000, once each.

Recipients are written as `SmsMessage` rows (state queued) in the planning
transaction; the unique (alert, msisdn) key is what makes "never twice"
hold whatever happens later. Exercise and Test alerts reach only
subscribers flagged as testers, and never go out as an operator location
job: that reaches every handset in the cells, the public included.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import and_, case, func, insert, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.alerts.models import Alert
from service.alerts.states import DispatchClass
from service.auth.models import Agency
from service.cap import CapAlert
from service.db import utcnow
from service.delivery.models import SmsMessage, SmsState
from service.dispatch import events
from service.dispatch.models import Action, Channel, Dispatch
from service.dispatch.operator_config import channels_of
from service.network.channels import SmsSettings
from service.network.models import Operator, Targeting
from service.recipients.models import Subscriber
from service.recipients.service import choose_language, select_subscribers


async def plan_sms(
    session: AsyncSession,
    alert: Alert,
    cap: CapAlert,
    operator: Operator,
    settings: SmsSettings,
    targeting: Targeting,
) -> list[Dispatch]:
    """The SMS dispatches of one operator for one alert."""
    if not cap.infos:
        return []
    if settings.mode == "operator":
        if targeting.cell_count == 0:
            return []
        if alert.dispatch_class != DispatchClass.PUBLIC:
            # A location job goes to every handset in the cells: never for a test.
            events.record(
                session,
                "dispatch.skipped",
                alert_id=alert.id,
                operator_id=operator.id,
                channel=Channel.OPERATOR_SMS.value,
                reason="location-based SMS reaches the public: not sent for Exercise/Test",
            )
            return []
        return [_location_job(session, alert, operator, targeting)]
    languages = [info.language for info in cap.infos]
    test_only = alert.dispatch_class == DispatchClass.TEST
    recipients = await _recipients(session, operator.id, targeting, test_only=test_only)
    planned: list[Dispatch] = []
    for number, batch in enumerate(_batches(recipients, settings.batch_size), start=1):
        payload = {"recipients": len(batch)}
        dispatch = _batch(session, alert, operator.id, number, payload)
        await _write_recipients(session, dispatch, alert, operator.id, batch, languages)
        planned.append(dispatch)
    events.record(
        session,
        "sms.planned",
        alert_id=alert.id,
        operator_id=operator.id,
        recipients=len(recipients),
        batches=len(planned),
    )
    return planned


def _location_job(
    session: AsyncSession, alert: Alert, operator: Operator, targeting: Targeting
) -> Dispatch:
    dispatch = Dispatch(
        alert_id=alert.id,
        chain_id=alert.chain_id,
        operator_id=operator.id,
        channel=Channel.OPERATOR_SMS,
        action=Action.SEND,
        payload={"cells": targeting.cell_count},
    )
    session.add(dispatch)
    return dispatch


def target_geometry(targeting: Targeting) -> BaseGeometry | None:
    """The alert's target area (lon/lat) as stored with the targeting, if any."""
    features = (targeting.geojson or {}).get("features", [])
    for feature in features:
        if feature.get("properties", {}).get("role") == "target" and feature.get("geometry"):
            return shape(feature["geometry"])
    return None


async def _recipients(
    session: AsyncSession, operator_id: str, targeting: Targeting, *, test_only: bool
) -> list[tuple[str, str]]:
    """(msisdn, language) of the subscribers to warn, once each, by MSISDN.

    Last known cell among the targeted cells, or registered location inside
    the alert's target area (`service.recipients.service.select_subscribers`).
    """
    chosen = await select_subscribers(
        session, operator_id, targeting.cells, target_geometry(targeting), test_alert=test_only
    )
    return [(subscriber.msisdn, subscriber.language) for subscriber in chosen]


def _batches(items: Sequence[tuple[str, str]], size: int) -> Iterator[Sequence[tuple[str, str]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# Recipients who may hold the warning: the all-clear goes to them, and only them.
_REACHED = (SmsState.SUBMITTED.value, SmsState.DELIVERED.value, SmsState.UNKNOWN.value)


async def plan_all_clear(
    session: AsyncSession, cancel: Alert, chains: set[str], operators: Sequence[Operator]
) -> list[Dispatch]:
    """After a Cancel: the agency's all-clear SMS to everyone the chain's SMS may have reached.

    Nothing is planned when the agency has no all-clear text. The recipients
    come from the chain's own SMS rows, so a test alert's all-clear reaches
    its testers only; the (alert, msisdn) key keeps it to one per phone.
    """
    agency = await session.get(Agency, cancel.agency_id) if cancel.agency_id else None
    if agency is None or not agency.all_clear:
        return []
    texts = dict(agency.all_clear)
    languages = list(texts)
    # The subscriber's own language where still known: the warning may not have had it.
    preferred = func.coalesce(Subscriber.language, SmsMessage.language)
    query = (
        select(SmsMessage.operator_id, SmsMessage.msisdn, preferred)
        .join(Alert, col(Alert.id) == col(SmsMessage.alert_id))
        .outerjoin(
            Subscriber,
            and_(
                col(Subscriber.operator_id) == col(SmsMessage.operator_id),
                col(Subscriber.msisdn) == col(SmsMessage.msisdn),
            ),
        )
        .where(
            col(Alert.chain_id).in_(chains),
            SmsMessage.alert_id != cancel.id,
            col(SmsMessage.state).in_(_REACHED),
        )
        .order_by(col(SmsMessage.msisdn))
    )
    reached: dict[str, dict[str, str]] = {}
    for operator_id, msisdn, language in (await session.exec(query)).all():
        reached.setdefault(operator_id, {}).setdefault(msisdn, str(language))
    planned: list[Dispatch] = []
    for operator in operators:
        recipients = reached.get(operator.id)
        if not recipients:
            continue
        config = channels_of(session, cancel.id, operator)
        settings = None if config is None else config.sms
        if settings is None:
            continue
        batches = _batches(sorted(recipients.items()), settings.batch_size)
        for number, batch in enumerate(batches, start=1):
            payload = {"recipients": len(batch), "all_clear": True, "texts": texts}
            dispatch = _batch(session, cancel, operator.id, number, payload)
            await _write_recipients(session, dispatch, cancel, operator.id, batch, languages)
            planned.append(dispatch)
    if planned:
        events.record(session, "sms.all_clear_planned", alert_id=cancel.id, batches=len(planned))
    return planned


def _batch(
    session: AsyncSession, alert: Alert, operator_id: str, number: int, payload: dict[str, Any]
) -> Dispatch:
    """A new SMS batch dispatch of `alert` (its recipients are written separately)."""
    dispatch = Dispatch(
        alert_id=alert.id,
        chain_id=alert.chain_id,
        operator_id=operator_id,
        channel=Channel.SMS,
        action=Action.SEND,
        batch_no=number,
        payload=payload,
    )
    session.add(dispatch)
    return dispatch


async def _write_recipients(
    session: AsyncSession,
    dispatch: Dispatch,
    alert: Alert,
    operator_id: str,
    batch: Sequence[tuple[str, str]],
    languages: Sequence[str],
) -> None:
    """The batch's `SmsMessage` rows, queued, each in the language it will get."""
    now = utcnow()
    await session.exec(
        insert(SmsMessage),
        params=[
            {
                "dispatch_id": dispatch.id,
                "alert_id": alert.id,
                "operator_id": operator_id,
                "msisdn": msisdn,
                "language": choose_language(language, languages),
                "state": SmsState.QUEUED.value,
                "segments": 1,
                "created_at": now,
            }
            for msisdn, language in batch
        ],
    )


async def stop_queued_sms(session: AsyncSession, dispatch_id: str) -> None:
    """Recipients of a batch not yet handed to a gateway will not get it (Cancel, Update).

    A queued recipient still tied to a gateway is one whose last attempt had an
    ambiguous outcome (docs/dispatch.md): it may have the SMS, so it is
    `unknown`, not `cancelled`.
    """
    table = SmsMessage.__table__  # type: ignore[attr-defined]
    maybe_sent = col(SmsMessage.gateway).is_not(None)
    await session.exec(
        update(SmsMessage)
        .where(
            col(SmsMessage.dispatch_id) == dispatch_id,
            col(SmsMessage.state) == SmsState.QUEUED.value,
        )
        .values(
            state=case((maybe_sent, SmsState.UNKNOWN.value), else_=SmsState.CANCELLED.value),
            final_at=case((maybe_sent, table.c.final_at), else_=utcnow()),
        )
    )
