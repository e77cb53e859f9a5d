"""Every query of the dispatch feature."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence

from sqlalchemy import case, func, update
from sqlmodel import and_, col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.alerts.models import Alert
from service.db import utcnow
from service.delivery.models import SmsMessage, SmsState
from service.dispatch.models import (
    OPEN_STATES,
    Action,
    Channel,
    Dispatch,
    DispatchState,
    MessageCode,
)
from service.network.models import Operator, Targeting


async def get(session: AsyncSession, dispatch_id: str) -> Dispatch | None:
    return await session.get(Dispatch, dispatch_id)


async def get_for_update(session: AsyncSession, dispatch_id: str) -> Dispatch | None:
    """The dispatch, locked on PostgreSQL until the transaction ends (jobs race retries).

    Read afresh even if the session holds it already: what was read before the
    lock may have changed before the lock was granted.
    """
    query = (
        select(Dispatch)
        .where(Dispatch.id == dispatch_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.exec(query)).first()


async def operators_with_channels(session: AsyncSession) -> list[Operator]:
    rows = (await session.exec(select(Operator).order_by(col(Operator.id)))).all()
    return [operator for operator in rows if operator.channels]


async def targetings(session: AsyncSession, alert_id: str) -> dict[str, Targeting]:
    rows = (await session.exec(select(Targeting).where(Targeting.alert_id == alert_id))).all()
    return {row.operator_id: row for row in rows}


async def for_alert(session: AsyncSession, alert_id: str) -> list[Dispatch]:
    query = select(Dispatch).where(Dispatch.alert_id == alert_id).order_by(col(Dispatch.planned_at))
    return list((await session.exec(query)).all())


async def live_broadcasts(
    session: AsyncSession, chains: Collection[str], operator_id: str | None = None
) -> list[Dispatch]:
    """Broadcasts running on a CBC now, for the chains (and operator) given."""
    query = select(Dispatch).where(
        col(Dispatch.chain_id).in_(list(chains)),
        Dispatch.channel == Channel.CELL_BROADCAST,
        col(Dispatch.live).is_(True),
    )
    if operator_id is not None:
        query = query.where(Dispatch.operator_id == operator_id)
    return list((await session.exec(query.order_by(col(Dispatch.planned_at)))).all())


async def open_dispatches(
    session: AsyncSession, chains: Collection[str], *, exclude_alert: str | None = None
) -> list[Dispatch]:
    """Broadcasts and SMS batches of the chains that have not been sent yet."""
    query = select(Dispatch).where(
        col(Dispatch.chain_id).in_(list(chains)),
        col(Dispatch.state).in_([s.value for s in OPEN_STATES]),
        Dispatch.action != Action.KILL,
    )
    if exclude_alert is not None:
        query = query.where(Dispatch.alert_id != exclude_alert)
    return list((await session.exec(query)).all())


async def count_open(session: AsyncSession, alert_id: str) -> int:
    query = select(func.count()).where(
        Dispatch.alert_id == alert_id,
        col(Dispatch.state).in_([s.value for s in OPEN_STATES]),
    )
    return int((await session.exec(query)).one())


async def count_cancelled_in_flight(
    session: AsyncSession, alert_id: str, *, since: dt.datetime
) -> int:
    """Broadcasts and location jobs `alert_id` cancelled that are still being submitted.

    Being submitted: a claimed attempt whose heartbeat is newer than `since`
    (cleared when the submission is recorded, fails or is retried). Their
    follow-up kill or stop is planned under `alert_id` once they land.
    """
    query = select(Dispatch.payload).where(
        Dispatch.state == DispatchState.CANCELLED.value,
        col(Dispatch.channel).in_([Channel.CELL_BROADCAST.value, Channel.OPERATOR_SMS.value]),
        Dispatch.action != Action.KILL,
        col(Dispatch.heartbeat_at) >= since,
    )
    payloads = (await session.exec(query)).all()
    return sum(1 for payload in payloads if (payload or {}).get("cancelled_by") == alert_id)


async def count_failed(
    session: AsyncSession, alert_id: str, *, action: Action | None = None
) -> tuple[int, int]:
    """How many of the alert's dispatches (of `action`, if given) failed, and how many it has."""
    failed = func.sum(case((col(Dispatch.state) == DispatchState.FAILED.value, 1), else_=0))
    query = select(func.coalesce(failed, 0), func.count()).where(Dispatch.alert_id == alert_id)
    if action is not None:
        query = query.where(Dispatch.action == action.value)
    found, total = (await session.exec(query)).one()
    return int(found), int(total)


