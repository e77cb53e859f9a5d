"""Does an alert stay inside its sender's jurisdiction?

An authority may only warn its own territory. Borders in GeoJSON and CAP
polygons are drawn independently, so a tolerance (1 km by default) absorbs
small differences; anything further out is named, per CAP area, with its area.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from geo.antimeridian import normalize
from geo.areas import AlertArea
from geo.errors import FormatError
from geo.projection import LocalFrame, area_km2, centre_of

_NEGLIGIBLE_KM2 = 1e-6
_FAR_DEG = 2.0  # beyond this from the jurisdiction's box an area is plainly outside


@dataclass(frozen=True)
class OutsideArea:
    """A CAP area reaching beyond the jurisdiction (plus tolerance) by ``outside_km2``.

    ``index`` is the area's position (0-based) among the areas the alert area
    was built from, so a caller can point at the CAP element.
    """

    description: str
    outside_km2: float
    index: int = 0


@dataclass(frozen=True)
class JurisdictionCheck:
    outside: tuple[OutsideArea, ...]
    tolerance_m: float

    @property
    def ok(self) -> bool:
        return not self.outside


def jurisdiction_geometry(geojson: Mapping[str, Any]) -> BaseGeometry:
    """A lon/lat geometry from a GeoJSON geometry, Feature or FeatureCollection.

    Raises:
        FormatError: not GeoJSON, or no area.
    """
    kind = geojson.get("type")
    try:
        if kind == "FeatureCollection":
            shapes = [shape(f["geometry"]) for f in geojson.get("features") or []]
        elif kind == "Feature":
            shapes = [shape(geojson["geometry"])]
        else:
            shapes = [shape(geojson)]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise FormatError(f"jurisdiction is not usable GeoJSON: {exc}") from None
    geometry = normalize(shapely.union_all(shapes)) if shapes else normalize(shapely.Polygon())
    if geometry.is_empty:
        raise FormatError("jurisdiction has no area")
    return geometry


def _outside_km2(geometry: Any, jurisdiction: Any, frame: LocalFrame, allowed: Any) -> float:
    x0, y0, x1, y1 = shapely.bounds(jurisdiction)
    gx0, gy0, gx1, gy1 = shapely.bounds(geometry)
    if gx0 > x1 + _FAR_DEG or gx1 < x0 - _FAR_DEG or gy0 > y1 + _FAR_DEG or gy1 < y0 - _FAR_DEG:
        return area_km2(geometry)  # another region entirely; no projection needed
    local = shapely.union_all(shapely.get_parts(frame.project(geometry)))
    beyond = shapely.difference(local, allowed)
    if beyond.is_empty:
        return 0.0
    return area_km2(normalize(frame.unproject(beyond)))


def check_jurisdiction(
    area: AlertArea,
    jurisdiction: BaseGeometry | Mapping[str, Any],
    *,
    tolerance_m: float = 1000.0,
) -> JurisdictionCheck:
    """Name every CAP area of ``area`` reaching more than ``tolerance_m`` outside.

    Raises:
        FormatError: the jurisdiction GeoJSON is unusable.
    """
    geometry = (
        jurisdiction
        if isinstance(jurisdiction, BaseGeometry)
        else jurisdiction_geometry(jurisdiction)
    )
    frame = LocalFrame(*centre_of(geometry))
    local = shapely.union_all(shapely.get_parts(frame.project(geometry)))
    allowed = shapely.buffer(local, tolerance_m)
    outside = []
    for position, contribution in enumerate(area.contributions):
        if not contribution.targetable:
            continue
        km2 = _outside_km2(contribution.geometry, geometry, frame, allowed)
        if km2 > _NEGLIGIBLE_KM2:
            outside.append(OutsideArea(contribution.description, km2, position))
    return JurisdictionCheck(tuple(outside), tolerance_m)
