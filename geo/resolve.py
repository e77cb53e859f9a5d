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
from geo.tiles import Outline


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


def _meeting(
    index: CellIndex, boundary: Outline, among: npt.NDArray[np.intp] | None = None
) -> npt.NDArray[np.intp]:
    """Cells (of sorted ``among``, when given) meeting ``boundary``'s line (sorted).

    A box query per boundary piece finds the cells near the line, cheaply;
    only those get the exact test, once each, against the whole prepared
    line. A cell meeting a target but not its boundary lies wholly inside it,
    so this is the one exact overlay test selection needs.
    """
    rows = np.unique(index.tree.query(boundary.pieces)[1])
    if among is not None:
        at = np.minimum(np.searchsorted(among, rows), max(len(among) - 1, 0))
        rows = rows[among[at] == rows] if len(among) else rows[:0]
    meets: npt.NDArray[np.intp] = rows[shapely.intersects(boundary.line, index.coverage[rows])]
    return meets


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


def _test_anchors(
    anchors: npt.NDArray[np.float64], target: Any, sender: Any | None
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_] | None]:
    """Point-in-polygon tests of ``anchors`` (x/y rows): in ``target``, in ``sender``.

    ``sender`` (inside ``target``) is tested first and only the anchors
    outside it against ``target``: one test for most anchors, and "inside
    the sender" comes for free (second value, None without sender). A run of
    equal anchors (the sectors of one site, next to each other as the index
    is in spatial order) is tested once: a third of the tests.
    """
    fresh = np.ones(len(anchors), dtype=bool)
    fresh[1:] = np.any(anchors[1:] != anchors[:-1], axis=1)
    run = np.cumsum(fresh) - 1
    x, y = anchors[fresh, 0], anchors[fresh, 1]
    if sender is None:
        return shapely.intersects_xy(target, x, y)[run], None
    in_sender = shapely.intersects_xy(sender, x, y)
    inside = in_sender.copy()
    outside = np.flatnonzero(~in_sender)
    inside[outside] = shapely.intersects_xy(target, x[outside], y[outside])
    return inside[run], in_sender[run]


def _within(
    index: CellIndex, rows: npt.NDArray[np.intp], target: Any, sender: Any | None
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_] | None]:
    """Whether single-part ``rows``, none meeting the boundaries, lie in ``target``/``sender``.

    Such a cell is wholly inside or wholly outside, which one point-in-polygon
    test on its anchor settles (``_test_anchors``), and all single-part cells
    of a nesting group share one anchor (the site), so it is tested once per
    group when it can be.
    """
    if index.group_anchors is None:
        return _test_anchors(index.anchors[rows], target, sender)
    seen = np.zeros(index.groups, dtype=bool)
    seen[index.group[rows]] = True
    tested = np.flatnonzero(seen)
    inside, in_sender = _test_anchors(index.group_anchors[tested], target, sender)
    lookup = np.zeros(index.groups, dtype=bool)
    lookup[tested] = inside
    group = index.group[rows]
    if in_sender is None:
        return lookup[group], None
    sender_lookup = np.zeros(index.groups, dtype=bool)
    sender_lookup[tested] = in_sender
    return lookup[group], sender_lookup[group]


@dataclass(frozen=True)
class _Hits:
    """Rows whose coverage meets the selection target (sorted), and what is known of them.

    ``on_edge[i]``: ``rows[i]`` may leave the target (meets its boundary, or
    is multi-part). ``in_sender[i]`` (only with a sender's area): ``rows[i]``
    does not meet the selection boundary and its anchor lies in the sender's
    area, so it lies wholly inside that area unless it meets its boundary.
    """

    rows: npt.NDArray[np.intp]
    on_edge: npt.NDArray[np.bool_]
    in_sender: npt.NDArray[np.bool_] | None


