"""Turn lon/lat rings into geometry that is valid on the [-180, 180] plane.

A CAP polygon around Fiji may list 179.5 then -179.8: read naively that is a
band around the whole world. The rule here: consecutive longitudes that jump
by more than 180° are unwrapped (the short way round), the polygon is built in
the unwrapped plane, then cut at ±180° and the pieces shifted back, giving a
MultiPolygon whose parts meet cells on both sides. A ring whose unwrapped
longitudes wind a full 360° encloses a pole and is closed through it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from geo.projection import FloatArray

EMPTY = MultiPolygon()


def unwrap(lon: FloatArray) -> FloatArray:
    """Make longitudes continuous: any step larger than 180° goes the short way."""
    step = np.diff(lon)
    step = step - 360.0 * np.round(step / 360.0)
    return np.concatenate(([lon[0]], lon[0] + np.cumsum(step)))


def _close_over_pole(lon: FloatArray, lat: FloatArray) -> FloatArray:
    """Ring that winds 360°: add the two corners at the enclosed pole."""
    pole = 90.0 if float(np.mean(lat)) >= 0 else -90.0
    tail = np.array([[lon[-1], pole], [lon[0], pole], [lon[0], lat[0]]])
    return np.vstack((np.column_stack((lon, lat)), tail))


def _ring(coords: FloatArray, near: float | None) -> tuple[FloatArray, bool]:
    """Unwrap one ring; shift it by whole turns to sit near ``near`` (for holes).

    Returns the unwrapped coordinates and whether it had to be closed over a pole.
    """
    lon = unwrap(coords[:, 0])
    if near is not None:
        lon = lon + 360.0 * np.round((near - lon[0]) / 360.0)
    lat = coords[:, 1]
    winding = lon[-1] - lon[0]
    if abs(winding) > 180.0:
        return _close_over_pole(lon, lat), True
    closed = np.column_stack((lon, lat))
    if not np.array_equal(closed[0], closed[-1]):
        closed = np.vstack((closed, closed[:1]))
    return closed, False


def split_at_antimeridian(geometry: Any) -> BaseGeometry:
    """Cut an unwrapped lon/lat geometry at ±180° and shift the pieces back.

    Raises nothing; an empty input gives an empty MultiPolygon.
    """
    if shapely.is_empty(geometry):
        return EMPTY
    minx, _, maxx, _ = shapely.bounds(geometry)
    if minx >= -180.0 and maxx <= 180.0:
        return geometry
    first = int(np.floor((minx + 180.0) / 360.0))
    last = int(np.floor((maxx + 180.0) / 360.0 - 1e-12))
    pieces = []
    for turn in range(first, last + 1):
        west = -180.0 + 360.0 * turn
        piece = shapely.clip_by_rect(geometry, west, -90.0, west + 360.0, 90.0)
        if not shapely.is_empty(piece):
            pieces.append(shapely.transform(piece, lambda c, t=turn: c - [360.0 * t, 0.0]))
    return shapely.union_all(pieces)


def polygon_from_rings(exterior: FloatArray, holes: Sequence[FloatArray] = ()) -> BaseGeometry:
    """Build valid lon/lat geometry from an exterior ring and holes (N×2 lon/lat).

    Self-intersections are repaired with ``make_valid`` (keeping every enclosed
    part: nothing the sender drew is dropped); the caller decides whether to
    report the repair. Raises nothing for degenerate input: it returns empty.
    """
    ext, _ = _ring(exterior, None)
    centre = float((ext[:, 0].min() + ext[:, 0].max()) / 2)
    inner = [_ring(h, centre)[0] for h in holes]
    polygon = Polygon(ext, [h for h in inner if len(h) >= 4])
    if not polygon.is_valid:
        polygon = shapely.make_valid(polygon, method="structure", keep_collapsed=False)
    polygon = shapely.get_parts(polygon)
    areal = [g for g in polygon if shapely.get_type_id(g) in (3, 6)]
    if not areal:
        return EMPTY
    return split_at_antimeridian(areal[0] if len(areal) == 1 else shapely.union_all(areal))


def normalize(geometry: Any) -> BaseGeometry:
    """Normalise any areal lon/lat geometry (e.g. the inverse of a local projection).

    Every polygon's rings are unwrapped and closed over a pole if they wind
    round one, then everything is split at ±180°.
    """
    parts = []
    for polygon in shapely.get_parts(geometry):
        if shapely.get_type_id(polygon) != 3 or polygon.is_empty:
            continue
        exterior = np.asarray(polygon.exterior.coords)[:, :2]
        holes = [np.asarray(r.coords)[:, :2] for r in polygon.interiors]
        parts.append(polygon_from_rings(exterior, holes))
    if not parts:
        return EMPTY
    return shapely.union_all(parts)
