"""Use cases: import geocode shapes, keep jurisdictions, check alert areas at intake.

Nothing here commits; the request, job or CLI command owns the transaction.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry
from sqlmodel.ext.asyncio.session import AsyncSession

from geo import (
    AlertArea,
    AreaTooComplexError,
    ComplexityLimits,
    FormatError,
    GeocodeRegistry,
    build_alert_area,
    check_jurisdiction,
)
from geo.jurisdiction import jurisdiction_geometry
from geo.projection import area_km2
from geo.simplify import check_hard_limits
from service.alerts.errors import AreaTooComplexIntakeError, OutsideJurisdictionError
from service.areas import repository
from service.areas.models import GeocodeShape, Jurisdiction
from service.auth.cache import DEFAULT_TTL_S
from service.auth.models import Agency
from service.cap import CapAlert, Issue
from service.db import utcnow
from service.network.cap_areas import LocatedArea, alert_areas, geocode_keys, info_areas

MAX_TOLERANCE_M = 50_000.0
_PARSED_CACHE_LIMIT = 64


class AreaConfigurationError(ValueError):
    """A geocode file or jurisdiction that cannot be used; the message says why."""


def _scheme_key(scheme: str) -> str:
    # Same folding as geo.GeocodeRegistry, so stored keys match its lookups.
    return scheme.strip().casefold()


async def import_geocodes(
    session: AsyncSession, scheme: str, collection: Mapping[str, Any], *, code_property: str
) -> int:
    """Replace the shapes of `scheme` with the features of a GeoJSON FeatureCollection.

    Raises:
        AreaConfigurationError: not a FeatureCollection, a feature without code or area.
    """
    if not scheme.strip():
        raise AreaConfigurationError("the scheme name is empty")
    try:
        registry = GeocodeRegistry.from_geojson({scheme: collection}, code_property=code_property)
    except FormatError as exc:
        raise AreaConfigurationError(str(exc)) from exc
    if not len(registry):
        raise AreaConfigurationError("the collection has no features")
    now = utcnow()
    rows = [
        GeocodeShape(
            scheme=_scheme_key(scheme), code=code, wkb=shapely.to_wkb(geometry), imported_at=now
        )
        for (_, code), geometry in registry.shapes.items()
    ]
    await repository.replace_scheme(session, _scheme_key(scheme), rows)
    return len(rows)


async def registry_for(session: AsyncSession, areas: list[LocatedArea]) -> GeocodeRegistry:
    """A registry holding just the geocodes `areas` use (not the whole table)."""
    keys = {(_scheme_key(s), c.strip()) for s, c in geocode_keys(areas)}
    if not keys:
        return GeocodeRegistry()
    rows = await repository.shapes(session, keys)
    return GeocodeRegistry.from_shapes((r.scheme, r.code, shapely.from_wkb(r.wkb)) for r in rows)


def _digest(geojson: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(geojson, sort_keys=True).encode()).hexdigest()


async def set_jurisdiction(
    session: AsyncSession, agency: Agency, geojson: Mapping[str, Any], *, tolerance_m: float
) -> Jurisdiction:
    """Give an agency its territory (replacing any earlier one).

    Raises:
        AreaConfigurationError: unusable GeoJSON, no area, or a tolerance out of range.
    """
    if not (0.0 <= tolerance_m <= MAX_TOLERANCE_M):
        raise AreaConfigurationError(f"tolerance must be in [0, {MAX_TOLERANCE_M:.0f}] m")
    try:
        geometry = jurisdiction_geometry(geojson)
    except FormatError as exc:
        raise AreaConfigurationError(str(exc)) from exc
    row = await repository.jurisdiction(session, agency.id) or Jurisdiction(
        agency_id=agency.id, geojson={}, sha256=""
    )
    row.geojson = dict(geojson)
    row.sha256 = _digest(geojson)
    row.tolerance_m = tolerance_m
    row.km2 = area_km2(geometry)
    row.updated_at = utcnow()
    session.add(row)
    await session.flush()
    _digests.forget(agency.id)
    return row


async def get_jurisdiction(session: AsyncSession, agency_id: str) -> Jurisdiction | None:
    """An agency's jurisdiction, if it has one."""
    return await repository.jurisdiction(session, agency_id)


async def clear_jurisdiction(session: AsyncSession, agency_id: str) -> bool:
    """Let an agency warn anywhere again; False when it had no jurisdiction."""
    _digests.forget(agency_id)
    return await repository.delete_jurisdiction(session, agency_id)