def _hits(index: CellIndex, target: Any, boundary: Outline, sender: Any | None) -> _Hits:
    """Exactly the cells whose coverage meets ``target`` (GEOS ``intersects``).

    The cells meeting the boundary are found by ``_meeting``; any other
    candidate lies wholly inside or wholly outside (``_within``). Multi-part
    cells (split at ±180°) get the exact test and count as edge cells: only
    single-part cells off the boundary are known to lie inside the target
    (``measure`` relies on that).
    """
    candidates = index.tree.query(target)
    boundary_rows = _meeting(index, boundary)
    edge = np.zeros(len(index), dtype=bool)  # calloc: pages are only touched where set
    edge[boundary_rows] = True
    rest = candidates[~edge[candidates]]
    shapely.prepare(target)
    multi_part = index.multi_part[rest]
    single = rest[~multi_part]
    within, single_in_sender = _within(index, single, target, sender)
    inside = single[within]
    multi = rest[multi_part]
    multi = multi[shapely.intersects(target, index.coverage[multi])]
    edge[multi] = True
    rows = np.sort(np.concatenate((boundary_rows, multi, inside)))
    in_sender = None
    if single_in_sender is not None:  # carried over by a mask: a sort beats an argsort
        marked = np.zeros(len(index), dtype=bool)
        marked[inside[single_in_sender[within]]] = True
        in_sender = marked[rows]
    return _Hits(rows, edge[rows], in_sender)


def _near(index: CellIndex, rows: npt.NDArray[np.intp], pieces: Any) -> npt.NDArray[np.intp]:
    """(piece, position in ``rows``) for every cell of sorted ``rows`` whose box meets a piece's."""
    piece, row = index.tree.query(pieces)
    position = np.minimum(np.searchsorted(rows, row), len(rows) - 1)
    found = rows[position] == row
    return np.stack((piece[found], position[found]))


def _select(
    index: CellIndex, area: AlertArea, policy: Policy
) -> tuple[npt.NDArray[np.intp], _Hits]:
    """(selected rows, every cell meeting the selection target) under ``policy``."""
    sender = None if area.original is None else area.sender_equal_area
    hits = _hits(index, area.equal_area, area.selection_boundary, sender)
    if isinstance(policy, Intersects):
        return hits.rows, hits
    edge_rows = hits.rows[hits.on_edge]
    inside_area = shapely.area(shapely.intersection(index.coverage[edge_rows], area.equal_area))
    enough = inside_area >= policy.fraction * index.areas[edge_rows]
    return np.sort(np.concatenate((hits.rows[~hits.on_edge], edge_rows[enough]))), hits


def _leaving(
    index: CellIndex,
    rows: npt.NDArray[np.intp],
    in_sender: npt.NDArray[np.bool_],
    boundary: Outline,
) -> npt.NDArray[np.bool_]:
    """Which of sorted ``rows`` are not wholly inside the sender's area (the metrics' "edge").

    Used when cells were selected with a simplified (larger) target: a cell
    inside that may still cross the sender's own outline or lie wholly in the
    band simplification added. ``in_sender`` (from ``_hits``) already marks
    the cells off the selection boundary whose anchor lies in the sender's
    area; a cell meeting the selection boundary cannot lie wholly inside the
    sender's area (that lies inside the selection target), and multi-part
    cells count as leaving. Of the cells marked, those meeting the sender's
    boundary leave it (``_meeting``, over those cells only); the rest lie
    wholly inside. Wholly outside counts as leaving (it is all overshoot).
    """
    leaving = ~in_sender
    candidates = np.flatnonzero(in_sender)
    meets = _meeting(index, boundary, rows[candidates])
    leaving[candidates[np.isin(rows[candidates], meets, assume_unique=True)]] = True
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
    selected, hits = _select(index, area, policy)
    # Positions in hits of the cells measured: the largest of each nesting group.
    if isinstance(policy, Intersects):  # selected is hits
        at = np.flatnonzero(_largest_mask(index, selected))
    else:  # selected comes from hits, which is sorted
        at = np.searchsorted(hits.rows, _largest_per_group(index, selected))
    reps, edge = hits.rows[at], hits.on_edge[at]
    extra = reps[:0]
    if not isinstance(policy, Intersects):
        extra = np.setdiff1d(_largest_per_group(index, hits.rows), reps, assume_unique=True)
    measured = area.sender_equal_area
    if hits.in_sender is not None:  # selected with the simplified area: classify anew
        edge = _leaving(index, reps, hits.in_sender[at], area.sender_boundary)
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
        cells_meeting_target=len(hits.rows),
    )
    covered = normalize(from_equal_area(areas.union)) if with_geometry else None
    return ResolutionResult(
        cells=index.cell_ids(selected),
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
