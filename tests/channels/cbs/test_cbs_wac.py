"""Warning Area Coordinates: exact coding, independent decoding, outward-only simplification."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import Point, Polygon, unary_union

from channels.cbs import WarningArea, encode_warning_area, simplify_outward
from channels.cbs.wac_decoder import WacDecodeError, decode_warning_area

LAT_STEP = 180 / 2**22
LON_STEP = 360 / 2**22


def ring(lat: float, lon: float, radius_deg: float, points: int) -> tuple[tuple[float, float], ...]:
    return tuple(
        (
            lat + radius_deg * math.sin(2 * math.pi * k / points),
            lon + radius_deg * math.cos(2 * math.pi * k / points) / math.cos(math.radians(lat)),
        )
        for k in range(points)
    )


def as_shape(area: WarningArea) -> object:
    """Decoded shapes in lon/lat for coverage checks; circles approximated from inside."""
    parts: list[object] = [Polygon([(lon, lat) for lat, lon in r]) for r in area.polygons]
    for lat, lon, km in area.circles:
        scale = math.cos(math.radians(lat))
        circle = Point(lon * scale, lat).buffer(km / 111.32 * 0.99, quad_segs=32)
        parts.append(Polygon([(x / scale, y) for x, y in circle.exterior.coords]))
    return unary_union([p.buffer(0) for p in parts])  # type: ignore[attr-defined]


points = st.tuples(st.floats(-89.9, 89.9), st.floats(-179.9, 179.9))


@settings(max_examples=200, deadline=None)
@given(
    polygon=st.lists(points, min_size=3, max_size=40, unique=True),
    circles=st.lists(
        st.tuples(st.floats(-89.9, 89.9), st.floats(-179.9, 179.9), st.floats(0.02, 500)),
        max_size=3,
    ),
    wait=st.none() | st.integers(0, 255),
)
def test_round_trip_through_the_independent_decoder(
    polygon: list[tuple[float, float]],
    circles: list[tuple[float, float, float]],
    wait: int | None,
) -> None:
    area = WarningArea((tuple(polygon),), tuple(circles), wait)
    decoded = decode_warning_area(encode_warning_area(area))
    assert decoded.max_wait_s == wait
    (got,) = decoded.polygons
    assert len(got) == len(polygon)
    for (lat, lon), (dlat, dlon) in zip(polygon, got, strict=True):
        assert dlat - 1e-9 <= lat < dlat + LAT_STEP + 1e-9
        assert dlon - 1e-9 <= lon < dlon + LON_STEP + 1e-9
    for (lat, lon, km), (dlat, dlon, dkm) in zip(circles, decoded.circles, strict=True):
        assert dlat - 1e-9 <= lat < dlat + LAT_STEP + 1e-9
        assert dlon - 1e-9 <= lon < dlon + LON_STEP + 1e-9
        assert km <= dkm < km + 1 / 64


def test_closing_point_is_dropped() -> None:
    closed = ((40.0, -75.0), (40.0, -74.0), (41.0, -74.5), (40.0, -75.0))
    assert encode_warning_area(WarningArea((closed,))) == encode_warning_area(
        WarningArea((closed[:-1],))
    )


def test_detailed_polygon_is_simplified_outward_within_budget() -> None:
    detailed = ring(47.0, 8.0, 0.3, 3000)  # 3000 vertices: ~16 kB exact, far over 1024
    area = WarningArea((detailed,))
    octets = encode_warning_area(area)
    assert len(octets) <= 1024
    decoded = decode_warning_area(octets)
    original = Polygon([(lon, lat) for lat, lon in detailed])
    covered = as_shape(WarningArea(decoded.polygons))
    assert covered.covers(original)  # type: ignore[attr-defined]
    assert covered.area < original.area * 1.2  # type: ignore[attr-defined]


def test_many_polygons_and_circles_fit_a_small_budget() -> None:
    polygons = tuple(ring(50 + i * 0.05, 10.0, 0.02, 30) for i in range(40))
    circles = tuple((49.0, 9.0 + i * 0.01, 1.0) for i in range(60))
    area = WarningArea(polygons, circles, max_wait_s=10)
    octets = encode_warning_area(area, budget=256)
    assert len(octets) <= 256
    decoded = decode_warning_area(octets)
    assert decoded.max_wait_s == 10
    covered = as_shape(WarningArea(decoded.polygons, decoded.circles))
    assert covered.covers(as_shape(area))  # type: ignore[attr-defined]


def test_antimeridian_polygon_stays_on_both_sides() -> None:
    crossing = ring(-17.0, 179.9, 0.5, 400)  # reaches past 180° east
    wrapped = tuple((lat, (lon + 180) % 360 - 180) for lat, lon in crossing)
    simplified = simplify_outward(WarningArea((wrapped,)), budget=200)
    lons = [lon for r in simplified.polygons for _, lon in r]
    assert all(-180 <= lon <= 180 for lon in lons)
    assert min(lons) < -179.5
    assert max(lons) > 179.3


def test_validation() -> None:
    with pytest.raises(ValueError, match="at least one"):
        encode_warning_area(WarningArea())
    with pytest.raises(ValueError, match="3 distinct"):
        encode_warning_area(WarningArea((((1.0, 1.0), (1.0, 1.0), (2.0, 2.0)),)))
    with pytest.raises(ValueError, match="latitude"):
        encode_warning_area(WarningArea((((91.0, 1.0), (1.0, 1.0), (2.0, 2.0)),)))
    with pytest.raises(ValueError, match="budget"):
        encode_warning_area(WarningArea(circles=((1.0, 1.0, 1.0),)), budget=16)


@pytest.mark.parametrize(
    ("octets", "message"),
    [
        ("10", "truncated"),
        ("100C", "claims"),
        ("500C1E", "unknown element type 5"),
        ("200C1E", "not whole 44-bit points"),
        ("3018CA7B560DE8", "8 octets"),
    ],
)
def test_decoder_rejects_malformed_input(octets: str, message: str) -> None:
    with pytest.raises(WacDecodeError, match=message):
        decode_warning_area(bytes.fromhex(octets))
