"""Complexity limits for alert areas, and simplification that never loses area.

Above the soft limits (GOV.UK uses 12 polygons / 250 points) an area is
simplified; above the hard limits it is refused. Simplifying must not drop
anything inside the sender's area (a missed street is worse than a few
extra cells), so the geometry is first buffered outward by ``d`` metres and
then Douglas-Peucker simplified with tolerance ``d / 2``: the simplified
outline stays at least ``0.4 d`` outside the original everywhere, which is
checked explicitly before the result is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

from geo.antimeridian import merge, normalize
from geo.errors import AreaTooComplexError
from geo.projection import LocalFrame, area_km2, centre_of


@dataclass(frozen=True)
class ComplexityLimits:
    """Soft limits trigger simplification, hard limits rejection. Tolerances in metres."""

    soft_polygons: int = 12
    soft_points: int = 250
    hard_polygons: int = 1000
    hard_points: int = 100_000
    first_tolerance_m: float = 50.0
    max_tolerance_m: float = 20_000.0


@dataclass(frozen=True)
class Simplification:
    """What simplification did; ``added_km2`` is area the alert gained, never lost."""

    polygons_before: int
    points_before: int
    polygons_after: int
    points_after: int
    tolerance_m: float
    added_km2: float
    within_soft_limits: bool

    def describe(self) -> str:
        state = "" if self.within_soft_limits else " (still above the soft limits)"
        return (
            f"simplified from {self.polygons_before} polygons / {self.points_before} points "
            f"to {self.polygons_after} / {self.points_after}{state} by growing the area "
            f"outward {self.tolerance_m:.0f} m (+{self.added_km2:.1f} km²)"
        )


def complexity(geometry: Any) -> tuple[int, int]:
    """(polygons, points) of an areal geometry, closing points included as in CAP."""
    return int(shapely.get_num_geometries(geometry)), int(shapely.get_num_coordinates(geometry))


def check_hard_limits(polygons: int, points: int, limits: ComplexityLimits) -> None:
    """Refuse input above the hard limits.

    Raises:
        AreaTooComplexError: with both the counts and the limits in the message.
    """
    if polygons > limits.hard_polygons or points > limits.hard_points:
        raise AreaTooComplexError(
            f"alert area has {polygons} polygons and {points} points; the limit is "
            f"{limits.hard_polygons} polygons and {limits.hard_points} points"
        )


def within_soft_limits(geometry: Any, limits: ComplexityLimits) -> bool:
    polygons, points = complexity(geometry)
    return polygons <= limits.soft_polygons and points <= limits.soft_points


def _grow(local: Any, distance: float, thin: tuple[Any, float] | None = None) -> tuple[Any, Any]:
    """Outward simplification in a metric frame; the result always covers ``local``.

    Buffering a 90,000-point coastline directly takes GEOS many seconds, so
    the outline is first thinned (tolerance d/4, which may cut in by at most
    that much), grown by d and thinned again by d/4. ``thin`` may hand in an
    outline already thinned with a smaller tolerance t (the previous try):
    it is then thinned by d/4 - t only, so the bound stays d/4 and 90,000
    points are not simplified again. The margin (about 0.4 d) is checked with
    ``covers``; should it ever fail, the exact buffer is used.

    Returns the simplified geometry and the thinned outline (for the next try).
    """
    if thin is None:
        outline = shapely.simplify(local, distance / 4, preserve_topology=True)
    else:
        outline = shapely.simplify(thin[0], distance / 4 - thin[1], preserve_topology=True)
    grown = shapely.buffer(outline, distance, quad_segs=2)
    simple = shapely.simplify(grown, distance / 4, preserve_topology=True)
    if shapely.covers(simple, local):
        return simple, outline
    return shapely.buffer(local, distance, quad_segs=2), outline


_AFFORDABLE_POINTS = 5000  # GEOS buffers this many points in tens of milliseconds


def _first_useful(local: Any, limits: ComplexityLimits) -> float:
    """The doubling tolerance to start the search from, read off the outline's scale.

    Growing by ``d / 2`` and thinning by ``d / 8`` leaves at least as many
    points as thinning the sender's outline by ``d`` with Douglas-Peucker (on
    every area tried: growing rounds spikes off, it does not remove corners).
    So with ``f`` the first doubling whose plain Douglas-Peucker count is
    within the soft limit, ``f / 4`` cannot fit, and the search starts at
    ``f / 2``: the same tolerance as doubling from the first one, after one or
    two buffers instead of up to nine (a start too low only costs a try). It
    never starts where the thinned outline is too big to buffer cheaply.
    Only ``simplify`` runs here (milliseconds), no buffer.
    """
    tolerance = limits.first_tolerance_m
    thin = local
    fits_at = limits.max_tolerance_m
    affordable = None
    budget = max(_AFFORDABLE_POINTS, 20 * limits.soft_points)
    while tolerance < limits.max_tolerance_m:
        # Thinning the previous outline (not the original) is an estimate of
        # the count, which is all this needs, and costs a fraction.
        quarter = shapely.simplify(thin, tolerance / 4, preserve_topology=False)
        if affordable is None and shapely.get_num_coordinates(quarter) <= budget:
            affordable = tolerance
        thin = shapely.simplify(quarter, tolerance, preserve_topology=False)
        if shapely.get_num_coordinates(thin) <= limits.soft_points:
            fits_at = tolerance
            break
        tolerance *= 2
    start = max(limits.first_tolerance_m, fits_at / 2, affordable or limits.max_tolerance_m)
    return min(start, limits.max_tolerance_m)


def simplify_outward(
    geometry: BaseGeometry, limits: ComplexityLimits
) -> tuple[BaseGeometry, Simplification]:
    """Grow-and-simplify with doubling tolerance until within the soft limits.

    Stops at ``max_tolerance_m`` and reports if the result is still above
    the soft limits (it is then used as is: it is below the hard ones).
    """
    before = complexity(geometry)
    frame = LocalFrame(*centre_of(geometry))
    local = merge(shapely.get_parts(frame.project(geometry)))
    tolerance = _first_useful(local, limits)
    thin: tuple[Any, float] | None = None
    while True:
        grown, outline = _grow(local, tolerance, thin)
        result = normalize(frame.unproject(grown))
        if within_soft_limits(result, limits) or tolerance >= limits.max_tolerance_m:
            break
        thin = (outline, tolerance / 4)
        tolerance = min(tolerance * 2, limits.max_tolerance_m)
    after = complexity(result)
    report = Simplification(
        polygons_before=before[0],
        points_before=before[1],
        polygons_after=after[0],
        points_after=after[1],
        tolerance_m=tolerance,
        added_km2=max(0.0, area_km2(result) - area_km2(geometry)),
        within_soft_limits=within_soft_limits(result, limits),
    )
    return result, report
