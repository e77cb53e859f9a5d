"""Resolution: which cells to broadcast on for an alert area, and how well they fit.

``resolve(index, area, policy)`` is the one entry point the service calls per
operator; ``resolve_offline`` does the same from a cell file for the CLI.
Every result carries its policy and metrics measured in equal-area metres:

* ``target_km2``: the alert area as the sender drew it (never the outward
  simplification used to select cells when an area is above the soft limits);
* ``covered_km2``: union of the selected cells' coverage;
* ``under_alert_km2``: target the selected cells do not cover (the goal is 0);
* ``unreachable_km2``: target no cell of the operator covers at all, so
  under-alert the policy could not have avoided (equal to under-alert under
  ``intersects``);
* ``overshoot_km2`` / ``overshoot_ratio``: covered beyond the target, and that
  over the target area;
* ``overshoot_beyond_161m_km2``: covered beyond 0.1 mile of the target (FCC).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import mapping

from geo.antimeridian import normalize
from geo.areas import AlertArea, CapArea, build_alert_area
from geo.cells import Cell, CellImport, RowError, import_cells
from geo.errors import UntargetableAreaError
from geo.geocodes import GeocodeRegistry
from geo.index import CellIndex
from geo.measure import measure, measure_tiled
from geo.projection import from_equal_area
from geo.simplify import ComplexityLimits


@dataclass(frozen=True)
class Intersects:
    """Select every cell whose coverage overlaps the target at all (the default)."""

    def describe(self) -> str:
        return "intersects"


@dataclass(frozen=True)
class MinOverlap:
    """Select cells with at least ``fraction`` of their own coverage inside the target.

    Raises:
        ValueError: fraction not in (0, 1].
    """

    fraction: float

    def __post_init__(self) -> None:
        if not (0.0 < self.fraction <= 1.0):
            raise ValueError(f"min_overlap fraction must be in (0, 1], got {self.fraction}")

    def describe(self) -> str:
        return f"min_overlap={self.fraction:g}"


Policy = Intersects | MinOverlap
INTERSECTS = Intersects()


def parse_policy(text: str) -> Policy:
    """``intersects`` or ``min_overlap=<fraction>`` (the CLI and API spelling).

    Raises:
        ValueError: anything else.
    """
    name, _, value = text.strip().partition("=")
    if name == "intersects" and not value:
        return INTERSECTS
    if name == "min_overlap" and value:
        return MinOverlap(float(value))
    raise ValueError(f"unknown policy {text!r}: use 'intersects' or 'min_overlap=<fraction>'")


@dataclass(frozen=True)
class ResolutionMetrics:
    """Accuracy of one resolution; areas in km² (module docstring defines each)."""

    target_km2: float
    covered_km2: float
    under_alert_km2: float
    unreachable_km2: float
    overshoot_km2: float
    overshoot_ratio: float | None
    overshoot_beyond_161m_km2: float
    cells_meeting_target: int


@dataclass(frozen=True)
class ResolutionResult:
    """Selected cell ids plus metrics; geometry in lon/lat for maps."""

    cells: tuple[str, ...]
    policy: str
    metrics: ResolutionMetrics
    index_version: str
    target: Any
    covered: Any = None
    area_report: dict[str, Any] | None = None
    inventory: dict[str, Any] | None = None

    @property
    def count(self) -> int:
        return len(self.cells)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "cells": list(self.cells),
            "count": self.count,
            "policy": self.policy,
            "index_version": self.index_version,
            "metrics": asdict(self.metrics),
        }
        if self.area_report is not None:
            out["area"] = self.area_report
        if self.inventory is not None:
            out["inventory"] = self.inventory
        return out

    def to_json(self, *, indent: int | None = None) -> str:
        """``{"cells": [...], "metrics": {...}, ...}`` as the CLI prints it."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def to_geojson(self) -> dict[str, Any]:
        """A FeatureCollection with the target and (when computed) the covered area."""
        features = [
            {"type": "Feature", "properties": {"role": "target"}, "geometry": mapping(self.target)}
        ]
        if self.covered is not None:
            features.append(
                {
                    "type": "Feature",
                    "properties": {"role": "covered"},
                    "geometry": mapping(self.covered),
                }
            )
        return {"type": "FeatureCollection", "features": features}


def _edge_rows(index: CellIndex, pieces: Any) -> npt.NDArray[np.intp]:
    """Cells meeting the target's boundary (``pieces``), i.e. not wholly inside (sorted).

    A cell that meets the target but not its boundary lies inside it, so the
    rest of the hits need no exact overlay: the fast path for big targets.
    """
    pairs = index.tree.query(pieces, predicate="intersects")
    return np.unique(pairs[1])


