"""Reading CAP ``polygon`` and ``circle`` text and checking that it makes sense.

The schema types both as free strings, so a polygon that is open, tiny,
out of range or crossing itself passes schema validation; it would then make
cell selection silently wrong. Points stay in CAP's (lat, lon) order here;
only the self-intersection check builds a lon/lat shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import shapely

_NUMBER = r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_POINT = re.compile(rf"({_NUMBER}),({_NUMBER})")
_CIRCLE = re.compile(rf"({_NUMBER}),({_NUMBER})[ \t\r\n]+({_NUMBER})")
_MIN_POLYGON_POINTS = 4


def _range_problem(lat: float, lon: float) -> str | None:
    if not -90.0 <= lat <= 90.0:
        return f"latitude {lat} is outside -90..90"
    if not -180.0 <= lon <= 180.0:
        return f"longitude {lon} is outside -180..180"
    return None


def _unwrap_longitudes(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Return (lon, lat) pairs with longitudes made continuous across +/-180.

    A polygon around Fiji written as 179,... -179,... is one small shape, not
    a band around the globe; shifting each jump of more than 180 degrees by
    360 lets GEOS see it as drawn.
    """
    unwrapped: list[tuple[float, float]] = []
    shift = 0.0
    previous_lon: float | None = None
    for lat, lon in points:
        if previous_lon is not None:
            if lon - previous_lon > 180.0:
                shift -= 360.0
            elif previous_lon - lon > 180.0:
                shift += 360.0
        previous_lon = lon
        unwrapped.append((lon + shift, lat))
    return unwrapped


@dataclass(frozen=True)
class PolygonReading:
    """What a polygon's text yielded.

    ``usable`` polygons go into the model: readable, in range, closed, with at
    least four points. A self-intersecting ring is still usable (the geo
    library can repair it), so it is kept and only reported.
    """

    points: list[tuple[float, float]]
    problems: list[str]
    usable: bool


def _shape_problems(points: list[tuple[float, float]]) -> tuple[list[str], bool]:
    problems: list[str] = []
    if len(points) < _MIN_POLYGON_POINTS:
        problems.append(
            f"a polygon needs at least {_MIN_POLYGON_POINTS} points; found {len(points)}"
        )
    if points[0] != points[-1]:
        problems.append(
            f"the polygon is not closed: the first point {points[0][0]},{points[0][1]} "
            f"differs from the last {points[-1][0]},{points[-1][1]}"
        )
    if problems:
        return problems, False
    ring = _unwrap_longitudes(points)
    if abs(ring[-1][0] - ring[0][0]) > 1e-9:
        return ["the polygon's edges wrap around the whole globe"], False
    polygon = shapely.Polygon(ring)
    if not shapely.is_valid(polygon):
        return [f"the polygon crosses itself: {shapely.is_valid_reason(polygon)}"], True
    return [], True


def read_polygon(text: str) -> PolygonReading:
    """Parse CAP polygon text ("lat,lon lat,lon ...") and check its shape.

    Reports unreadable points, coordinates out of range, fewer than four
    points, an open ring and a self-intersecting ring.
    """
    tokens = text.split()
    if not tokens:
        return PolygonReading([], ["the polygon is empty"], usable=False)
    points: list[tuple[float, float]] = []
    for number, token in enumerate(tokens, start=1):
        match = _POINT.fullmatch(token)
        if match is None:
            return PolygonReading([], [f"point {number} {token[:40]!r} is not 'lat,lon'"], False)
        lat, lon = float(match[1]), float(match[2])
        problem = _range_problem(lat, lon)
        if problem is not None:
            return PolygonReading([], [f"point {number}: {problem}"], usable=False)
        points.append((lat, lon))
    problems, usable = _shape_problems(points)
    return PolygonReading(points, problems, usable)


def read_circle(text: str) -> tuple[tuple[float, float, float] | None, str | None]:
    """Parse CAP circle text ("lat,lon radius_km").

    Returns the circle (None when it cannot be used) and the problem, if
    any: unreadable text, coordinates out of range, a radius that is not
    positive. A zero radius (a point, as USGS sends for epicentres) is
    returned with its problem so the geo library can still place it.
    """
    match = _CIRCLE.fullmatch(text.strip(" \t\r\n"))
    if match is None:
        return None, f"{text.strip()[:60]!r} is not 'lat,lon radius' (radius in km)"
    lat, lon, radius = float(match[1]), float(match[2]), float(match[3])
    problem = _range_problem(lat, lon)
    if problem is not None:
        return None, problem
    if radius < 0.0:
        return None, f"the radius must be greater than 0 km; got {match[3]}"
    if radius == 0.0:
        return (lat, lon, radius), f"the radius must be greater than 0 km; got {match[3]}"
    return (lat, lon, radius), None
