"""Alert geometry from the areas of one CAP ``info``.

Input is plain values as CAP carries them: polygons as (lat, lon) pairs in
CAP order, circles as (lat, lon, radius_km), geocodes as (valueName, value).
Output is an ``AlertArea``: one lon/lat geometry (the union of all areas,
split at the antimeridian) plus a report of what each area contributed, which
areas could not be targeted, what was repaired and whether it was simplified.
Nothing is dropped silently: a polygon or circle that cannot be geometry
(coordinates out of range, no enclosed area, a radius beyond 5,000 km) is
left out of the union and named in its area's ``problems``; an area that
yields no geometry at all is named in ``untargetable``. One bad area never
takes the others with it: the caller targets what is usable and reports the
rest (or rejects).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import shapely
from pyproj import Geod
from shapely.geometry.base import BaseGeometry

from geo.antimeridian import EMPTY, merge, normalize, polygon_from_rings
from geo.errors import AreaError, UntargetableAreaError
from geo.geocodes import GeocodeRegistry
from geo.projection import LocalFrame, area_km2, centre_of, to_equal_area
from geo.simplify import (
    ComplexityLimits,
    Simplification,
    check_hard_limits,
    simplify_outward,
    within_soft_limits,
)
from geo.tiles import Outline, Tiles, outline, tile

TILED_ABOVE_POINTS = 10_000
FCC_OVERSHOOT_M = 160.934  # 0.1 statute mile, FCC 18-4 geotargeting
MAX_RADIUS_KM = 5000.0
_GEOD = Geod(ellps="WGS84")

LatLon = tuple[float, float]


@dataclass(frozen=True)
class Circle:
    """A CAP circle: centre latitude, longitude (degrees) and radius in km."""

    lat: float
    lon: float
    radius_km: float


@dataclass(frozen=True)
class Geocode:
    """A CAP geocode: ``valueName`` (the scheme) and ``value`` (the code)."""

    value_name: str
    value: str


@dataclass(frozen=True)
class CapArea:
    """One CAP ``area`` element as values; polygons keep CAP's (lat, lon) order."""

    description: str
    polygons: tuple[tuple[LatLon, ...], ...] = ()
    circles: tuple[Circle, ...] = ()
    geocodes: tuple[Geocode, ...] = ()


def parse_cap_polygon(area: str, text: str) -> tuple[LatLon, ...]:
    """Parse CAP polygon text ("lat,lon lat,lon ...").

    Raises:
        AreaError: a pair that is not two numbers.
    """
    try:
        pairs = [p.split(",") for p in text.split()]
        return tuple((float(lat), float(lon)) for lat, lon in pairs)
    except ValueError:
        raise AreaError(area, f"polygon is not 'lat,lon' pairs: {text[:60]!r}") from None


def parse_cap_circle(area: str, text: str) -> Circle:
    """Parse CAP circle text ("lat,lon radius_km").

    Raises:
        AreaError: malformed text.
    """
    try:
        centre, radius = text.split()
        lat, lon = centre.split(",")
        return Circle(float(lat), float(lon), float(radius))
    except ValueError:
        raise AreaError(area, f"circle is not 'lat,lon radius': {text[:60]!r}") from None


