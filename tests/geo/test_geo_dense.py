"""Resolution on a dense synthetic network against whole-union reference metrics.

The random networks of the property tests hold a few dozen cells, nearly all
crossing the target's boundary. Here thousands of layered cells lie wholly
inside the targets, so the inside-cell path of ``measure`` (the target left
after taking cells away, never one union of them all) and the nesting groups
are exercised. Every figure is compared with the plain definition, one
``union_all`` of the selected coverage, taken over the largest cell of each
nesting group (``CellIndex.dominant``) as resolution has always done: the
smaller layers of a sector lie inside it only up to the curvature of its
straight radial edges in the equal-area plane, a few parts per million of the
covered area (checked against the union of every cell below).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import shapely

from geo import (
    AlertArea,
    CapArea,
    CellIndex,
    Circle,
    IndexFormatError,
    MinOverlap,
    build_alert_area,
    coverage_polygons,
    resolve,
    synthesize_table,
)

BBOX = (-123.0, 48.0, -122.0, 48.6)
KM = 1 / 111.32


@pytest.fixture(scope="module")
def network() -> tuple[CellIndex, object]:
    table = synthesize_table(1500, BBOX, seed=3)
    return CellIndex.build(table, version="dense"), table


def _polygon(lat: float, lon: float, radius_km: float, seed: int) -> CapArea:
    rng = np.random.default_rng(seed)
    angles = np.linspace(0, 2 * math.pi, 60, endpoint=False)
    r = radius_km * (1 + 0.15 * np.sin(3 * angles) + rng.uniform(-0.05, 0.05, 60))
    points = [
        (lat + ri * KM * math.sin(a), lon + ri * KM * math.cos(a) / math.cos(math.radians(lat)))
        for ri, a in zip(r, angles, strict=True)
    ]
    return CapArea(f"polygon{seed}", (tuple(points + points[:1]),))


AREAS = [
    CapArea("city", circles=(Circle(48.3, -122.5, 3.0),)),
    CapArea("wide", circles=(Circle(48.3, -122.5, 25.0),)),
    _polygon(48.25, -122.6, 12.0, 1),
    _polygon(48.4, -122.3, 6.0, 2),
    _polygon(48.1, -122.8, 20.0, 3),
]


@pytest.mark.parametrize("cap", AREAS, ids=lambda a: a.description)
def test_dense_resolution_matches_the_whole_union(
    network: tuple[CellIndex, object], cap: CapArea
) -> None:
    index, table = network
    area = build_alert_area([cap])
    result = resolve(index, area, with_geometry=True)
    inventory_coverage = coverage_polygons(table, equal_area=True)  # type: ignore[arg-type]
    target, buffered = area.equal_area, area.fcc_buffer_equal_area
    in_inventory = shapely.intersects(inventory_coverage, target)
    assert result.cells == tuple(table.ids[in_inventory].tolist())  # type: ignore[attr-defined]
    coverage = inventory_coverage[index.inventory_row]  # the index's rows are in spatial order
    meets = shapely.intersects(coverage, target)
    union = shapely.union_all(coverage[meets & index.dominant])
    every = shapely.area(shapely.union_all(coverage[meets])) / 1e6
    m = result.metrics
    assert m.covered_km2 == pytest.approx(every, rel=1e-5)
    assert m.covered_km2 == pytest.approx(shapely.area(union) / 1e6, rel=1e-9, abs=1e-9)
    under = shapely.area(shapely.difference(target, union)) / 1e6
    assert m.under_alert_km2 == pytest.approx(under, rel=1e-9, abs=1e-9)
    over = shapely.area(shapely.difference(union, target)) / 1e6
    assert m.overshoot_km2 == pytest.approx(over, rel=1e-9, abs=1e-9)
    beyond = shapely.area(shapely.difference(union, buffered)) / 1e6
    assert m.overshoot_beyond_161m_km2 == pytest.approx(beyond, rel=1e-9, abs=1e-9)
    assert m.unreachable_km2 == m.under_alert_km2
    assert m.cells_meeting_target == int(meets.sum())
    assert result.count > 50  # really dense: many cells wholly inside
    covered = AlertArea(result.covered, ()).equal_area  # the map geometry is the union
    assert shapely.area(covered) / 1e6 == pytest.approx(m.covered_km2, rel=1e-6)


@pytest.mark.parametrize("fraction", [0.3, 0.9])
def test_dense_min_overlap_unreachable(network: tuple[CellIndex, object], fraction: float) -> None:
    index, table = network
    area = build_alert_area([AREAS[2]])
    result = resolve(index, area, MinOverlap(fraction))
    coverage = coverage_polygons(table, equal_area=True)[index.inventory_row]  # type: ignore[arg-type]
    target = area.equal_area
    meets = shapely.intersects(coverage, target)
    inside = shapely.area(shapely.intersection(coverage, target)) / shapely.area(coverage)
    chosen = meets & (inside >= fraction - 1e-9)
    assert set(result.cells) == set(index.ids[chosen].tolist())
    groups_chosen = np.zeros(index.groups, dtype=bool)
    groups_chosen[index.group[chosen & index.dominant]] = True
    representatives = chosen & (index.dominant | ~groups_chosen[index.group])
    union = shapely.union_all(coverage[representatives])
    under = shapely.area(shapely.difference(target, union)) / 1e6
    assert result.metrics.under_alert_km2 == pytest.approx(under, rel=1e-9, abs=1e-9)
    reach = shapely.union_all(coverage[meets & index.dominant])
    unreachable = shapely.area(shapely.difference(target, reach)) / 1e6
    assert result.metrics.unreachable_km2 == pytest.approx(unreachable, rel=1e-9, abs=1e-9)


def test_saved_index_round_trips_every_column(
    network: tuple[CellIndex, object], tmp_path: Path
) -> None:
    index, _ = network
    index.save(tmp_path / "cells.idx")
    loaded = CellIndex.load(tmp_path / "cells.idx")
    assert loaded.version == index.version
    assert loaded.ids.tolist() == index.ids.tolist()
    assert all(shapely.equals_exact(loaded.coverage, index.coverage, tolerance=0.0))
    for name in ("bounds", "areas", "group", "reach", "anchors", "dominant", "inventory_row"):
        assert np.array_equal(getattr(loaded, name), getattr(index, name), equal_nan=True)
    assert loaded.groups == index.groups


def test_index_rows_are_in_spatial_order_and_results_in_inventory_order(
    network: tuple[CellIndex, object],
) -> None:
    index, table = network
    n = len(index)
    assert np.array_equal(np.sort(index.inventory_row), np.arange(n))
    assert index.ids.tolist() == table.ids[index.inventory_row].tolist()  # type: ignore[attr-defined]

    # Neighbouring rows are near each other: far nearer than rows of the inventory.
    def step(xy: np.ndarray) -> float:  # mean distance from one row to the next
        return float(np.nanmean(np.hypot(*np.diff(xy, axis=0).T)))

    assert step(index.anchors) < step(index.anchors[np.argsort(index.inventory_row)]) / 10
    # Groups are numbered by first row, and nesting layers of a sector stay together.
    first = np.unique(index.group, return_index=True)[1]
    assert np.all(np.diff(first) > 0)
    rows = np.arange(0, n, 97)
    assert index.cell_ids(rows) == tuple(table.ids[np.sort(index.inventory_row[rows])].tolist())  # type: ignore[attr-defined]
    every = np.arange(n)
    assert index.cell_ids(every) == tuple(table.ids.tolist())  # type: ignore[attr-defined]


def test_damaged_or_foreign_index_files_are_format_errors(
    network: tuple[CellIndex, object], tmp_path: Path
) -> None:
    index, _ = network
    path = tmp_path / "cells.idx"
    index.save(path)
    data = path.read_bytes()
    cases = {
        "missing.idx": None,
        "empty.idx": b"",
        "old.npz": b"PK\x03\x04" + data[4:],
        "cut.idx": data[: len(data) // 2],
        "tail.idx": data[:-3],
    }
    for name, content in cases.items():
        if content is not None:
            (tmp_path / name).write_bytes(content)
        with pytest.raises(IndexFormatError):
            CellIndex.load(tmp_path / name)