class _DigestCache:
    """Agency -> its jurisdiction's (sha256, tolerance) or None, for a few seconds.

    Every intake needs it, and it rarely changes: reading it each time cost a
    read transaction per alert. A change made in this process takes effect at
    once; one made by another process (the CLI) within `DEFAULT_TTL_S`, the
    same delay as for an agency's other settings and its keys (auth.cache).
    """

    def __init__(self, ttl_s: float = DEFAULT_TTL_S) -> None:
        self._ttl_s = ttl_s
        self._entries: dict[str, tuple[float, tuple[str, float] | None]] = {}

    async def get(self, session: AsyncSession, agency_id: str) -> tuple[str, float] | None:
        now = time.monotonic()
        cached = self._entries.get(agency_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        digest = await repository.jurisdiction_digest(session, agency_id)
        if len(self._entries) >= _PARSED_CACHE_LIMIT:
            self._entries.clear()
        self._entries[agency_id] = (now + self._ttl_s, digest)
        return digest

    def forget(self, agency_id: str) -> None:
        self._entries.pop(agency_id, None)


_digests = _DigestCache()


# Parsed borders by digest: a country outline can take milliseconds to parse,
# and intake must stay fast. The key is the content's hash, so an entry can
# never be stale; the size bound keeps memory flat.
_parsed: dict[str, BaseGeometry] = {}


async def _jurisdiction_shape(
    session: AsyncSession, agency_id: str
) -> tuple[BaseGeometry, float] | None:
    digest = await _digests.get(session, agency_id)
    if digest is None:
        return None
    sha256, tolerance_m = digest
    geometry = _parsed.get(sha256)
    if geometry is None:
        row = await repository.jurisdiction(session, agency_id)
        if row is None:
            return None
        geometry = jurisdiction_geometry(row.geojson)
        if len(_parsed) >= _PARSED_CACHE_LIMIT:
            _parsed.clear()
        _parsed[sha256] = geometry
    return geometry, tolerance_m


def _check_complexity(areas: list[LocatedArea], limits: ComplexityLimits) -> None:
    """Refuse an alert above the hard limits, counted exactly as targeting counts them.

    Targeting unites every distinct area of every info (``alert_areas``: an
    area repeated in several languages counts once), so the count here is over
    those same areas: an alert accepted here never fails targeting as too
    complex. A cheap count, no geometry.
    """
    polygons = [p for item in areas for p in item.area.polygons]
    try:
        check_hard_limits(len(polygons), sum(len(p) for p in polygons), limits)
    except AreaTooComplexError as exc:
        infos = sorted({item.path.split("/area[")[0] for item in areas})
        message = f"{exc} (counted over the distinct areas of every info)"
        raise AreaTooComplexIntakeError(message, [Issue(path, message) for path in infos]) from exc


def _unusable(located: list[LocatedArea], built: AlertArea) -> list[Issue]:
    """Areas (or polygons and circles of them) the jurisdiction check could not see."""
    return [
        Issue(item.path, f"{message}; not checked against the jurisdiction")
        for item, contribution in zip(located, built.contributions, strict=True)
        for message in contribution.messages()
        if contribution.problems or not contribution.targetable
    ]


async def check_alert_areas(
    session: AsyncSession,
    agency: Agency,
    cap: CapAlert,
    limits: ComplexityLimits | None = None,
) -> list[Issue]:
    """Refuse an alert whose areas are too complex or leave the agency's jurisdiction.

    Every usable area of every info is checked, even when another area (or a
    polygon of the same area) cannot become geometry: that one cannot reach
    anyone, and is returned (and named in a refusal) as not checked.

    Returns:
        Issues for areas, polygons or circles that could not be checked.

    Raises:
        AreaTooComplexIntakeError: above the hard complexity limits (see ``_check_complexity``).
        OutsideJurisdictionError: naming each CAP area beyond the jurisdiction.
    """
    limits = limits or ComplexityLimits()
    areas, _ = alert_areas(cap)
    _check_complexity(areas, limits)
    shape = await _jurisdiction_shape(session, agency.id)
    if shape is None:
        return []
    geometry, tolerance_m = shape
    registry = await registry_for(session, areas)
    issues: list[Issue] = []
    unusable: list[Issue] = []
    for n, info in enumerate(cap.infos, 1):
        located = info_areas(info, n, [])
        built = build_alert_area([a.area for a in located], registry=registry, limits=limits)
        unusable.extend(_unusable(located, built))
        check = check_jurisdiction(built, geometry, tolerance_m=tolerance_m)
        issues.extend(
            Issue(
                located[o.index].path,
                f"area {o.description!r} reaches {o.outside_km2:,.1f} km² beyond the "
                f"jurisdiction of '{agency.name}' (tolerance {tolerance_m:.0f} m)",
            )
            for o in check.outside
        )
    if issues:
        names = ", ".join(dict.fromkeys(i.path for i in issues))
        raise OutsideJurisdictionError(
            f"the alert reaches outside the jurisdiction of '{agency.name}': {names}",
            [*issues, *unusable],
        )
    return unusable
