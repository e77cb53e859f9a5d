"""From a stored alert to what the channels need: its CAP model, facts and texts.

The stored bytes are the source of truth (never a second parsed copy that
could drift); parsing them again is deterministic, so a retried job builds
exactly the bytes the first attempt built.
"""

from __future__ import annotations

import logging
from functools import lru_cache

from sqlmodel.ext.asyncio.session import AsyncSession

from channels.cbs.facts import AlertFacts
from channels.cbs.message import CbsMessage, build_message
from channels.cbs.profiles import CmasProfile, CustomProfile, EuAlertProfile
from channels.cbs.serial import GeoScope, SerialNumber
from channels.cbs.text import InfoText, additional_languages
from channels.cbs.wac import WarningArea, encode_warning_area
from service.alerts import repository as alerts
from service.cap import CapAlert, CapInfo, read_accepted_cap

Profile = CmasProfile | EuAlertProfile | CustomProfile
log = logging.getLogger(__name__)


class AlertContentMissingError(LookupError):
    """The alert or its stored document is gone (never expected: alerts are not deleted)."""


@lru_cache(maxsize=256)
def _parse(alert_id: str, content: bytes) -> CapAlert:
    alert = read_accepted_cap(content)
    if alert is None:  # accepted once, so this means the bytes were altered
        raise AlertContentMissingError(f"alert {alert_id}: the stored CAP no longer parses")
    return alert


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


def is_additional_language(cap: CapAlert, info_index: int) -> bool:
    """Whether info block `info_index` takes the additional-language identifier (ID + 13).

    Not simply "any block after the first": a second block in the primary
    language (two English infos for two areas) is still the primary language,
    and phones that hide additional-language messages must show it.
    """
    return additional_languages([info.language for info in cap.infos])[info_index]


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
        additional_language=is_additional_language(cap, info_index),
    )


def warning_area_of(info: CapInfo, budget: int, max_wait_s: int | None = None) -> bytes | None:
    """The WAC octets of the info's polygons and circles, simplified outward to `budget`.

    `max_wait_s` (the operator's `warning_area_max_wait_s`) adds the maximum-wait
    element: how long a phone may wait for a location fix before showing the
    warning anyway (255: the device's default).

    None, so that phones show the warning anywhere in the targeted cells, when
    the shapes would leave part of the alert area out: an area given by
    geocodes only (geofencing phones would suppress the warning there), or a
    polygon across the antimeridian (phones test points on plain lon/lat and
    would take the long way round). Also None when the shapes cannot be coded;
    the broadcast goes out either way: the cells are the target.
    """
    if not info.areas or any(not area.polygons and not area.circles for area in info.areas):
        return None
    polygons = tuple(tuple(ring) for area in info.areas for ring in area.polygons)
    circles = tuple(circle for area in info.areas for circle in area.circles)
    if any(_spans_antimeridian(ring) for ring in polygons):
        return None
    try:
        return encode_warning_area(WarningArea(polygons, circles, max_wait_s), budget=budget)
    except ValueError as exc:
        log.warning("no warning area coordinates: %s", exc)
        return None


def _spans_antimeridian(ring: tuple[tuple[float, float], ...]) -> bool:
    """Whether an edge jumps more than 180° in longitude: it crosses 180° (as in `geo`)."""
    longitudes = [lon for _lat, lon in ring]
    edges = zip(longitudes, [*longitudes[1:], longitudes[0]], strict=True)
    return any(abs(b - a) > 180 for a, b in edges)
