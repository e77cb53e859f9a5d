"""Resolution: brute-force agreement on random networks, metrics, antimeridian, offline."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import geo.areas
from geo import (
    INTERSECTS,
    AlertArea,
    CapArea,
    Cell,
    CellIndex,
    CellTable,
    Circle,
    ComplexityLimits,
    CsvCellReader,
    MinOverlap,
    Omni,
    Sector,
    Technology,
    UntargetableAreaError,
    build_alert_area,
    coverage_polygons,
    parse_policy,
    resolve,
    resolve_offline,
    write_cells_csv,
)
from geo.measure import pruned_union
from geo.projection import to_equal_area
from geo.tiles import _clip

PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KM = 1 / 111.32


@st.composite
def networks(draw: st.DrawFn) -> tuple[float, float, list[Cell]]:
    """Random cells around a random place, antimeridian and high latitudes included."""
    lon0 = draw(st.sampled_from([-179.95, 179.95, 0.0, 36.8, -122.4])) + draw(
        st.floats(-0.05, 0.05)
    )
    lat0 = draw(st.floats(-70, 70))
    count = draw(st.integers(1, 40))
    cells = []
    for i in range(count):
        dx, dy = draw(st.floats(-15, 15)), draw(st.floats(-15, 15))
        lon = lon0 + dx * KM / math.cos(math.radians(lat0))
        lon = (lon + 180) % 360 - 180
        rng = draw(st.floats(300, 8000))
        coverage: Sector | Omni
        if draw(st.booleans()):
            coverage = Sector(draw(st.floats(0, 359)), draw(st.floats(30, 120)), rng)
        else:
            coverage = Omni(rng)
        cells.append(Cell(f"c{i}", Technology.G4, lon, lat0 + dy * KM, coverage))
    return lon0, lat0, cells


def _target(draw: st.DrawFn, lon0: float, lat0: float) -> CapArea:
    if draw(st.booleans()):
        return CapArea("circle", circles=(Circle(lat0, lon0, draw(st.floats(0.5, 12))),))
    n = draw(st.integers(3, 12))
    radii = [draw(st.floats(1, 12)) for _ in range(n)]
    points = []
    for k, r in enumerate(radii):
        angle = 2 * math.pi * k / n
        lon = lon0 + r * KM * math.cos(angle) / math.cos(math.radians(lat0))
        points.append((lat0 + r * KM * math.sin(angle), (lon + 180) % 360 - 180))
    return CapArea("polygon", (tuple(points + points[:1]),))


def _brute(
    cells: list[Cell], area: object, fraction: float | None
) -> tuple[set[str], object, object]:
    table = CellTable.from_cells(cells)
    coverage = coverage_polygons(table, equal_area=True)
    target = area.equal_area  # type: ignore[attr-defined]
    meets = shapely.intersects(coverage, target)
    chosen = meets.copy()
    if fraction is not None:
        inside = shapely.area(shapely.intersection(coverage, target)) / shapely.area(coverage)
        chosen &= inside >= fraction - 1e-9
    return (
        set(table.ids[chosen].tolist()),
        shapely.union_all(coverage[chosen]),
        shapely.union_all(coverage[meets]),
    )


@PROPERTY
@given(data=st.data())
def test_intersects_matches_brute_force_and_metrics_are_exact(data: st.DataObject) -> None:
    lon0, lat0, cells = data.draw(networks())
    area = build_alert_area([data.draw(st.composite(lambda d: _target(d, lon0, lat0))())])
    index = CellIndex.build(cells, version="t")
    result = resolve(index, area)
    expected, union, _ = _brute(cells, area, None)
    assert set(result.cells) == expected  # every cell meeting the target, and no other
    target = area.equal_area
    m = result.metrics
    assert m.covered_km2 == pytest.approx(shapely.area(union) / 1e6, rel=1e-6, abs=1e-6)
    assert m.under_alert_km2 == pytest.approx(
        shapely.area(shapely.difference(target, union)) / 1e6, rel=1e-6, abs=1e-6
    )
    assert m.overshoot_km2 == pytest.approx(
        shapely.area(shapely.difference(union, target)) / 1e6, rel=1e-6, abs=1e-6
    )
    assert m.unreachable_km2 == m.under_alert_km2
    assert m.overshoot_beyond_161m_km2 <= m.overshoot_km2 + 1e-9
    if shapely.covers(union, target):
        assert m.under_alert_km2 == 0.0  # coverage reaches: no under-alert at all


@PROPERTY
@given(data=st.data(), fraction=st.floats(0.05, 1.0))
def test_min_overlap_matches_brute_force(data: st.DataObject, fraction: float) -> None:
    lon0, lat0, cells = data.draw(networks())
    area = build_alert_area([data.draw(st.composite(lambda d: _target(d, lon0, lat0))())])
    result = resolve(CellIndex.build(cells, version="t"), area, MinOverlap(fraction))
    expected, _union, reachable = _brute(cells, area, fraction)
    assert set(result.cells) == expected
    target = area.equal_area
    unreachable = shapely.area(shapely.difference(target, reachable)) / 1e6
    assert result.metrics.unreachable_km2 == pytest.approx(unreachable, rel=1e-6, abs=1e-6)
    assert result.metrics.unreachable_km2 <= result.metrics.under_alert_km2 + 1e-9


@PROPERTY
@given(data=st.data())
def test_simplified_area_selects_with_it_but_measures_the_sender_area(
    data: st.DataObject,
) -> None:
    lon0, lat0, cells = data.draw(networks())
    cap = data.draw(st.composite(lambda d: _target(d, lon0, lat0))())
    # 3 points at most: every target here is simplified outward (up to 2 km).
    limits = ComplexityLimits(soft_points=3, first_tolerance_m=500, max_tolerance_m=2000)
    area = build_alert_area([cap], limits=limits)
    assert area.original is not None
    exact = build_alert_area([cap])
    index = CellIndex.build(cells, version="t")
    result = resolve(index, area)
    expected, union, _ = _brute(cells, area, None)  # selection: with the simplified area
    assert set(result.cells) == expected
    sender = exact.equal_area
    m = result.metrics
    assert m.target_km2 == pytest.approx(shapely.area(sender) / 1e6, rel=1e-9)
    assert m.covered_km2 == pytest.approx(shapely.area(union) / 1e6, rel=1e-6, abs=1e-6)
    assert m.under_alert_km2 == pytest.approx(
        shapely.area(shapely.difference(sender, union)) / 1e6, rel=1e-6, abs=1e-6
    )
    assert m.overshoot_km2 == pytest.approx(
        shapely.area(shapely.difference(union, sender)) / 1e6, rel=1e-6, abs=1e-6
    )
    beyond = shapely.area(shapely.difference(union, exact.fcc_buffer_equal_area)) / 1e6
    assert m.overshoot_beyond_161m_km2 == pytest.approx(beyond, rel=1e-6, abs=1e-6)
    assert m.overshoot_ratio == pytest.approx(m.overshoot_km2 / m.target_km2, rel=1e-9)


def _ragged(draw: st.DrawFn, lon0: float, lat0: float) -> CapArea:
    """A polygon of 300-1,500 points (above the soft limit, several tiles' worth)."""
    n = draw(st.integers(300, 1500))
    base = draw(st.floats(2, 12))
    phase = draw(st.floats(0, 6))
    wobble = draw(st.floats(0, 0.4))
    points = []
    for k in range(n):
        angle = 2 * math.pi * k / n
        r = base * (1 + wobble * math.sin(7 * angle + phase) * math.cos(3 * angle))
        lon = lon0 + r * KM * math.cos(angle) / math.cos(math.radians(lat0))
        points.append((lat0 + r * KM * math.sin(angle), (lon + 180) % 360 - 180))
    return CapArea("ragged", (tuple(points + points[:1]),))


@PROPERTY
@given(data=st.data(), fraction=st.sampled_from([None, 0.3]))
def test_big_sender_area_is_measured_piece_by_piece_exactly(
    data: st.DataObject, fraction: float | None
) -> None:
    lon0, lat0, cells = data.draw(networks())
    cap = data.draw(st.composite(lambda d: _ragged(d, lon0, lat0))())
    area = build_alert_area([cap])
    assert area.original is not None
    with mock.patch.object(geo.areas, "TILED_ABOVE_POINTS", 256):  # the tiled path here
        _check_big_sender(area, cells, fraction)


def _check_big_sender(area: AlertArea, cells: list[Cell], fraction: float | None) -> None:
    assert area.sender_is_big
    assert len(area.sender_tiles.layers[0]) > 1  # the tiled path, with several pieces
    policy = INTERSECTS if fraction is None else MinOverlap(fraction)
    result = resolve(CellIndex.build(cells, version="t"), area, policy)
    expected, union, reachable = _brute(cells, area, fraction)
    assert set(result.cells) == expected
    sender = to_equal_area(area.original)
    buffered = area.fcc_buffer_equal_area
    m = result.metrics
    assert m.target_km2 == pytest.approx(shapely.area(sender) / 1e6, rel=1e-9)
    assert m.covered_km2 == pytest.approx(shapely.area(union) / 1e6, rel=1e-6, abs=1e-6)
    assert m.under_alert_km2 == pytest.approx(
        shapely.area(shapely.difference(sender, union)) / 1e6, rel=1e-6, abs=1e-6
    )
    assert m.overshoot_km2 == pytest.approx(
        shapely.area(shapely.difference(union, sender)) / 1e6, rel=1e-6, abs=1e-6
    )
    beyond = shapely.area(shapely.difference(union, buffered)) / 1e6
    assert m.overshoot_beyond_161m_km2 == pytest.approx(beyond, rel=1e-6, abs=1e-6)
    unreachable = shapely.area(shapely.difference(sender, reachable)) / 1e6
    assert m.unreachable_km2 == pytest.approx(unreachable, rel=1e-6, abs=1e-6)
    if shapely.covers(union, sender):
        assert m.under_alert_km2 == 0.0  # coverage reaches: no under-alert at all


def test_big_sender_area_wholly_covered_has_no_under_alert() -> None:
    cells = [Cell("big", Technology.G4, -130.0, 55.0, Omni(30_000.0)),
             Cell("edge", Technology.G4, -129.85, 55.0, Omni(3_000.0))]  # fmt: skip
    ring = []
    for k in range(2000):
        angle = 2 * math.pi * k / 2000
        r = 10 * (1 + 0.3 * math.sin(9 * angle))
        ring.append(
            (
                55.0 + r * KM * math.sin(angle),
                -130.0 + r * KM * math.cos(angle) / math.cos(math.radians(55.0)),
            )
        )
    area = build_alert_area([CapArea("ragged", (tuple(ring + ring[:1]),))])
    assert len(area.sender_tiles.layers[0]) > 4
    index = CellIndex.build(cells, version="t")
    with mock.patch.object(geo.areas, "TILED_ABOVE_POINTS", 256):
        assert area.sender_is_big
        m = resolve(index, area).metrics
    assert m.under_alert_km2 == 0.0
    union = shapely.union_all(index.coverage)
    sender = to_equal_area(area.original)
    assert m.overshoot_km2 == pytest.approx(
        shapely.area(shapely.difference(union, sender)) / 1e6, rel=1e-9
    )
    assert m.covered_km2 == pytest.approx(shapely.area(union) / 1e6, rel=1e-9)


def test_overshoot_counts_the_band_simplification_added() -> None:
    # One omni cell filling a 5 km circle; the alert is that circle, simplified outward.
    cells = [Cell("c", Technology.G4, 36.8, -1.3, Omni(5_000.0))]
    cap = CapArea("disc", circles=(Circle(-1.3, 36.8, 4.0),))
    exact = build_alert_area([cap])
    grown = build_alert_area([cap], limits=ComplexityLimits(soft_points=8, first_tolerance_m=800))
    assert grown.km2 > exact.km2 * 1.2  # the simplification added a band
    index = CellIndex.build(cells, version="t")
    m = resolve(index, grown).metrics
    assert m.target_km2 == pytest.approx(exact.km2, rel=1e-6)
    assert m.overshoot_km2 == pytest.approx(resolve(index, exact).metrics.overshoot_km2, rel=1e-6)
    assert m.overshoot_km2 == pytest.approx(math.pi * (25 - 16), rel=0.03)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 600))