def _largest_per_group(index: CellIndex, rows: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
    """Drop nested cells whose group's largest cell is also in ``rows``.

    A layer on the same mast and sector lies inside the layer that reaches
    furthest, so it adds nothing to the union. When the largest one is not
    in ``rows`` (possible under ``min_overlap``) the group's members are all
    kept: slower, never wrong. Linear time, no sort.
    """
    return rows[_largest_mask(index, rows)]


def _largest_mask(index: CellIndex, rows: npt.NDArray[np.intp]) -> npt.NDArray[np.bool_]:
    """Which of ``rows`` ``_largest_per_group`` keeps."""
    dominant = index.dominant[rows]
    group = index.group[rows]
    present = np.zeros(index.groups, dtype=bool)
    present[group[dominant]] = True
    keep: npt.NDArray[np.bool_] = dominant | ~present[group]
    return keep


def _hits(
    index: CellIndex, target: Any, pieces: Any
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
    """Rows whose coverage meets the target (sorted), and which of them may leave it.

    Exactly GEOS ``intersects``, without testing every candidate against the
    whole target: a cell meeting the boundary is found by a narrow tree query
    per boundary piece; any other candidate lies wholly inside or wholly
    outside, which one point-in-polygon test on its anchor settles (50 ns
    instead of microseconds). Multi-part cells (split at ±180°) get the exact
    test and count as edge cells: only single-part cells off the boundary are
    known to lie inside the target (``measure`` relies on that).
    """
    candidates = index.tree.query(target)
    boundary = _edge_rows(index, pieces)
    edge = np.zeros(len(index), dtype=bool)  # calloc: pages are only touched where set
    edge[boundary] = True
    rest = candidates[~edge[candidates]]
    shapely.prepare(target)
    multi_part = index.multi_part[rest]
    single = rest[~multi_part]
    if index.group_anchors is None:
        anchors = index.anchors[single]
        inside = single[shapely.intersects_xy(target, anchors[:, 0], anchors[:, 1])]
    else:  # one test per nesting group: a third of the point-in-polygon tests
        group = index.group[single]
        seen = np.zeros(index.groups, dtype=bool)
        seen[group] = True
        tested = np.flatnonzero(seen)
        anchors = index.group_anchors[tested]
        within = np.zeros(index.groups, dtype=bool)
        within[tested] = shapely.intersects_xy(target, anchors[:, 0], anchors[:, 1])
        inside = single[within[group]]
    multi = rest[multi_part]
    multi = multi[shapely.intersects(target, index.coverage[multi])]
    edge[multi] = True
    hits = np.sort(np.concatenate((boundary, multi, inside)))
    return hits, edge[hits]


def _near(index: CellIndex, rows: npt.NDArray[np.intp], pieces: Any) -> npt.NDArray[np.intp]:
    """(piece, position in ``rows``) for every cell of sorted ``rows`` whose box meets a piece's."""
    piece, row = index.tree.query(pieces)
    position = np.minimum(np.searchsorted(rows, row), len(rows) - 1)
    found = rows[position] == row
    return np.stack((piece[found], position[found]))


def _select(
    index: CellIndex, target: Any, pieces: Any, policy: Policy
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
    """(selected rows, all rows whose coverage meets the target, which of those are edge)."""
    hits, on_edge = _hits(index, target, pieces)
    if isinstance(policy, Intersects):
        return hits, hits, on_edge
    edge_rows = hits[on_edge]
    inside_area = shapely.area(shapely.intersection(index.coverage[edge_rows], target))
    enough = inside_area >= policy.fraction * index.areas[edge_rows]
    return np.sort(np.concatenate((hits[~on_edge], edge_rows[enough]))), hits, on_edge


def _leaving(
    index: CellIndex, rows: npt.NDArray[np.intp], sender: Any, boundary: shapely.STRtree
) -> npt.NDArray[np.bool_]:
    """Which of sorted ``rows`` are not wholly inside ``sender`` (the metrics' "edge").

    Used when cells were selected with a simplified (larger) target: a cell
    inside that may still cross the sender's own outline or lie wholly in the
    band simplification added. As in ``_hits``: cells meeting the sender's
    boundary (a tree over its boundary pieces, built once per alert, queried
    with these cells only) and multi-part cells leave it; any other cell lies
    wholly inside or wholly outside, which one point-in-polygon test on its
    anchor settles. Wholly outside counts as leaving (it is all overshoot).
    """
    leaving = index.multi_part[rows].copy()
    single = np.flatnonzero(~leaving)
    meets = boundary.query(index.coverage[rows[single]], predicate="intersects")[0]
    leaving[single[np.unique(meets)]] = True
    rest = rows[~leaving]
    shapely.prepare(sender)
    anchors = index.anchors[rest]
    leaving[~leaving] = ~shapely.intersects_xy(sender, anchors[:, 0], anchors[:, 1])
    return leaving


def resolve(
    index: CellIndex,
    area: AlertArea,
    policy: Policy = INTERSECTS,
    *,
    with_geometry: bool = False,
) -> ResolutionResult:
    """Select the cells for ``area`` under ``policy`` and measure the fit.

    Safe to call from many threads on one index: GEOS work releases the GIL.
    ``with_geometry`` also returns the covered area as lon/lat.

    Cells are selected with ``area.geometry``; when that is an outward
    simplification, the metrics are still measured against the sender's own
    areas (``area.sender_equal_area``): target, under-alert, overshoot and
    beyond-161 m then count the band simplification added as overshoot.
    ``cells_meeting_target`` counts cells meeting the selection target.

    Raises:
        UntargetableAreaError: the area has no geometry at all.
    """
    if area.is_empty:
        raise UntargetableAreaError(area.untargetable or ("(no area)",))
    target = area.equal_area
    selected, hits, on_edge = _select(index, target, area.selection_boundary, policy)
    if isinstance(policy, Intersects):  # selected is hits: flags come along
        keep = _largest_mask(index, selected)
        reps, edge = selected[keep], on_edge[keep]
    else:
        reps = _largest_per_group(index, selected)
        edge = on_edge[np.searchsorted(hits, reps)]  # reps come from hits, which is sorted
    extra = reps[:0]
    if not isinstance(policy, Intersects):
        extra = np.setdiff1d(_largest_per_group(index, hits), reps, assume_unique=True)
    measured = area.sender_equal_area
    if area.original is not None:  # selected with the simplified area: classify anew
        edge = _leaving(index, reps, measured, area.sender_boundary)
    inside = reps[~edge]
    edge_reps = reps[edge]
    cells = (
        index.coverage[edge_reps],
        index.areas[edge_reps],
        index.coverage[inside],
        index.areas[inside],
        index.coverage[extra],
        index.areas[extra],
    )
    if area.sender_is_big:  # overlay piece by piece
        areas = measure_tiled(
            *cells,
            area.sender_tiles,
            buffer_holds_target=area.fcc_buffer_holds_sender,
            with_union=with_geometry,
        )
    else:
        areas = measure(
            *cells,
            measured,
            area.fcc_buffer_equal_area,
            near=partial(_near, index, inside),
            with_union=with_geometry,
            buffer_holds_target=area.fcc_buffer_holds_sender,
        )
    target_m2 = area.sender_m2
    metrics = ResolutionMetrics(
        target_km2=target_m2 / 1e6,
        covered_km2=areas.covered / 1e6,
        under_alert_km2=areas.under / 1e6,
        unreachable_km2=areas.unreachable / 1e6,
        overshoot_km2=areas.overshoot / 1e6,
        overshoot_ratio=areas.overshoot / target_m2 if target_m2 > 0 else None,
        overshoot_beyond_161m_km2=areas.beyond_buffer / 1e6,
        cells_meeting_target=len(hits),
    )
    covered = normalize(from_equal_area(areas.union)) if with_geometry else None
    return ResolutionResult(
        cells=tuple(index.ids[selected]),  # an object array: the str objects themselves
        policy=policy.describe(),
        metrics=metrics,
        index_version=index.version,
        target=area.geometry,
        covered=covered,
    )


def resolve_offline(
    areas: Sequence[CapArea],
    cells: Iterable[Cell | RowError],
    policy: Policy = INTERSECTS,
    *,
    registry: GeocodeRegistry | None = None,
    limits: ComplexityLimits | None = None,
    with_geometry: bool = False,
) -> ResolutionResult:
    """Resolve CAP areas against a cell file's rows, no service needed (CLI ``resolve``).

    The result also reports the area (contributions, untargetable areas,
    simplification) and the inventory import (rows, accepted, rejected).

    Raises:
        UntargetableAreaError: no area yields geometry.
        AreaTooComplexError, AreaError: see ``build_alert_area``.
    """
    area = build_alert_area(areas, registry=registry, limits=limits)
    imported: CellImport = import_cells(cells)
    index = CellIndex.build(imported.table, version="offline")
    result = resolve(index, area, policy, with_geometry=with_geometry)
    inventory: dict[str, Any] = dict(imported.summary())
    inventory["errors"] = [{"line": e.line, "message": e.message} for e in imported.errors]
    return ResolutionResult(
        cells=result.cells,
        policy=result.policy,
        metrics=result.metrics,
        index_version=result.index_version,
        target=result.target,
        covered=result.covered,
        area_report=area.report(),
        inventory=inventory,
    )
