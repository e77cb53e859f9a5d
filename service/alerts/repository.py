"""Every query on the alert tables."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.alerts.models import Alert, AlertDocument, AlertReference
from service.alerts.states import AlertState


async def find_by_identity(
    session: AsyncSession, sender: str, identifier: str, sent_text: str
) -> Alert | None:
    """The alert with exactly this CAP identity triple."""
    query = select(Alert).where(
        Alert.sender == sender, Alert.identifier == identifier, Alert.sent_text == sent_text
    )
    return (await session.exec(query)).first()


async def find_by_sender_identifier(
    session: AsyncSession, sender: str, identifier: str
) -> list[Alert]:
    """Every alert with this sender and identifier, whatever its `sent`."""
    query = select(Alert).where(Alert.sender == sender, Alert.identifier == identifier)
    return list((await session.exec(query)).all())


async def add(session: AsyncSession, alert: Alert, document: AlertDocument) -> None:
    """Stage a new alert and its original bytes (written when the unit of work flushes)."""
    session.add(alert)
    session.add(document)


async def add_references(session: AsyncSession, alert_id: str, referenced: Sequence[str]) -> None:
    """Link an Update or Cancel to the alerts it references."""
    for referenced_id in dict.fromkeys(referenced):
        session.add(AlertReference(alert_id=alert_id, referenced_id=referenced_id))


async def referenced_ids(session: AsyncSession, alert_id: str) -> list[str]:
    """Ids of the alerts `alert_id` references."""
    query = select(AlertReference.referenced_id).where(AlertReference.alert_id == alert_id)
    return list((await session.exec(query)).all())


async def get(session: AsyncSession, alert_id: str) -> Alert | None:
    """An alert by id."""
    return await session.get(Alert, alert_id)


async def get_document(session: AsyncSession, alert_id: str) -> AlertDocument | None:
    """The original bytes of an alert."""
    return await session.get(AlertDocument, alert_id)


async def chain(session: AsyncSession, chain_id: str) -> list[Alert]:
    """Every alert of a chain, oldest first."""
    query = (
        select(Alert)
        .where(Alert.chain_id == chain_id)
        .order_by(col(Alert.received_at), col(Alert.id))
    )
    return list((await session.exec(query)).all())


async def in_states(
    session: AsyncSession, chain_ids: set[str], states: set[AlertState]
) -> list[Alert]:
    """Alerts of the given chains currently in one of `states`."""
    query = select(Alert).where(col(Alert.chain_id).in_(chain_ids), col(Alert.state).in_(states))
    return list((await session.exec(query)).all())


async def chains_affected_by(session: AsyncSession, alert: Alert) -> set[str]:
    """The chain of `alert` and the chains of every alert it references."""
    query = (
        select(Alert.chain_id)
        .join(AlertReference, col(AlertReference.referenced_id) == col(Alert.id))
        .where(AlertReference.alert_id == alert.id)
    )
    return {alert.chain_id, *(await session.exec(query)).all()}


@dataclass(frozen=True)
class AlertFilter:
    """What `GET /alerts` can filter on."""

    state: str | None = None
    status: str | None = None
    sender: str | None = None
    msg_type: str | None = None
    sent_after: dt.datetime | None = None
    sent_before: dt.datetime | None = None
    agency_id: str | None = None


async def page(
    session: AsyncSession,
    filters: AlertFilter,
    *,
    limit: int,
    after: tuple[dt.datetime, str] | None = None,
) -> list[Alert]:
    """Newest first; `after` is the (received_at, id) of the last row of the previous page."""
    query = select(Alert)
    for column, value in (
        (Alert.state, filters.state),
        (Alert.status, filters.status),
        (Alert.sender, filters.sender),
        (Alert.msg_type, filters.msg_type),
        (Alert.agency_id, filters.agency_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if filters.sent_after:
        query = query.where(col(Alert.sent_at) >= filters.sent_after)
    if filters.sent_before:
        query = query.where(col(Alert.sent_at) < filters.sent_before)
    if after is not None:
        query = query.where(
            or_(
                col(Alert.received_at) < after[0],
                and_(col(Alert.received_at) == after[0], col(Alert.id) < after[1]),
            )
        )
    query = query.order_by(col(Alert.received_at).desc(), col(Alert.id).desc()).limit(limit)
    return list((await session.exec(query)).all())


async def active_past_expiry(
    session: AsyncSession, now: dt.datetime, limit: int = 200
) -> list[Alert]:
    """Active alerts whose CAP expiry has passed (the expiry sweep ends them)."""
    query = (
        select(Alert)
        .where(
            Alert.state == AlertState.ACTIVE.value,
            col(Alert.expires_at).is_not(None),
            col(Alert.expires_at) < now,
        )
        .limit(limit)
    )
    return list((await session.exec(query)).all())