def test_pruned_union_equals_union_all(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    x, y, r = rng.uniform(0, 20_000, n), rng.uniform(0, 20_000, n), rng.uniform(300, 4000, n)
    polygons = shapely.buffer(shapely.points(x, y), r, quad_segs=3)
    union = pruned_union(polygons, shapely.area(polygons))
    assert shapely.area(union) == pytest.approx(shapely.area(shapely.union_all(polygons)), rel=1e-9)


def test_under_alert_is_zero_when_coverage_reaches() -> None:
    cells = [
        Cell("big", Technology.G2, 36.8, -1.3, Omni(15_000.0)),
        Cell("far", Technology.G4, 38.0, -1.3, Omni(900.0)),
    ]
    area = build_alert_area([CapArea("Nairobi", circles=(Circle(-1.3, 36.8, 8.0),))])
    result = resolve(CellIndex.build(cells, version="t"), area)
    assert result.cells == ("big",)
    assert result.metrics.under_alert_km2 == 0.0
    assert result.metrics.unreachable_km2 == 0.0
    assert result.metrics.overshoot_ratio == pytest.approx((15**2 - 8**2) / 8**2, rel=0.03)


def test_lat_lon_order_selects_cells_in_nairobi_not_at_sea() -> None:
    cells = [
        Cell("nbo", Technology.G4, 36.82, -1.29, Omni(1000.0)),
        Cell("sea", Technology.G4, -1.29, 36.82, Omni(1000.0)),
    ]
    polygon = ((-1.2, 36.7), (-1.2, 36.95), (-1.4, 36.95), (-1.4, 36.7), (-1.2, 36.7))
    result = resolve(
        CellIndex.build(cells, version="t"), build_alert_area([CapArea("Nairobi", (polygon,))])
    )
    assert result.cells == ("nbo",)


def test_fiji_polygon_selects_cells_on_both_sides_of_180() -> None:
    cells = [
        Cell("east", Technology.G4, 179.9, -17.0, Omni(2000.0)),
        Cell("west", Technology.G4, -179.9, -17.0, Omni(2000.0)),
        Cell("seam", Technology.G4, 180.0, -17.5, Omni(3000.0)),
        Cell("greenwich", Technology.G4, 0.0, -17.0, Omni(2000.0)),
        Cell("far", Technology.G4, 178.0, -17.0, Omni(2000.0)),
    ]
    fiji = ((-16.5, 179.5), (-16.5, -179.5), (-17.8, -179.5), (-17.8, 179.5), (-16.5, 179.5))
    area = build_alert_area([CapArea("Fiji", (fiji,))])
    result = resolve(CellIndex.build(cells, version="t"), area)
    assert set(result.cells) == {"east", "west", "seam"}
    assert result.metrics.under_alert_km2 > 0
    assert result.metrics.overshoot_km2 == 0.0
    assert result.metrics.target_km2 == pytest.approx(area.km2)


def test_index_save_and_load_give_identical_results(tmp_path: Path) -> None:
    from geo import synthesize_table

    table = synthesize_table(300, (179.0, -18.0, 180.0, -16.0), seed=2)
    index = CellIndex.build(table, version="v7")
    index.save(tmp_path / "cells.npz")
    loaded = CellIndex.load(tmp_path / "cells.npz")
    area = build_alert_area([CapArea("x", circles=(Circle(-17.0, 179.9, 30.0),))])
    first, second = resolve(index, area), resolve(loaded, area)
    assert loaded.version == "v7"
    assert len(loaded) == len(index)
    assert first.cells == second.cells
    assert first.metrics == second.metrics
    assert first.count > 0


def test_policy_parsing() -> None:
    assert parse_policy("intersects") is INTERSECTS
    assert parse_policy("min_overlap=0.25") == MinOverlap(0.25)
    for bad in ("min_overlap=0", "min_overlap=1.5", "best_server", "intersects=1"):
        with pytest.raises(ValueError, match=r"overlap|unknown policy"):
            parse_policy(bad)


def test_offline_resolution_json_and_geojson() -> None:
    cells = [
        Cell("a", Technology.G4, 10.0, 50.0, Sector(90.0, 65.0, 3000.0)),
        Cell("b", Technology.G4, 12.0, 50.0, Omni(900.0)),
    ]
    buffer = io.StringIO()
    write_cells_csv(cells, buffer)
    text = buffer.getvalue() + "c,4G,oops,50,,,100,\n"
    areas = [CapArea("here", circles=(Circle(50.0, 10.01, 1.0),)), CapArea("unknown", geocodes=())]
    result = resolve_offline(areas, CsvCellReader(io.StringIO(text)), with_geometry=True)
    data = json.loads(result.to_json())
    assert data["cells"] == ["a"]
    assert data["count"] == 1
    assert data["policy"] == "intersects"
    assert set(data["metrics"]) >= {
        "target_km2",
        "covered_km2",
        "under_alert_km2",
        "overshoot_km2",
        "overshoot_ratio",
        "unreachable_km2",
    }
    assert data["inventory"]["rows"] == 3
    assert data["inventory"]["rejected"] == 1
    assert data["inventory"]["errors"][0]["line"] == 4
    assert data["area"]["untargetable"] == ["unknown"]
    roles = [f["properties"]["role"] for f in result.to_geojson()["features"]]
    assert roles == ["target", "covered"]
    assert shapely.geometry.shape(result.to_geojson()["features"][1]["geometry"]).area > 0


def test_nothing_to_target_is_refused() -> None:
    with pytest.raises(UntargetableAreaError, match="ghost"):
        resolve_offline([CapArea("ghost")], [])


def test_rectangle_clip_of_a_sliver_along_a_box_edge_falls_back_to_exact() -> None:
    # Found by the big-sender property test on the equator: a sector whose apex
    # lies 5e-12 m below a quadtree box's top edge; GEOS's rectangle clip then
    # builds a 3-point ring and raises instead of returning the sliver.
    sector = shapely.from_wkt(
        "POLYGON ((3555895.6919462336 -1.3016145119150942e-95, "
        "3557168.4441202963 6280.372737281144, 3557973.932731723 5892.7409953563265, "
        "3558716.2749741175 5326.061299805493, 3559372.915154088 4597.551927130067, "
        "3555895.6919462336 -1.3016145119150942e-95))"
    )
    box = (3553629.4290064834, -12041.316775466172, 3565670.7457819493, 5.4569682106375694e-12)
    clipped = _clip(np.array([sector]), box)
    exact = shapely.area(shapely.intersection(sector, shapely.box(*box)))
    assert float(np.sum(shapely.area(clipped))) == pytest.approx(exact, abs=1e-9)
