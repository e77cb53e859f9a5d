"""Area metrics of a selection: the expensive part of every resolution.

Everything here is in equal-area metres. The cost is the union of the
selected coverage; the differences against the target afterwards are cheap
because the union of overlapping sectors is far simpler than its inputs.

Tried and dropped: cutting the work into a grid of tiles run on threads. With
the pruned union below, a single pass is faster than two threads over clipped
tiles (clipping fragments polygons, and pruning works best over everything).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from geo.antimeridian import EMPTY
from geo.coverage import GeometryArray
from geo.projection import FloatArray

_FIRST_BATCH = 128


@dataclass(frozen=True)
class Coverage:
    """Areas in m² (see ``ResolutionMetrics`` for their meaning) and the union."""

    covered: float
    under: float
    unreachable: float
    overshoot: float
    beyond_buffer: float
    union: Any


def pruned_union(parts: GeometryArray, areas: FloatArray, start: Any = None) -> Any:
    """Union that skips polygons already covered by what has been merged so far.

    Coverage overlaps heavily (a city cell lies inside the union of its
    neighbours more often than not). Merging the largest polygons first and
    then dropping every remaining one that the running union already covers
    (a prepared ``covers`` test, microseconds) before the next merge (an
    overlay, far dearer) gives the same union up to ten times faster than
    ``union_all`` in a city. Batches double in size, so the running union is
    merged only log(n) times: where little is covered (sparse countryside)
    this costs about what ``union_all`` does.
    """
    if not len(parts):
        return EMPTY if start is None else start
    rest = parts[np.argsort(-areas, kind="stable")]
    batch = _FIRST_BATCH
    union = start
    while len(rest):
        if union is not None:
            shapely.prepare(union)
            rest = rest[~shapely.covers(union, rest)]
        merged = shapely.union_all(rest[:batch])
        union = merged if union is None else shapely.union(union, merged)
        rest = rest[batch:]
        batch *= 2
    return union


def _outside(union: Any, region: Any) -> float:
    """Area of ``union`` outside ``region``."""
    if region.is_empty:
        return float(shapely.area(union))
    return float(shapely.area(shapely.difference(union, region)))


def measure(
    cells: GeometryArray,
    cell_areas: FloatArray,
    extra: GeometryArray,
    extra_areas: FloatArray,
    target: Any,
    buffered: Any,
) -> Coverage:
    """Measure the union of ``cells`` against ``target`` and its buffered copy.

    ``extra`` are cells that meet the target but were not selected: they only
    count towards ``unreachable`` (target that no cell of the operator covers).
    """
    union = pruned_union(cells, cell_areas)
    under = float(shapely.area(shapely.difference(target, union)))
    unreachable = under
    if len(extra) and under > 0:
        reach = pruned_union(extra, extra_areas, start=union)
        unreachable = float(shapely.area(shapely.difference(target, reach)))
    return Coverage(
        covered=float(shapely.area(union)),
        under=under,
        unreachable=unreachable,
        overshoot=_outside(union, target),
        beyond_buffer=_outside(union, buffered),
        union=union,
    )
