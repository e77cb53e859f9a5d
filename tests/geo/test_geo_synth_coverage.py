"""Synthetic network realism and determinism; coverage geometry; projections."""

from __future__ import annotations

import numpy as np
import pyproj
import shapely

from geo import Cell, CellTable, Omni, Sector, Technology, coverage_polygons, synthesize_table
from geo.antimeridian import polygon_from_rings
from geo.cells import KIND_OMNI, KIND_SECTOR
from geo.projection import LocalFrame, area_km2, cea_forward, cea_inverse

BBOX = (5.0, 45.0, 15.0, 52.0)


def test_synth_is_deterministic_for_a_seed() -> None:
    a = synthesize_table(2000, BBOX, seed=7)
    b = synthesize_table(2000, BBOX, seed=7)
    c = synthesize_table(2000, BBOX, seed=8)
    assert np.array_equal(a.ids, b.ids)
    assert np.array_equal(a.lon, b.lon)
    assert np.array_equal(a.range_m, b.range_m, equal_nan=True)
    assert not np.array_equal(a.lon[:100], c.lon[:100])


def test_synth_is_realistic() -> None:
    table = synthesize_table(5000, BBOX, seed=1, mcc="262", mnc="01")
    sites = np.unique(np.column_stack((table.lon, table.lat)), axis=0)
    assert 5 * len(sites) < len(table) < 15 * len(sites)  # several layers per site
    assert len(np.unique(table.ids)) == len(table)
    assert table.range_m.min() >= 300
    assert table.range_m.max() <= 15_000
    sectors = table.kind == KIND_SECTOR
    assert sectors.mean() > 0.8
    assert (table.kind == KIND_OMNI).any()
    # three sectors 120° apart on a sectorised site
    first = np.flatnonzero(sectors)[0]
    same = sectors & (table.lon == table.lon[first]) & (table.lat == table.lat[first])
    spacing = np.diff(np.unique(np.round(table.azimuth[same] - table.azimuth[first]) % 360))
    assert spacing.tolist() == [120.0, 120.0]
    assert np.nanmin(table.beamwidth) >= 50
    assert np.nanmax(table.beamwidth) <= 90
    # dense cities have small cells, the countryside big ones
    small = table.range_m < 1000
    assert small.any()
    assert (table.range_m > 8000).any()
    assert (BBOX[0] <= table.lon).all()
    assert (table.lon <= BBOX[2]).all()
    assert set(table.ids[:50].tolist())
    assert all(i.startswith("262-01-") for i in table.ids[:50])


def test_vertices_lie_on_the_geodesic_range_along_their_bearings() -> None:
    """Range and bearing of every vertex from its site, by pyproj's geodesic.

    Bearings are made by turning step after step, so the wide beam checks
    that the last of 36 turns has not drifted.
    """
    cells = [
        Cell("a", Technology.G4, 24.9, 60.2, Sector(30.0, 60.0, 15_000.0)),
        Cell("b", Technology.G4, -70.0, -53.0, Sector(300.0, 90.0, 5_000.0)),
        Cell("wide", Technology.G4, -70.0, -53.0, Sector(200.0, 350.0, 8_000.0)),
        Cell("c", Technology.G4, 15.6, 78.2, Omni(10_000.0)),
    ]
    expected_bearings = [
        30.0 + np.linspace(-30.0, 30.0, 7),  # 60° at 10° steps: 7 arc points
        300.0 + np.linspace(-45.0, 45.0, 10),
        200.0 + np.linspace(-175.0, 175.0, 36),
        np.arange(32) * 360.0 / 32,
    ]
    polygons = coverage_polygons(CellTable.from_cells(cells))
    geod = pyproj.Geod(ellps="WGS84")
    for cell, polygon, bearings in zip(cells, polygons, expected_bearings, strict=True):
        coords = np.asarray(polygon.exterior.coords)
        azimuth, _, dist = geod.inv(
            np.full(len(coords), cell.lon), np.full(len(coords), cell.lat), *coords.T
        )
        far = dist[dist > 1]
        assert np.allclose(far, cell.coverage.range_m, rtol=2e-3)
        assert polygon.is_valid
        # The site opens and closes a sector's ring; an omni ring closes on its first point.
        arc = slice(1, -1) if isinstance(cell.coverage, Sector) else slice(0, -1)
        turned = (azimuth[arc] - bearings + 180.0) % 360.0 - 180.0
        assert len(turned) == len(bearings)
        assert np.abs(turned).max() < 0.3  # the spherical formula, not drift
    # the sector points the right way: azimuth 30° is north-east of the site
    centroid = polygons[0].centroid
    assert centroid.x > cells[0].lon
    assert centroid.y > cells[0].lat


def test_coverage_crossing_the_antimeridian_is_split() -> None:
    table = CellTable.from_cells([Cell("f", Technology.G4, 179.99, -17.0, Omni(5000.0))])
    (polygon,) = coverage_polygons(table)
    assert polygon.geom_type == "MultiPolygon"
    assert polygon.bounds[0] == -180.0
    assert polygon.bounds[2] == 180.0
    assert abs(area_km2(polygon) - np.pi * 25) / (np.pi * 25) < 0.02


def test_equal_area_projection_matches_epsg_6933() -> None:
    rng = np.random.default_rng(0)
    lon, lat = rng.uniform(-180, 180, 2000), rng.uniform(-89.9, 89.9, 2000)
    x, y = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:6933", always_xy=True).transform(lon, lat)
    ours = cea_forward(lon, lat)
    assert np.abs(ours[0] - x).max() < 1e-3
    assert np.abs(ours[1] - y).max() < 1e-3
    back = cea_inverse(*ours)
    assert np.abs(back[0] - lon).max() < 1e-9
    assert np.abs(back[1] - lat).max() < 1e-7


def test_local_frame_round_trips_and_measures_metres() -> None:
    frame = LocalFrame(178.0, 65.0)
    coords = np.array([[178.0, 65.0], [179.5, 65.5], [-179.5, 64.5]])
    back = frame.inverse(frame.forward(coords))
    assert np.allclose(back[:2], coords[:2])
    assert np.isclose(back[2, 0], 180.5)
    _, _, dist = pyproj.Geod(ellps="WGS84").inv(178.0, 65.0, 179.5, 65.5)
    assert abs(np.hypot(*frame.forward(coords)[1]) - dist) / dist < 1e-3


def test_ring_around_a_pole_is_closed_over_it() -> None:
    lon = np.linspace(-180, 180, 73)
    ring = np.column_stack((lon, np.full(73, 80.0)))
    polygon = polygon_from_rings(ring)
    cap_km2 = 2 * np.pi * 6371.0**2 * (1 - np.sin(np.radians(80.0)))
    assert polygon.is_valid
    assert polygon.bounds[3] == 90.0
    assert abs(area_km2(polygon) - cap_km2) / cap_km2 < 0.01
    assert shapely.contains_xy(polygon, 0.0, 85.0)
