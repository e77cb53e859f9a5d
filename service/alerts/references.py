"""Resolving an Update's or Cancel's `references` to stored alerts of one chain."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from service.alerts import repository
from service.alerts.errors import (
    AmbiguousReferenceError,
    ChainConflictError,
    UnknownReferenceError,
)
from service.alerts.models import Alert
from service.cap import CapReference, Issue

REFERENCES_PATH = "/alert/references"


async def resolve_reference(session: AsyncSession, ref: CapReference) -> Alert:
    """The one stored alert a reference triple names.

    An exact (sender, identifier, sent) match wins; otherwise the same
    instant written with another offset also matches, once.

    Raises:
        UnknownReferenceError: nothing matches.
        AmbiguousReferenceError: several stored alerts match.
    """
    exact = await repository.find_by_identity(session, ref.sender, ref.identifier, ref.sent_text)
    if exact is not None:
        return exact
    candidates = await repository.find_by_sender_identifier(session, ref.sender, ref.identifier)
    same_instant = [a for a in candidates if a.sent_at == ref.sent]
    label = f"{ref.sender},{ref.identifier},{ref.sent_text}"
    if len(same_instant) == 1:
        return same_instant[0]
    if len(same_instant) > 1:
        raise AmbiguousReferenceError(
            f"reference {label} matches {len(same_instant)} stored alerts",
            [Issue(REFERENCES_PATH, f"{label} is ambiguous")],
        )
    raise UnknownReferenceError(
        f"reference {label} names no alert Tocsin has received",
        [Issue(REFERENCES_PATH, f"{label} is unknown")],
    )


async def resolve_chain(
    session: AsyncSession, refs: list[CapReference], *, status: str
) -> tuple[str, list[Alert]]:
    """The chain an Update or Cancel continues, and the alerts it references.

    References may span several chains: a sender may merge warnings into one
    Update, or cancel several at once. The Update continues the chain of its
    oldest referenced alert; the others are superseded or cancelled with it.

    Raises:
        UnknownReferenceError, AmbiguousReferenceError: a reference does not resolve to one alert.
        ChainConflictError: the chain's status differs (a Test chain never turns Actual).
    """
    referenced = [await resolve_reference(session, ref) for ref in refs]
    statuses = {alert.status for alert in referenced}
    if statuses != {status}:
        raise ChainConflictError(
            f"this message has status {status} but references alerts with status "
            f"{', '.join(sorted(statuses))}; a chain keeps one status",
            [Issue("/alert/status", "differs from the referenced alerts' status")],
        )
    oldest = min(referenced, key=lambda alert: (alert.received_at, alert.id))
    return oldest.chain_id, referenced
