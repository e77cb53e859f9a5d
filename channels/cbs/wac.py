"""Warning Area Coordinates (WEA 3.0 geofencing; ATIS-0700041 §5.2 as in telecom.md §1.5).

Phones that support geofencing show the alert only inside these shapes, so
the coordinates decide who is warned. Two rules follow: the coding must be
exact (MSB-first elements, 22-bit latitude/longitude, 20-bit radius), and when
the shapes do not fit the size budget (1024 octets in the SBc-AP IE) they are
simplified OUTWARD only: a larger area over-alerts a little, a smaller one
would leave people inside the hazard unwarned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from shapely import MultiPolygon, Point, Polygon, make_valid, unary_union

MAX_WAIT_TYPE = 1
POLYGON_TYPE = 2
CIRCLE_TYPE = 3
DEFAULT_BUDGET_OCTETS = 1024
MAX_ELEMENT_OCTETS = 1023  # 10-bit length field
MAX_POLYGON_POINTS = (MAX_ELEMENT_OCTETS - 2) * 8 // 44
MIN_BUDGET_OCTETS = 32  # one quadrilateral (24 octets) plus a max-wait element, with room
_GRID = 2**22
_GRID_STEP_DEG = 360 / _GRID  # the coarser (longitude) step of the coordinate grid
_KM_PER_DEG = 111.32
_CIRCLE_SIDES = 16

LatLon = tuple[float, float]


@dataclass(frozen=True)
class WarningArea:
    """The shapes to send: polygons as (lat, lon) rings, circles as (lat, lon, radius km).

    A ring may or may not repeat its first point at the end (CAP does); the
    repeat is dropped when encoding because a WAC polygon closes implicitly.
    """

    polygons: tuple[tuple[LatLon, ...], ...] = ()
    circles: tuple[tuple[float, float, float], ...] = ()
    max_wait_s: int | None = None


def encode_warning_area(area: WarningArea, *, budget: int = DEFAULT_BUDGET_OCTETS) -> bytes:
    """The WAC octets for `area`, simplified outward if needed to fit `budget` octets.

    Raises:
        ValueError: the budget is below 32 octets, a polygon has fewer than 3
            distinct points, a coordinate or radius is out of range, or the area is empty.
    """
    if budget < MIN_BUDGET_OCTETS:
        raise ValueError(f"a WAC budget below {MIN_BUDGET_OCTETS} octets cannot hold any polygon")
    if not area.polygons and not area.circles:
        raise ValueError("a warning area needs at least one polygon or circle")
    rings = tuple(_open_ring(ring) for ring in area.polygons)
    if any(len(set(ring)) < 3 for ring in rings):
        raise ValueError("a polygon needs at least 3 distinct points")
    exact = WarningArea(rings, area.circles, area.max_wait_s)
    if all(len(ring) <= MAX_POLYGON_POINTS for ring in rings):
        octets = _encode(exact)
        if len(octets) <= budget:
            return octets
    return _encode(simplify_outward(exact, budget))


def simplify_outward(area: WarningArea, budget: int) -> WarningArea:
    """A coarser area that covers `area` and encodes within `budget` octets.

    Works in a local equirectangular frame (longitude scaled by cos(latitude))
    so the tolerance means the same distance north-south and east-west. Each
    round simplifies the shapes by a tolerance and grows them back beyond the
    original (see `_grow`); the tolerance rises by half until the encoding
    fits. Holes are dropped (that only adds area). Circles stay circles unless
    they alone would take half the budget.
    """
    frame = _Frame(area)
    keep_circles = len(area.circles) * 10 <= budget // 2
    shapes: list[Any] = [Polygon([frame.to_xy(p) for p in ring]) for ring in area.polygons]
    if not keep_circles:
        shapes += [frame.circle(circle) for circle in area.circles]
    circles = area.circles if keep_circles else ()
    union = unary_union([make_valid(shape) for shape in shapes])
    if union.is_empty:
        return WarningArea((), circles, area.max_wait_s)
    min_x, min_y, max_x, max_y = union.bounds
    tolerance = max(max_x - min_x, max_y - min_y, _GRID_STEP_DEG) / 4000
    # Simplify once at the starting tolerance: the rounds below then work on a few
    # thousand vertices instead of tens of thousands (NWS polygons reach ~93,000).
    base = union.simplify(tolerance, preserve_topology=True)
    slack = tolerance
    for _ in range(40):
        grown = _grow(base, tolerance, original=union, slack=slack)
        candidate = WarningArea(frame.rings(grown), circles, area.max_wait_s)
        if _fits(candidate, budget):
            return candidate
        tolerance *= 1.5
    box = union.envelope.buffer(tolerance, join_style="mitre")
    return WarningArea(frame.rings(box), circles, area.max_wait_s)


def point_code(lat: float, lon: float) -> int:
    """The 44-bit point: floor((lat+90)/180 * 2^22) then floor((lon+180)/360 * 2^22).

    Longitudes beyond ±180 (polygons written across the antimeridian, as GDACS
    does) are wrapped into -180..180; a latitude outside -90..90 is an error.

    Raises:
        ValueError: latitude outside -90..90, or a non-finite coordinate.
    """
    if not -90 <= lat <= 90 or not math.isfinite(lon):
        raise ValueError(f"({lat}, {lon}) is not a valid latitude/longitude")
    if not -180 <= lon <= 180:
        lon = (lon + 180) % 360 - 180
    lat_code = min(_GRID - 1, math.floor((lat + 90) / 180 * _GRID))
    lon_code = min(_GRID - 1, math.floor((lon + 180) / 360 * _GRID))
    return (lat_code << 22) | lon_code


class _Bits:
    """An MSB-first bit string builder."""

    def __init__(self) -> None:
        self.value = 0
        self.length = 0

    def put(self, value: int, width: int) -> None:
        self.value = (self.value << width) | (value & ((1 << width) - 1))
        self.length += width

    def octets(self) -> bytes:
        pad = -self.length % 8
        return (self.value << pad).to_bytes((self.length + pad) // 8, "big")


def _element(kind: int, body: _Bits) -> bytes:
    content = body.octets()
    length = 2 + len(content)
    if length > MAX_ELEMENT_OCTETS:
        raise ValueError(f"a WAC element of {length} octets exceeds the 10-bit length field")
    header = _Bits()
    header.put(kind, 4)
    header.put(length, 10)
    header.put(0, 2)
    return header.octets() + content


def _encode(area: WarningArea) -> bytes:
    out = b""
    if area.max_wait_s is not None:
        if not 0 <= area.max_wait_s <= 255:
            raise ValueError(f"maximum wait {area.max_wait_s} s is outside 0..255")
        wait = _Bits()
        wait.put(area.max_wait_s, 8)
        out += _element(MAX_WAIT_TYPE, wait)
    for ring in area.polygons:
        if len(set(ring)) < 3:
            raise ValueError("a polygon needs at least 3 distinct points")
        body = _Bits()
        for lat, lon in ring:
            body.put(point_code(lat, lon), 44)
        out += _element(POLYGON_TYPE, body)
    for lat, lon, radius_km in area.circles:
        if not 0 < radius_km * 64 < 2**20:
            raise ValueError(f"radius {radius_km} km is outside what 20 bits of km/64 can hold")
        body = _Bits()
        body.put(point_code(lat, lon), 44)
        body.put(math.ceil(radius_km * 64), 20)  # rounding up keeps the circle from shrinking
        out += _element(CIRCLE_TYPE, body)
    return out


def _fits(area: WarningArea, budget: int) -> bool:
    if any(len(ring) > MAX_POLYGON_POINTS for ring in area.polygons):
        return False
    return len(_encode(area)) <= budget


def _open_ring(ring: tuple[LatLon, ...]) -> tuple[LatLon, ...]:
    return ring[:-1] if len(ring) > 1 and ring[0] == ring[-1] else ring


def _grow(shape: Any, tolerance: float, *, original: Any, slack: float) -> Any:
    """`shape` simplified by `tolerance`, then grown back: never smaller than `original`.

    `shape` is `original` already simplified by `slack`. Douglas-Peucker keeps
    an outline within its tolerance of its input, so anything of `original`
    cut off lies within `slack + tolerance` of the new outline and a buffer of
    twice that wins it back; two grid steps more absorb the flooring of
    coordinates to the 22-bit grid. `covers` double-checks against the
    original; the convex hull is the (coarser) fallback should it ever fail.
    """
    margin = 2 * (tolerance + slack) + 2 * _GRID_STEP_DEG
    grown = shape.simplify(tolerance, preserve_topology=True).buffer(margin, join_style="mitre")
    if grown.covers(original):
        return grown
    return original.convex_hull.buffer(margin, join_style="mitre")


class _Frame:
    """A local equirectangular frame around the area: x = Δlon·cos(lat0), y = lat."""

    def __init__(self, area: WarningArea) -> None:
        points = [p for ring in area.polygons for p in ring] + [(c[0], c[1]) for c in area.circles]
        self.lat0 = sum(p[0] for p in points) / len(points)
        self.lon0 = points[0][1]
        self.scale = max(0.01, math.cos(math.radians(self.lat0)))

    def to_xy(self, point: LatLon) -> tuple[float, float]:
        delta = (point[1] - self.lon0 + 180) % 360 - 180  # shortest way across the antimeridian
        return delta * self.scale, point[0]

    def to_latlon(self, x: float, y: float) -> LatLon:
        lon = (x / self.scale + self.lon0 + 180) % 360 - 180
        return max(-90.0, min(90.0, y)), lon

    def circle(self, circle: tuple[float, float, float]) -> Any:
        # A circumscribed polygon: every side lies outside the circle.
        radius = circle[2] / _KM_PER_DEG / math.cos(math.pi / _CIRCLE_SIDES) * 1.01
        centre = Point(self.to_xy((circle[0], circle[1])))
        return centre.buffer(radius, quad_segs=_CIRCLE_SIDES // 4)

    def rings(self, shape: Any) -> tuple[tuple[LatLon, ...], ...]:
        parts = shape.geoms if isinstance(shape, MultiPolygon) else [shape]
        return tuple(
            tuple(self.to_latlon(x, y) for x, y in part.exterior.coords[:-1])
            for part in parts
            if not part.is_empty
        )