@dataclass(frozen=True)
class AreaContribution:
    """What one CAP area gave: its geometry (lon/lat) and how it was made."""

    description: str
    geometry: BaseGeometry
    km2: float
    polygons: int
    circles: int
    geocodes_used: tuple[str, ...]
    geocodes_unknown: tuple[str, ...]
    notes: tuple[str, ...]
    problems: tuple[str, ...] = ()
    """Polygons and circles of this area that could not be used, and why."""

    @property
    def targetable(self) -> bool:
        return not self.geometry.is_empty

    def untargetable_reason(self) -> str:
        """Why this area yields no geometry (meaningful when not ``targetable``)."""
        reasons = list(self.problems)
        if self.geocodes_unknown:
            reasons.append(f"unknown geocodes: {', '.join(self.geocodes_unknown)}")
        if not reasons:
            reasons.append("no polygon, circle or geocode")
        return "; ".join(reasons)

    def messages(self) -> list[str]:
        """Everything worth telling the sender about this area, one line each."""
        out = []
        if not self.targetable:
            out.append(
                f"area {self.description!r} cannot be targeted ({self.untargetable_reason()})"
            )
        else:
            out.extend(
                f"area {self.description!r}: {p}; the rest of it is targeted" for p in self.problems
            )
            if self.geocodes_unknown:
                out.append(
                    f"area {self.description!r}: unknown geocodes ignored: "
                    f"{', '.join(self.geocodes_unknown)}"
                )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "area": self.description,
            "targetable": self.targetable,
            "km2": round(self.km2, 3),
            "polygons": self.polygons,
            "circles": self.circles,
            "geocodes_used": list(self.geocodes_used),
            "geocodes_unknown": list(self.geocodes_unknown),
            "notes": list(self.notes),
            "problems": list(self.problems),
            "messages": self.messages(),
        }


@dataclass(frozen=True)
class AlertArea:
    """The target of CAP areas: lon/lat geometry plus the report of how it was made.

    ``geometry`` is what cells are selected with: the sender's areas, or when
    they were above the soft limits their outward simplification (which
    covers them). ``original`` is then the sender's own union, and the
    metrics are measured against it (``sender_equal_area``), so the band the
    simplification added counts as overshoot, not as target.
    """

    geometry: BaseGeometry
    contributions: tuple[AreaContribution, ...]
    simplification: Simplification | None = None
    warnings: tuple[str, ...] = field(default=())
    original: BaseGeometry | None = None

    @property
    def untargetable(self) -> tuple[str, ...]:
        """Names of areas that produced no geometry (e.g. only unknown geocodes)."""
        return tuple(c.description for c in self.contributions if not c.targetable)

    @property
    def is_empty(self) -> bool:
        return bool(self.geometry.is_empty)

    def require_targetable(self) -> AlertArea:
        """Return self, or refuse when any area cannot be targeted.

        Raises:
            UntargetableAreaError: naming every such area.
        """
        if self.untargetable:
            raise UntargetableAreaError(self.untargetable)
        return self

    @cached_property
    def km2(self) -> float:
        return area_km2(self.geometry)

    @cached_property
    def equal_area(self) -> Any:
        """The target in equal-area metres (computed once, reused per operator)."""
        return to_equal_area(self.geometry)

    @property
    def sender_geometry(self) -> BaseGeometry:
        """The sender's own areas (lon/lat), before any simplification."""
        return self.geometry if self.original is None else self.original

    @cached_property
    def sender_equal_area(self) -> Any:
        """The sender's areas in equal-area metres: what the metrics measure against."""
        if self.original is None:
            return self.equal_area
        return to_equal_area(self.original)

    @cached_property
    def fcc_buffer_equal_area(self) -> Any:
        """The sender's areas grown by 0.1 mile (FCC overshoot allowance), equal-area metres.

        Each part is buffered on its own and only the grown parts that meet are
        overlaid (``merge``): for a 200-island coastline this is several times
        faster than buffering the whole multipolygon, and the same shape.
        """
        sender = self.sender_geometry
        if sender.is_empty:
            return self.sender_equal_area
        frame = LocalFrame(*centre_of(sender))
        local = merge(shapely.get_parts(frame.project(sender)))
        grown = merge(shapely.buffer(shapely.get_parts(local), FCC_OVERSHOOT_M, quad_segs=4))
        return to_equal_area(normalize(frame.unproject(grown)))

    @cached_property
    def sender_m2(self) -> float:
        """Area of the sender's areas in m² (``target_km2`` × 10⁶)."""
        return float(shapely.area(self.sender_equal_area))

    @cached_property
    def sender_tiles(self) -> Tiles:
        """The sender's areas and their 161 m buffer (equal-area metres), cut along one
        quadtree into pieces of a few hundred points, for local overlays (layers 0, 1)."""
        return tile(self.sender_equal_area, self.fcc_buffer_equal_area)

    @property
    def sender_is_big(self) -> bool:
        """Whether the metrics overlay the sender's area piece by piece (``sender_tiles``).

        Only above ``TILED_ABOVE_POINTS``: on a 1,000,000-cell network a
        1,000-point county is measured faster whole, a 5,000-point region
        about as fast either way, a 93,000-point coastline twice as fast in
        pieces.
        """
        return int(shapely.get_num_coordinates(self.sender_equal_area)) > TILED_ABOVE_POINTS

    @cached_property
    def fcc_buffer_holds_sender(self) -> bool:
        """Whether the 161 m buffer covers the sender's area (it does, up to round-off)."""
        buffered = self.fcc_buffer_equal_area
        return bool(not buffered.is_empty and shapely.covers(buffered, self.sender_equal_area))

    @cached_property
    def sender_boundary(self) -> Outline:
        """The sender's boundary (equal-area metres): short pieces and the prepared whole."""
        return outline(self.sender_equal_area)

    @cached_property
    def selection_boundary(self) -> Outline:
        """The selection target's boundary (equal-area metres), as ``sender_boundary``."""
        return outline(self.equal_area)

    def shared(self) -> AlertArea:
        """Compute now what every operator's resolution of this alert shares; returns self.

        (Each is otherwise computed by the first resolution that needs it and
        then reused: the projected areas, the 161 m buffer, their pieces.)
        """
        _ = self.equal_area, self.selection_boundary, self.sender_equal_area
        if self.original is not None:
            _ = self.sender_boundary
        if self.sender_is_big:
            _ = self.sender_tiles
        _ = self.fcc_buffer_holds_sender
        shapely.prepare(self.equal_area)
        shapely.prepare(self.sender_equal_area)
        return self

    @cached_property
    def sender_km2(self) -> float:
        return area_km2(self.sender_geometry)

    def report(self) -> dict[str, Any]:
        return {
            "km2": round(self.km2, 3),
            "sender_km2": round(self.sender_km2, 3),
            "areas": [c.to_dict() for c in self.contributions],
            "untargetable": list(self.untargetable),
            "simplification": self.simplification.describe() if self.simplification else None,
            "warnings": list(self.warnings),
        }


