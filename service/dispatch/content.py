"""From a stored alert to what the channels need: its CAP model, facts and texts.

The stored bytes are the source of truth (never a second parsed copy that
could drift); parsing them again is deterministic, so a retried job builds
exactly the bytes the first attempt built.
"""

from __future__ import annotations

from functools import lru_cache

from sqlmodel.ext.asyncio.session import AsyncSession

from channels.cbs.facts import AlertFacts
from channels.cbs.message import CbsMessage, build_message
from channels.cbs.profiles import CmasProfile, CustomProfile, EuAlertProfile
from channels.cbs.serial import GeoScope, SerialNumber
from channels.cbs.text import InfoText
from service.alerts import repository as alerts
from service.cap import CapAlert, CapInfo, validate_cap

Profile = CmasProfile | EuAlertProfile | CustomProfile


class AlertContentMissingError(LookupError):
    """The alert or its stored document is gone (never expected: alerts are not deleted)."""


@lru_cache(maxsize=256)
def _parse(alert_id: str, content: bytes) -> CapAlert:
    result = validate_cap(content, max_bytes=len(content) + 1)
    if result.alert is None:  # accepted once, so this means the bytes were altered
        raise AlertContentMissingError(f"alert {alert_id}: the stored CAP no longer parses")
    return result.alert


async def load_cap(session: AsyncSession, alert_id: str) -> CapAlert:
    """The CAP model of a stored alert, parsed from its original bytes.

    Raises:
        AlertContentMissingError: no stored document.
    """
    document = await alerts.get_document(session, alert_id)
    if document is None:
        raise AlertContentMissingError(f"alert {alert_id} has no stored document")
    return _parse(alert_id, bytes(document.content))


def facts_of(cap: CapAlert, info: CapInfo) -> AlertFacts:
    """The fields that decide a cell-broadcast identifier."""
    return AlertFacts(
        status=cap.status,
        msg_type=cap.msg_type,
        scope=cap.scope,
        event=info.event,
        urgency=info.urgency,
        severity=info.severity,
        certainty=info.certainty,
        event_codes=tuple(info.event_codes),
        parameters=tuple(info.parameters),
        code=tuple(cap.code),
    )


def text_of(info: CapInfo) -> InfoText:
    """The texts a broadcast or an SMS is composed from."""
    return InfoText(
        language=info.language,
        headline=info.headline or "",
        description=info.description or "",
        instruction=info.instruction or "",
        parameters=tuple(info.parameters),
    )


def compose_broadcast(
    cap: CapAlert,
    info_index: int,
    profile: Profile,
    *,
    message_code: int,
    update_number: int,
) -> CbsMessage:
    """The cell-broadcast message for one info block (its first is the primary language).

    Raises:
        NotBroadcastable: the profile does not broadcast this alert.
    """
    info = cap.infos[info_index]
    # PLMN-wide: a phone that moves to another targeted cell does not show the
    # same warning again (cell-wide scopes would re-alert it at every handover).
    serial = SerialNumber(GeoScope.PLMN_WIDE, message_code, update_number % 16)
    return build_message(
        facts_of(cap, info),
        text_of(info),
        profile,
        serial=serial,
        additional_language=info_index > 0,
    )
