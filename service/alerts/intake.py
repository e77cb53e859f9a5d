"""Taking in one CAP document: validate, authorise, de-duplicate, chain, store, audit."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from service.alerts import repository
from service.alerts.errors import (
    CapRejectedError,
    IdentityConflictError,
    SenderNotAllowedError,
    SignatureRejectedError,
)
from service.alerts.lifecycle import became_dispatchable, change_state
from service.alerts.models import Alert, AlertDocument
from service.alerts.references import resolve_chain
from service.alerts.states import LIVE_STATES, AlertState, DispatchClass, dispatch_class_for
from service.areas.service import check_alert_areas
from service.audit import service as audit
from service.auth.models import Agency
from service.auth.service import Principal
from service.cap import (
    CapAlert,
    CapReference,
    Issue,
    RejectionKind,
    ValidationResult,
    validate_cap,
    verify_signature,
)
from service.db import new_id
from service.dispatch.scheduling import schedule_planning

_REJECTION = {
    RejectionKind.INVALID: ("invalid-cap", 422),
    RejectionKind.HOSTILE: ("hostile-xml", 400),
    RejectionKind.NOT_XML: ("malformed-xml", 400),
    RejectionKind.NOT_CAP: ("not-cap", 400),
    RejectionKind.TOO_LARGE: ("payload-too-large", 413),
}


@dataclass(frozen=True)
class IntakeOutcome:
    alert: Alert
    created: bool  # False: an identical replay of an alert already stored
    # The ids of the alerts it references, when known without a lookup (a new alert).
    references: list[str] | None = None


@dataclass(frozen=True)
class CheckedDocument:
    """A CAP document that passed every check needing no database."""

    content: bytes
    content_type: str
    result: ValidationResult
    cap: CapAlert
    agency: Agency
    signature: str  # 'verified', 'unchecked' or 'absent'
    digest: str
    # Written by Tocsin for a manager (manager_cancel): it may stop any chain,
    # whatever the agency's senders are now.
    by_manager: bool = False
    # Set by `check_areas`: the areas passed the complexity and jurisdiction
    # checks, with notes on those that could not be checked.
    areas_checked: bool = False
    area_notes: tuple[Issue, ...] = ()


async def check_areas(session: AsyncSession, document: CheckedDocument) -> CheckedDocument:
    """The jurisdiction and complexity checks, in a reading transaction of the caller's.

    Apart from the storing transaction: building and testing the areas'
    geometry must not hold the database's write lock.

    Raises:
        OutsideJurisdictionError, AreaTooComplexIntakeError: the areas are refused.
    """
    notes = await check_alert_areas(session, document.agency, document.cap)
    return replace(document, areas_checked=True, area_notes=tuple(notes))


def check_document(
    principal: Principal, content: bytes, *, content_type: str, max_bytes: int
) -> CheckedDocument:
    """Validate, authorise the sender and verify the signature: CPU only, no database.

    Kept out of the storing transaction so that parsing a large alert never
    holds the database's write lock (SQLite has one); safe to run in a thread.

    Raises:
        IntakeError: a subclass naming why the document was refused.
    """
    agency = principal.agency
    if agency is None:
        raise SenderNotAllowedError("posting alerts needs a key bound to an agency")
    result = validate_cap(content, strict=agency.strict_cap, max_bytes=max_bytes)
    cap = _accepted_alert(result)
    _check_sender(agency, cap)
    signature = _check_signature(agency, content, cap)
    digest = hashlib.sha256(content).hexdigest()
    return CheckedDocument(content, content_type, result, cap, agency, signature, digest)


async def ingest(
    session: AsyncSession, principal: Principal, document: CheckedDocument
) -> IntakeOutcome:
    """Store a checked CAP document once, chained and audited, inside the caller's transaction.

    Raises:
        IntakeError: a subclass naming why the document was refused (an identity
            already used with other content, an unknown or ambiguous reference,
            an area outside the agency's jurisdiction); nothing is stored.
    """
    cap, agency, result = document.cap, document.agency, document.result
    content, content_type = document.content, document.content_type
    signature, digest = document.signature, document.digest
    existing = await repository.find_by_identity(session, cap.sender, cap.identifier, cap.sent_text)
    if existing is not None:
        return _replay(existing, digest)
    if not document.areas_checked:
        document = await check_areas(session, document)
    alert = _new_alert(cap, result, principal, agency, digest, signature)
    # An area that could not be checked against the jurisdiction cannot reach
    # anyone either: the sender is told, beside the validator's own warnings.
    notes = ({"path": i.path, "message": i.message} for i in document.area_notes)
    alert.warnings = [*alert.warnings, *notes]
    referenced: list[Alert] = []
    references = _without_self_reference(cap, alert)
    if cap.msg_type in {"Update", "Cancel"} and references:
        alert.chain_id, referenced = await resolve_chain(session, references, status=cap.status)
        if not document.by_manager:
            _check_chain_owner(agency, referenced)
    referenced_ids = [a.id for a in referenced]
    chains = {alert.chain_id, *(a.chain_id for a in referenced)}
    # Nothing is written until the unit of work flushes at commit, so the new
    # alert is inserted once, already in the state it ends up in.
    with session.no_autoflush:
        original = AlertDocument(alert_id=alert.id, content=content, content_type=content_type)
        await repository.add(session, alert, original)
        await repository.add_references(session, alert.id, referenced_ids)
        audit.record(
            session,
            actor=principal.actor,
            action="alert.received",
            alert_id=alert.id,
            detail=_audit_detail(alert, referenced_ids),
        )
        await _advance(session, alert, principal, chains)
    return IntakeOutcome(alert, created=True, references=list(dict.fromkeys(referenced_ids)))


def _accepted_alert(result: ValidationResult) -> CapAlert:
    if result.accepted and result.alert is not None:
        return result.alert
    kind, status = _REJECTION[result.kind or RejectionKind.INVALID]
    first = result.errors[0].message if result.errors else "the document was refused"
    raise CapRejectedError(first, result.errors, kind=kind, status=status)


def _check_sender(agency: Agency, cap: CapAlert) -> None:
    if cap.sender not in agency.senders:
        raise SenderNotAllowedError(
            f"agency '{agency.name}' may not send as '{cap.sender}'",
            [Issue("/alert/sender", f"not one of: {', '.join(agency.senders)}")],
        )


def _check_signature(agency: Agency, content: bytes, cap: CapAlert) -> str:
    """'verified', 'unchecked' (signed, no trust configured) or 'absent'.

    Raises:
        SignatureRejectedError: the agency requires a signature and it is missing or bad.
    """
    if not agency.certificates_pem:
        if agency.requires_signature:  # refused at creation; a row edited since must not open up
            raise SignatureRejectedError(
                f"agency '{agency.name}' requires a valid signature but trusts no certificate",
                [Issue("/alert/Signature", "no trusted certificate is configured")],
            )
        return "unchecked" if cap.has_signature else "absent"
    verdict = verify_signature(content, [pem.encode() for pem in agency.certificates_pem])
    if verdict.valid:
        return "verified"
    if agency.requires_signature:
        reason = verdict.reason or ("no signature" if not verdict.present else "invalid signature")
        raise SignatureRejectedError(
            f"agency '{agency.name}' requires a valid signature: {reason}",
            [Issue("/alert/Signature", reason)],
        )
    return "unchecked" if verdict.present else "absent"


def _without_self_reference(cap: CapAlert, alert: Alert) -> list[CapReference]:
    """The references, minus any naming this very message (seen in real feeds).

    An Update that references only itself starts its chain; the sender is
    told so in a warning rather than refused.
    """
    own = (cap.sender, cap.identifier, cap.sent_text)
    kept = [r for r in cap.references if (r.sender, r.identifier, r.sent_text) != own]
    if len(kept) < len(cap.references):
        alert.warnings = [
            *alert.warnings,
            {
                "path": "/alert/references",
                "message": "a reference names this message itself; it was ignored",
            },
        ]
    return kept


def _replay(existing: Alert, digest: str) -> IntakeOutcome:
    if existing.content_sha256 != digest:
        raise IdentityConflictError(
            f"an alert with sender '{existing.sender}', identifier '{existing.identifier}' and "
            f"sent '{existing.sent_text}' was already received with different content; "
            "an update needs a new identifier and msgType Update",
            [Issue("/alert/identifier", "already used with other content")],
        )
    return IntakeOutcome(existing, created=False)


def _check_chain_owner(agency: Agency, referenced: list[Alert]) -> None:
    foreign = [a for a in referenced if a.sender not in agency.senders]
    if foreign:
        raise SenderNotAllowedError(
            f"agency '{agency.name}' may not update or cancel alerts of '{foreign[0].sender}'",
            [Issue("/alert/references", "references another sender's alert")],
        )


def _new_alert(
    cap: CapAlert,
    result: ValidationResult,
    principal: Principal,
    agency: Agency,
    digest: str,
    signature: str,
) -> Alert:
    alert_id = new_id()
    expiries = [info.expires for info in cap.infos if info.expires is not None]
    dispatch_class = dispatch_class_for(cap.status, cap.scope)
    if cap.msg_type in {"Ack", "Error"}:
        dispatch_class = DispatchClass.NONE
    return Alert(
        id=alert_id,
        sender=cap.sender,
        identifier=cap.identifier,
        sent_text=cap.sent_text,
        sent_at=cap.sent,
        cap_version=str(cap.version),
        status=cap.status,
        msg_type=cap.msg_type,
        scope=cap.scope,
        dispatch_class=dispatch_class,
        content_sha256=digest,
        state=AlertState.RECEIVED,
        chain_id=alert_id,
        agency_id=agency.id,
        submitted_by=principal.key_id,
        requires_approval=agency.requires_approval and cap.msg_type != "Cancel",
        expires_at=max(expiries) if expiries else None,
        signature=signature,
        summary=summarize(cap),
        warnings=[{"path": w.path, "message": w.message} for w in result.warnings],
    )


async def _advance(
    session: AsyncSession, alert: Alert, principal: Principal, chains: set[str]
) -> None:
    """Move a fresh alert past `received` as far as its kind allows.

    Draft, System, Ack and Error stay `received` (never dispatched). A Cancel
    never waits for approval: one step must be enough to stop a warning. It
    rejects what was still pending and cancels what was live.
    """
    if alert.dispatch_class == DispatchClass.NONE:
        return
    actor = principal.actor
    if alert.msg_type == "Cancel":
        await _cancel_chains(session, alert, actor, chains)
    if alert.requires_approval:
        await change_state(
            session,
            alert,
            AlertState.PENDING_APPROVAL,
            actor=actor,
            reason="the agency requires approval",
        )
        # Targeting is resolved now, so the approver sees who would be reached.
        schedule_planning(session, alert.id, "received")
        return
    await change_state(
        session, alert, AlertState.APPROVED, actor=actor, reason="no approval required"
    )
    await became_dispatchable(session, alert, actor=actor, chains=chains)


async def _cancel_chains(
    session: AsyncSession, cancel: Alert, actor: str, chains: set[str]
) -> None:
    states = {AlertState.PENDING_APPROVAL, *LIVE_STATES}
    for target in await repository.in_states(session, chains, states):
        if target.id == cancel.id:
            continue
        if target.state == AlertState.PENDING_APPROVAL:
            await change_state(
                session,
                target,
                AlertState.REJECTED,
                actor=actor,
                reason=f"cancelled by {cancel.id} before approval",
            )
        elif target.state in LIVE_STATES:
            await change_state(
                session,
                target,
                AlertState.CANCELLED,
                actor=actor,
                reason=f"cancelled by {cancel.id}",
            )


def _audit_detail(alert: Alert, referenced_ids: list[str]) -> dict[str, Any]:
    return {
        "sender": alert.sender,
        "identifier": alert.identifier,
        "sent": alert.sent_text,
        "msgType": alert.msg_type,
        "status": alert.status,
        "sha256": alert.content_sha256,
        "references": referenced_ids,
    }


def summarize(cap: CapAlert) -> dict[str, Any]:
    """The parsed fields the API shows without re-reading the XML."""
    return {
        "note": cap.note,
        "references": [f"{r.sender},{r.identifier},{r.sent_text}" for r in cap.references],
        "infos": [
            {
                "language": info.language,
                "event": info.event,
                "headline": info.headline,
                "categories": list(info.categories),
                "urgency": info.urgency,
                "severity": info.severity,
                "certainty": info.certainty,
                "expires": info.expires.isoformat() if info.expires else None,
                "areas": [area.area_desc for area in info.areas],
            }
            for info in cap.infos
        ],
    }