def _polygon(area: str, pairs: Sequence[LatLon]) -> tuple[BaseGeometry, list[str]]:
    """One CAP polygon -> lon/lat geometry; notes say what was fixed.

    Raises:
        AreaError: coordinates out of range, fewer than 3 distinct points, no area.
    """
    latlon = np.asarray(pairs, dtype=np.float64).reshape(-1, 2)
    if not np.isfinite(latlon).all():
        raise AreaError(area, "polygon has a coordinate that is not a finite number")
    lat, lon = latlon[:, 0], latlon[:, 1]
    if (np.abs(lat) > 90).any() or (np.abs(lon) > 180).any():
        bad = int(np.flatnonzero((np.abs(lat) > 90) | (np.abs(lon) > 180))[0])
        raise AreaError(
            area, f"point {bad + 1} ({lat[bad]},{lon[bad]}) is outside lat ±90 / lon ±180"
        )
    if len(np.unique(latlon, axis=0)) < 3:
        raise AreaError(area, "polygon needs at least 3 distinct points")
    notes = []
    if not np.array_equal(latlon[0], latlon[-1]):
        notes.append("polygon was not closed (first point != last); closed it")
    ring = np.column_stack((lon, lat))
    if not shapely.is_valid(shapely.Polygon(np.vstack((ring, ring[:1])))):
        notes.append("self-intersecting polygon repaired; every enclosed part kept")
    geometry = polygon_from_rings(ring)
    if geometry.is_empty or shapely.area(geometry) == 0:
        raise AreaError(area, "polygon encloses no area")
    return geometry, notes


def _circle_ring(circle: Circle) -> np.ndarray[Any, Any]:
    # Vertices sit on a slightly larger circle so the chords enclose the true
    # circle: the polygon may overshoot by a sliver but never cuts into it.
    vertices = int(np.clip(circle.radius_km / 5.0, 72, 720))
    reach = circle.radius_km * 1000.0 / np.cos(np.pi / vertices)
    azimuths = np.linspace(0.0, 360.0, vertices, endpoint=False)
    ones = np.ones(vertices)
    lon, lat, _ = _GEOD.fwd(ones * circle.lon, ones * circle.lat, azimuths, ones * reach)
    ring = np.column_stack((lon, lat))
    return np.vstack((ring, ring[:1]))