async def expired_broadcasts(
    session: AsyncSession, now: object, limit: int = 200
) -> list[Dispatch]:
    query = (
        select(Dispatch)
        .where(
            Dispatch.channel == Channel.CELL_BROADCAST,
            col(Dispatch.live).is_(True),
            col(Dispatch.expires_at) <= now,
        )
        .limit(limit)
    )
    return list((await session.exec(query)).all())


async def pending_kill_of(session: AsyncSession, target_id: str) -> Dispatch | None:
    """A kill already planned for the broadcast `target_id`, if any."""
    query = select(Dispatch).where(
        Dispatch.action == Action.KILL,
        col(Dispatch.state).in_([DispatchState.PLANNED.value, DispatchState.QUEUED.value]),
        Dispatch.replaces == target_id,
    )
    return (await session.exec(query)).first()


async def message_code(
    session: AsyncSession, operator_id: str, chain_id: str, identifier: int
) -> MessageCode | None:
    query = select(MessageCode).where(
        MessageCode.operator_id == operator_id,
        MessageCode.chain_id == chain_id,
        MessageCode.message_identifier == identifier,
    )
    return (await session.exec(query)).first()


async def live_codes(session: AsyncSession, operator_id: str) -> tuple[set[int], int | None]:
    """The operator's codes in use, and the code allocated last (for rotation).

    In use: live in the code table, or held by a broadcast that is on air or
    about to be. The table keeps one code per (chain, identifier), and two
    same-language info blocks of one alert share both, so the broadcasts
    themselves are asked too.
    """
    query = select(MessageCode.code, MessageCode.live).where(MessageCode.operator_id == operator_id)
    rows = (await session.exec(query.order_by(col(MessageCode.allocated_at)))).all()
    live = {code for code, is_live in rows if is_live}
    held = select(Dispatch.message_code).where(
        Dispatch.operator_id == operator_id,
        Dispatch.channel == Channel.CELL_BROADCAST,
        Dispatch.action != Action.KILL,
        col(Dispatch.message_code).is_not(None),
        or_(
            col(Dispatch.live).is_(True),
            col(Dispatch.state).in_([s.value for s in OPEN_STATES]),
        ),
    )
    live |= {code for code in (await session.exec(held)).all() if code is not None}
    return live, (rows[-1][0] if rows else None)


async def release_code(
    session: AsyncSession, operator_id: str, chain_id: str, identifier: int | None
) -> None:
    """The chain's code for `identifier` is free again once its broadcast is killed."""
    if identifier is None:
        return
    await session.exec(
        update(MessageCode)
        .where(
            col(MessageCode.operator_id) == operator_id,
            col(MessageCode.chain_id) == chain_id,
            col(MessageCode.message_identifier) == identifier,
        )
        .values(live=False)
    )


async def alerts_by_id(session: AsyncSession, ids: Sequence[str]) -> dict[str, Alert]:
    rows = (await session.exec(select(Alert).where(col(Alert.id).in_(list(ids))))).all()
    return {row.id: row for row in rows}


async def cancel_queued_sms(session: AsyncSession, dispatch_id: str) -> None:
    """Recipients of a batch not yet handed to a gateway will not get it."""
    await session.exec(
        update(SmsMessage)
        .where(
            col(SmsMessage.dispatch_id) == dispatch_id,
            col(SmsMessage.state) == SmsState.QUEUED.value,
        )
        .values(state=SmsState.CANCELLED.value, final_at=utcnow())
    )


async def identifier_holders(
    session: AsyncSession, dispatch: Dispatch, *, in_flight_since: dt.datetime
) -> list[Dispatch]:
    """Other broadcasts of the operator with `dispatch`'s identifier, live or being sent now.

    The broadcast `dispatch` replaces is not one: replacing it is the point.
    "Being sent" is a claimed attempt whose heartbeat is newer than `in_flight_since`.
    """
    query = select(Dispatch).where(
        Dispatch.operator_id == dispatch.operator_id,
        Dispatch.channel == Channel.CELL_BROADCAST,
        Dispatch.action != Action.KILL,
        Dispatch.message_identifier == dispatch.message_identifier,
        col(Dispatch.id).not_in([dispatch.id, dispatch.replaces or dispatch.id]),
        or_(
            col(Dispatch.live).is_(True),
            and_(
                Dispatch.state == DispatchState.QUEUED.value,
                col(Dispatch.heartbeat_at) >= in_flight_since,
            ),
        ),
    )
    return list((await session.exec(query.order_by(col(Dispatch.planned_at)))).all())


async def replacement_of(session: AsyncSession, dispatch_id: str) -> Dispatch | None:
    """The Write-Replace that took over broadcast `dispatch_id`, if any (not locked)."""
    query = select(Dispatch).where(
        Dispatch.replaces == dispatch_id, Dispatch.action == Action.REPLACE
    )
    return (await session.exec(query.order_by(col(Dispatch.planned_at)))).first()
