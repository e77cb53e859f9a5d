"""One live message per identifier on osmo-cbc: who holds an identifier, and what a newcomer does.

osmo-cbc keys its messages by message identifier alone (telecom.md §2): a
second POST with a live identifier is a 409, and the ECBE adapter must read a
409 as "our earlier attempt landed" (ECBE has no idempotency key). A broadcast
of another alert (or of another info of the same alert) that maps to a live
identifier would therefore be taken for sent while nothing new is on the air,
and its later Kill would stop the other alert's warning.

So before a broadcast goes to such a CBC, the job looks for a holder of its
identifier on the operator's network, under the operator's row lock (two jobs
cannot both find the identifier free):

* none: send;
* another CBC of the operator takes concurrent messages: send there;
* the holder is being stopped (its Kill is on the way) or is being sent right
  now: wait a moment and look again (up to `MAX_WAIT_S`);
* the holder is live and staying: refuse. The dispatch fails with a reason
  naming the alert that holds the identifier and a `dispatch.identifier-conflict`
  event, so a manager can Update or Cancel that alert. Queuing behind it is no
  answer: a warning runs for up to 22.5 h, and a warning silently held back
  for hours is worse than a refusal someone sees.

An Update of the same chain is no newcomer: it replaces its own broadcast
(same identifier and code, Write-Replace), which is never a holder.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from service.dispatch import repository
from service.dispatch.models import Action, Dispatch
from service.dispatch.registry import NamedCbc

# Longer than any CBC call (osmo-cbc: two POSTs of 20 s), so a claim left by a
# crashed worker stops counting as "being sent" on its own.
IN_FLIGHT = dt.timedelta(seconds=60)
WAIT = dt.timedelta(seconds=2)  # a Kill on osmo-cbc lands in well under a second with peers
MAX_WAIT = dt.timedelta(seconds=120)  # a Kill not landed by then is stuck: refuse, say why


@dataclass(frozen=True)
class Clear:
    """Send, but not through the CBCs in `avoid` (there the identifier is taken)."""

    avoid: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Wait:
    """The holder is going away or being sent: look again after `WAIT`."""

    holder: Dispatch
    reason: str


@dataclass(frozen=True)
class Refuse:
    """The holder stays: this broadcast cannot go out on this network's osmo-cbc."""

    holder: Dispatch
    reason: str


Verdict = Clear | Wait | Refuse


async def check(
    session: AsyncSession, dispatch: Dispatch, cbcs: Sequence[NamedCbc], now: dt.datetime
) -> Verdict:
    """What `dispatch` may do given the other broadcasts holding its identifier."""
    keyed = {c.name for c in cbcs if c.adapter.capabilities.one_message_per_identifier}
    if dispatch.action == Action.KILL or dispatch.message_identifier is None or not keyed:
        return Clear()
    holders = [
        holder
        for holder in await repository.identifier_holders(
            session, dispatch, in_flight_since=now - IN_FLIGHT
        )
        if _may_sit_on(holder, keyed, {c.name for c in cbcs})
    ]
    if not holders:
        return Clear()
    if len(keyed) < len(cbcs):
        return Clear(avoid=frozenset(keyed))
    holder = holders[0]
    if await _going(session, holder) and now - dispatch.planned_at < MAX_WAIT:
        return Wait(holder, _waiting(dispatch, holder))
    return Refuse(holder, _refusal(dispatch, holder))


def _may_sit_on(holder: Dispatch, keyed: set[str], configured: set[str]) -> bool:
    """Whether the holder is (or may end up) on one of the one-message-per-identifier CBCs."""
    if not holder.live or holder.endpoint is None:
        return True  # being sent: it may go anywhere
    return holder.endpoint in keyed or holder.endpoint not in configured


async def _going(session: AsyncSession, holder: Dispatch) -> bool:
    """Being sent right now, or a Kill of it is on the way: the identifier frees up soon."""
    return not holder.live or await repository.pending_kill_of(session, holder.id) is not None


def _whose(dispatch: Dispatch, holder: Dispatch) -> str:
    if holder.alert_id == dispatch.alert_id:
        return f"info {holder.info_index} of this alert"
    return f"alert {holder.alert_id}"


def _waiting(dispatch: Dispatch, holder: Dispatch) -> str:
    return (
        f"waiting: message identifier {dispatch.message_identifier} is still held by"
        f" {_whose(dispatch, holder)} (dispatch {holder.id}), which is being stopped or sent;"
        " osmo-cbc keys messages by identifier alone"
    )


def _refusal(dispatch: Dispatch, holder: Dispatch) -> str:
    where = f"osmo-cbc '{holder.endpoint}'" if holder.endpoint else "osmo-cbc"
    return (
        f"message identifier {dispatch.message_identifier} is already live on {where} for"
        f" {_whose(dispatch, holder)} (dispatch {holder.id}). osmo-cbc keys messages by"
        " identifier alone, so a second message would be refused or taken for that one;"
        f" Update or Cancel {_whose(dispatch, holder)} to carry this warning"
    )