def _circle(area: str, circle: Circle) -> BaseGeometry:
    """A CAP circle as a geodesic polygon (correct at high latitude, around the poles).

    Raises:
        AreaError: centre out of range or radius not in (0, 5000] km.
    """
    if not (abs(circle.lat) <= 90 and abs(circle.lon) <= 180):
        raise AreaError(area, f"circle centre {circle.lat},{circle.lon} is out of range")
    if not (0 < circle.radius_km <= MAX_RADIUS_KM):
        raise AreaError(area, f"circle radius must be in (0, {MAX_RADIUS_KM:.0f}] km")
    return polygon_from_rings(_circle_ring(circle))


def _area(cap: CapArea, registry: GeocodeRegistry) -> AreaContribution:
    parts: list[BaseGeometry] = []
    notes: list[str] = []
    problems: list[str] = []
    for index, pairs in enumerate(cap.polygons, 1):
        try:
            geometry, fixed = _polygon(cap.description, pairs)
        except AreaError as exc:
            problems.append(f"polygon {index} cannot be used: {exc.detail}")
            continue
        parts.append(geometry)
        notes.extend(f"polygon {index}: {n}" for n in fixed)
    for index, circle in enumerate(cap.circles, 1):
        try:
            parts.append(_circle(cap.description, circle))
        except AreaError as exc:
            problems.append(f"circle {index} cannot be used: {exc.detail}")
    used: list[str] = []
    unknown: list[str] = []
    for code in cap.geocodes:
        shape = registry.lookup(code.value_name, code.value)
        label = f"{code.value_name}={code.value}"
        (unknown if shape is None else used).append(label)
        if shape is not None:
            parts.append(shape)
    geometry = merge(parts) if parts else EMPTY
    if geometry.is_empty:
        notes.append("no usable polygon, circle or known geocode: this area cannot be targeted")
    return AreaContribution(
        description=cap.description,
        geometry=geometry,
        km2=area_km2(geometry) if not geometry.is_empty else 0.0,
        polygons=len(cap.polygons),
        circles=len(cap.circles),
        geocodes_used=tuple(used),
        geocodes_unknown=tuple(unknown),
        notes=tuple(notes),
        problems=tuple(problems),
    )


def build_alert_area(
    areas: Iterable[CapArea],
    *,
    registry: GeocodeRegistry | None = None,
    limits: ComplexityLimits | None = None,
) -> AlertArea:
    """Union of the areas of one CAP info, checked against complexity limits.

    The hard limits count what the sender sent (polygons and their points);
    the soft limits count the final geometry, which is simplified outward
    when above them (reported in ``simplification``, the sender's union kept
    as ``original``). A polygon or circle that cannot be geometry is left out
    and named in its area's ``problems`` (and in ``warnings``); it never
    stops the other areas.

    Raises:
        AreaTooComplexError: above the hard limits.
    """
    areas = tuple(areas)
    limits = limits or ComplexityLimits()
    registry = registry or GeocodeRegistry()
    sent_polygons = sum(len(a.polygons) for a in areas)
    sent_points = sum(len(p) for a in areas for p in a.polygons)
    check_hard_limits(sent_polygons, sent_points, limits)
    contributions = tuple(_area(a, registry) for a in areas)
    usable = [c.geometry for c in contributions if c.targetable]
    geometry = merge(usable) if usable else EMPTY
    simplification = None
    original = None
    if not geometry.is_empty and not within_soft_limits(geometry, limits):
        original = geometry
        geometry, simplification = simplify_outward(geometry, limits)
    warnings = [m for c in contributions for m in c.messages()]
    if simplification is not None:
        warnings.append(
            f"{simplification.describe()}; cells are selected with the simplified area, "
            "the metrics measure against the areas as sent"
        )
    return AlertArea(geometry, contributions, simplification, tuple(warnings), original)
