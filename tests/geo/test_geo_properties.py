"""Property tests for the geometry classics: lat,lon order, high-latitude circles, 180°.

Examples of each are in test_geo_areas.py; these check them everywhere a
sender could put an area, and the columnar blob the service stores cells in.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Geod

from geo import (
    CapArea,
    CellIndex,
    Circle,
    build_alert_area,
    decode_table,
    encode_table,
    resolve,
    synthesize_table,
)
from geo.cells import CellTable

PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
GEOD = Geod(ellps="WGS84")
KM = 1 / 111.32


@PROPERTY
@given(lat=st.floats(-80, 80), lon=st.floats(-179.5, 179.5), half_km=st.floats(1, 50))
def test_cap_pairs_are_read_as_lat_lon_everywhere(lat: float, lon: float, half_km: float) -> None:
    dlat = half_km * KM
    dlon = min(half_km * KM / math.cos(math.radians(lat)), 0.49)
    ring = ((lat + dlat, lon - dlon), (lat + dlat, lon + dlon), (lat - dlat, lon + dlon),
            (lat - dlat, lon - dlon), (lat + dlat, lon - dlon))  # fmt: skip
    area = build_alert_area([CapArea("box", (ring,))])
    # The point given as "lat,lon" is inside; the swapped reading would be elsewhere.
    assert shapely.contains_xy(area.geometry, lon, lat)
    if abs(lat - lon) > 2 * (dlat + dlon) and abs(lon) <= 90:
        assert not shapely.contains_xy(area.geometry, lat, lon)


@PROPERTY
@given(lat=st.floats(60, 78), lon=st.floats(-180, 180), radius=st.floats(0.5, 80))
def test_circles_at_high_latitude_are_geodesic_and_whole(
    lat: float, lon: float, radius: float
) -> None:
    area = build_alert_area([CapArea("c", circles=(Circle(lat, lon, radius),))])
    exact = math.pi * radius**2
    assert abs(area.km2 - exact) / exact < 0.01  # true km², not degrees
    # Points just inside the radius, all around, are covered: nothing of the circle is lost.
    azimuths = np.linspace(0, 360, 24, endpoint=False)
    ones = np.ones_like(azimuths)
    x, y, _ = GEOD.fwd(ones * lon, ones * lat, azimuths, ones * radius * 990.0)
    x = (np.asarray(x) + 180) % 360 - 180
    assert shapely.intersects_xy(area.geometry, x, y).all()  # (on the 180° seam counts)


@PROPERTY
@given(lat=st.floats(-60, 60), offset=st.floats(-0.3, 0.3), radius=st.floats(5, 60))
def test_areas_across_the_antimeridian_select_both_sides(
    lat: float, offset: float, radius: float
) -> None:
    centre = 180.0 - abs(offset) if offset >= 0 else -180.0 + abs(offset)
    area = build_alert_area([CapArea("pacific", circles=(Circle(lat, centre, radius),))])
    assert abs(area.km2 - math.pi * radius**2) / (math.pi * radius**2) < 0.01
    assert area.geometry.bounds[2] - area.geometry.bounds[0] <= 360.0
    step = 0.4 * radius * KM / math.cos(math.radians(lat))
    east = (centre + step + 180) % 360 - 180
    west = (centre - step + 180) % 360 - 180
    from geo import Cell, Omni, Technology

    cells = [Cell("e", Technology.G4, east, lat, Omni(300.0)),
             Cell("w", Technology.G4, west, lat, Omni(300.0)),
             Cell("far", Technology.G4, 0.0, lat, Omni(300.0))]  # fmt: skip
    result = resolve(CellIndex.build(cells, version="t"), area)
    assert set(result.cells) == {"e", "w"}
    assert result.metrics.under_alert_km2 > 0


@settings(max_examples=10, deadline=None)
@given(sites=st.integers(1, 300), seed=st.integers(0, 1000))
def test_cell_blob_round_trips_exactly(sites: int, seed: int) -> None:
    table = synthesize_table(sites, (5.0, 45.0, 7.0, 47.0), seed)
    ring = np.array([[5.5, 45.5], [5.6, 45.5], [5.6, 45.6], [5.5, 45.5]])
    table = CellTable(**{**table.__dict__, "rings": {0: ring}})
    back = decode_table(encode_table(table))
    assert back.ids.tolist() == table.ids.tolist()
    for name in ("technology", "lon", "lat", "kind", "azimuth", "beamwidth", "range_m"):
        assert np.array_equal(getattr(back, name), getattr(table, name), equal_nan=True)
    assert np.array_equal(back.rings[0], ring)


def test_damaged_blob_is_a_format_error() -> None:
    import pytest

    from geo import FormatError

    blob = encode_table(synthesize_table(5, (5.0, 45.0, 7.0, 47.0), 1))
    for damaged in (b"", b"not a zip", blob[: len(blob) // 2]):
        with pytest.raises(FormatError):
            decode_table(damaged)
