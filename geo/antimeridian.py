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


def merge(parts: Any) -> BaseGeometry:
    """The union of areal geometries, overlaying only those that meet.

    ``union_all`` overlays everything, which for 200 islands of a coastline
    alert (90,000 points) costs half a second even though almost none of them
    touch. Here a box-and-``intersects`` query finds the parts that meet
    (touching counts), each such group is unioned on its own, and the rest are
    simply collected: the same point set, a valid geometry, a fraction of the
    time.
    """
    polygons = shapely.get_parts(np.asarray(parts, dtype=object).ravel())
    polygons = polygons[~shapely.is_empty(polygons)]
    if not len(polygons):
        return EMPTY
    if len(polygons) == 1:
        return polygons[0]
    first, second = shapely.STRtree(polygons).query(polygons)  # boxes only: cheap
    keep = first < second
    first, second = first[keep], second[keep]
    if len(first):
        # The prepared (indexed) side is the larger one: a small island is then
        # tested against a big coastline in log time, not the other way round.
        sizes = shapely.get_num_coordinates(polygons)
        swap = sizes[first] < sizes[second]
        first, second = np.where(swap, second, first), np.where(swap, first, second)
        shapely.prepare(polygons)
        meets = shapely.intersects(polygons[first], polygons[second])
        first, second = first[meets], second[meets]
    if not len(first):
        return shapely.multipolygons(polygons)
    group = np.arange(len(polygons))

    def root(i: int) -> int:
        while group[i] != i:
            group[i] = group[group[i]]
            i = int(group[i])
        return i

    for a, b in zip(first, second, strict=True):
        ra, rb = root(int(a)), root(int(b))
        if ra != rb:
            group[max(ra, rb)] = min(ra, rb)
    roots = np.array([root(i) for i in range(len(polygons))])
    merged = []
    for r in np.unique(roots):
        members = polygons[roots == r]
        merged.extend(
            shapely.get_parts(members[0] if len(members) == 1 else shapely.union_all(members))
        )
    merged = [g for g in merged if shapely.get_type_id(g) == 3 and not g.is_empty]
    return merged[0] if len(merged) == 1 else shapely.multipolygons(merged)


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
    return merge(parts)
