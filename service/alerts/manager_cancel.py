"""An emergency manager's one-step Cancel of a live alert.

The sender's own CAP Cancel is the usual way to stop a warning, but a manager
watching a wrong or outdated warning must not wait for the agency's system
(Hawaii, 2018: 38 minutes). Tocsin writes the CAP Cancel itself, on the
alert's chain, and takes it in through the same intake path as a posted one:
stored once, audited with the manager as actor, and dispatched at once
(a Cancel never waits for approval), killing every live broadcast of the
chain and stopping SMS not yet sent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from xml.sax.saxutils import escape

from sqlmodel.ext.asyncio.session import AsyncSession

from service.alerts import repository
from service.alerts.errors import AlertNotFoundError, CapRejectedError, DecisionError
from service.alerts.intake import CheckedDocument, IntakeOutcome, ingest
from service.alerts.models import Alert
from service.alerts.states import LIVE_STATES, AlertState
from service.auth.models import Agency
from service.auth.service import Principal
from service.cap import validate_cap
from service.dispatch.repository import live_broadcasts
from service.dispatch.sms_location import live_location_jobs

CANCELLABLE = frozenset({*LIVE_STATES, AlertState.PENDING_APPROVAL})
CONTENT_TYPE = "application/cap+xml"


async def cancel_alert(
    session: AsyncSession, principal: Principal, alert_id: str, reason: str, now: dt.datetime
) -> IntakeOutcome:
    """Write and take in a CAP Cancel of `alert_id`'s chain, in the caller's transaction.

    Raises:
        AlertNotFoundError: no such alert.
        DecisionError: the alert is not live (nor pending approval), or is itself a Cancel.
        IntakeError: the Cancel was refused like a posted one would be.
    """
    alert = await repository.get(session, alert_id)
    if alert is None:
        raise AlertNotFoundError(f"no alert with id {alert_id}")
    live = alert.msg_type != "Cancel" and alert.state in CANCELLABLE
    # Whatever its state says (a Cancel whose kill failed, an Update whose
    # replace failed), a chain with something still on air can be stopped.
    if not live and not await _on_air(session, alert.chain_id):
        raise DecisionError(
            f"alert {alert_id} is a {alert.msg_type} in state {alert.state} "
            "and nothing of its chain is on air"
        )
    agency = await session.get(Agency, alert.agency_id)
    assert agency is not None  # an alert always belongs to an agency
    restriction, addresses = await _scope_details(session, alert)
    content = cancel_document(alert, principal.actor, reason, now, restriction, addresses)
    result = validate_cap(content)
    if not result.accepted or result.alert is None:  # our own writing: a fault of ours
        raise CapRejectedError(
            "the Cancel Tocsin wrote is not valid CAP",
            result.errors,
            kind="invalid-cap",
            status=500,
        )
    document = CheckedDocument(
        content=content,
        content_type=CONTENT_TYPE,
        result=result,
        cap=result.alert,
        agency=agency,
        signature="absent",  # written by Tocsin for an authenticated manager
        digest=hashlib.sha256(content).hexdigest(),
        by_manager=True,
    )
    return await ingest(session, principal, document)


async def _on_air(session: AsyncSession, chain_id: str) -> bool:
    """Whether a broadcast or an operator's location-SMS job of the chain is running."""
    chains = {chain_id}
    return bool(await live_broadcasts(session, chains) or await live_location_jobs(session, chains))


async def _scope_details(session: AsyncSession, alert: Alert) -> tuple[str | None, str | None]:
    """The original's restriction and addresses: a Restricted or Private Cancel needs them."""
    if alert.scope == "Public":
        return None, None
    original = await repository.get_document(session, alert.id)
    parsed = validate_cap(original.content).alert if original is not None else None
    if parsed is None:
        return "cancellation by the emergency manager", None
    return parsed.restriction, parsed.addresses


def cancel_document(
    alert: Alert,
    actor: str,
    reason: str,
    now: dt.datetime,
    restriction: str | None = None,
    addresses: str | None = None,
) -> bytes:
    """A CAP 1.2 Cancel referencing `alert`, in schema order, with the manager's reason."""
    sent = now.astimezone(dt.UTC).replace(microsecond=0).isoformat()
    identifier = f"{alert.identifier}.cancel.{now.astimezone(dt.UTC):%Y%m%dT%H%M%S%f}"
    reference = f"{alert.sender},{alert.identifier},{alert.sent_text}"
    scoped = ""
    if alert.scope == "Restricted":
        scoped = f"<restriction>{escape(restriction or 'cancellation')}</restriction>"
    elif alert.scope == "Private":
        scoped = f"<addresses>{escape(addresses or '')}</addresses>"
    note = reason.strip() or "cancelled by the emergency manager"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">'
        f"<identifier>{escape(identifier)}</identifier>"
        f"<sender>{escape(alert.sender)}</sender>"
        f"<sent>{sent}</sent>"
        f"<status>{escape(alert.status)}</status>"
        "<msgType>Cancel</msgType>"
        f"<source>{escape(f'Tocsin, cancelled by {actor}')}</source>"
        f"<scope>{escape(alert.scope)}</scope>{scoped}"
        f"<note>{escape(note)}</note>"
        f"<references>{escape(reference)}</references>"
        "</alert>\n"
    ).encode()
