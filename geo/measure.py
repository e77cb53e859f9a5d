"""Area metrics of a selection: the expensive part of every resolution.

Everything here is in equal-area metres. The cost is overlaying coverage
polygons, so as few of them as possible are ever overlaid: cells wholly
inside the target cannot overshoot it, so only the cells crossing its
boundary are merged into a union (for overshoot and beyond-161 m); the
under-alert is what is left of the target once that union and then the inside
cells, largest first, are taken away (``remainder``), and a well-covered
target is used up long before a dense city's thousands of small cells are
reached. The covered area follows: target - under-alert + overshoot.

Tried and dropped: cutting the work into a grid of tiles run on threads (a
single pass is faster than two threads over clipped tiles); running the tree
queries on a second thread (slower: they hold the GIL); per-piece differences
or cells clipped to the leftover slivers' boxes instead of one union per
batch (no faster); ``disjoint_subset_union_all`` and a plain ``union_all``
for the edge cells (slower than ``pruned_union``). Tried since and dropped
(1,000,000 cells, county): the edge union on a second thread beside the first
inside batch (about 10% faster, with a core to spare); the first inside batch
merged into the edge union (slower); overshoot as the union's area minus the
target it covers, saving an overlay (no longer exactly zero when nothing
leaves the target); areas from one noded arrangement of every boundary
(``node`` + ``polygonize``, three times slower than the overlays).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from geo.antimeridian import EMPTY
from geo.coverage import GeometryArray
from geo.projection import FloatArray
from geo.tiles import Layer, Tiles

_FIRST_BATCH = 128
# Later batches double, but never take more than an eighth of the cells still
# meeting what is left (nor fewer than 32): once a first batch has used up
# most of a county, the slivers left meet a few hundred cells, and pruning
# again after a few dozen merges beats merging them all (county remainder
# -20% on 1,000,000 cells); a region, with tens of thousands of cells still
# meeting it, keeps doubling (restarting from 32 there cost +40%).
_NEXT_BATCH = 32
_ALIVE_PER_BATCH = 8
_PIECE_BATCH = 16  # a piece is small: a few of the largest cells near it often cover it


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


Near = Callable[[GeometryArray], npt.NDArray[np.intp]]
"""Given pieces, the pairs (piece, part position) whose boxes overlap, shape (2, n)."""


def _meets(
    region: Any, parts: GeometryArray, alive: npt.NDArray[np.intp], near: Near | None
) -> npt.NDArray[np.bool_]:
    """Which of ``parts[alive]`` meet ``region``.

    What is left of a well-covered target is a scatter of slivers: a box query
    between its pieces and the parts rejects almost every part without a
    geometric test, and only the pairs whose boxes overlap get the exact test,
    against the prepared piece. ``near`` answers the box query from a tree
    the caller already has (the cell index); otherwise one is built here.
    """
    pieces = shapely.get_parts(region)
    if near is None:
        found = shapely.STRtree(pieces).query(parts[alive])
        piece, candidate = found[1], alive[found[0]]
    else:
        piece, candidate = near(pieces)
        living = np.zeros(len(parts), dtype=bool)
        living[alive] = True
        keep = living[candidate]
        piece, candidate = piece[keep], candidate[keep]
    shapely.prepare(pieces)
    meets = np.zeros(len(parts), dtype=bool)
    meets[candidate[shapely.intersects(pieces[piece], parts[candidate])]] = True
    return meets[alive]


def remainder(
    region: Any,
    parts: GeometryArray,
    areas: FloatArray,
    near: Near | None = None,
    first_batch: int = _FIRST_BATCH,
) -> Any:
    """``region`` minus the union of ``parts``, without building that union.

    The largest parts are taken away first, in batches doubling in size (see
    ``_ALIVE_PER_BATCH``); before each later batch, parts that no longer meet
    what is left are dropped. A well-covered target is used up after a batch
    or two and the rest of the parts then cost a box test each: no overlay
    ever sees them.
    """
    if not len(parts) or region.is_empty:
        return region
    alive = np.argsort(-areas, kind="stable")  # positions in parts, largest first
    batch = first_batch
    while True:
        region = shapely.difference(region, shapely.union_all(parts[alive[:batch]]))
        alive = alive[batch:]
        if not len(alive) or region.is_empty:
            return region
        alive = alive[_meets(region, parts, alive, near)]
        if not len(alive):
            return region
        batch = min(batch * 2, max(_NEXT_BATCH, len(alive) // _ALIVE_PER_BATCH))


def _outside(union: Any, region: Any) -> float:
    """Area of ``union`` outside ``region``."""
    if region.is_empty:
        return float(shapely.area(union))
    return float(shapely.area(shapely.difference(union, region)))


def measure(
    edge: GeometryArray,
    edge_areas: FloatArray,
    inside: GeometryArray,
    inside_areas: FloatArray,
    extra: GeometryArray,
    extra_areas: FloatArray,
    target: Any,
    buffered: Any,
    *,
    near: Near | None = None,
    with_union: bool = False,
    buffer_holds_target: bool | None = None,
) -> Coverage:
    """Measure the selected cells against ``target`` and its buffered copy.

    ``inside`` are selected cells lying wholly inside the target, ``edge`` the
    other selected cells. Only the edge cells reach beyond the target, so
    overshoot and beyond-buffer need only their union; the target not covered
    (under-alert) is what is left of the target once the edge union and then
    the inside cells are taken away (``remainder``), and the covered area is
    the target minus that plus the overshoot. A dense city's thousands of
    inside cells are thus never merged into one union. ``extra`` are cells
    that meet the target but were not selected: they only count towards
    ``unreachable`` (target that no cell of the operator covers).
    ``near`` is a box query over ``inside`` (see ``Near``); ``with_union``
    also builds the whole union (``Coverage.union``, for maps);
    ``buffer_holds_target`` (whether ``buffered`` covers ``target``) may be
    handed in when known (it is computed once per alert).
    """
    edge_union = pruned_union(edge, edge_areas)
    overshoot = _outside(edge_union, target)
    if buffer_holds_target is None:
        buffer_holds_target = not buffered.is_empty and bool(shapely.covers(buffered, target))
    if not len(inside) or buffer_holds_target:
        beyond = _outside(edge_union, buffered)  # the inside cells lie within the buffer
    else:  # a buffer not quite holding its target (projection round-off): count all
        beyond = _outside(pruned_union(inside, inside_areas, start=edge_union), buffered)
    left = remainder(shapely.difference(target, edge_union), inside, inside_areas, near)
    under = float(shapely.area(left))
    unreachable = under
    if len(extra) and under > 0:
        unreachable = float(shapely.area(remainder(left, extra, extra_areas)))
    union = EMPTY
    if with_union:
        union = pruned_union(inside, inside_areas, start=edge_union)
    return Coverage(
        covered=float(shapely.area(target)) - under + overshoot,
        under=under,
        unreachable=unreachable,
        overshoot=overshoot,
        beyond_buffer=beyond,
        union=union,
    )


def _minus_near(
    tiles: Tiles,
    layers: tuple[int, ...],
    cells: GeometryArray,
    cell_areas: FloatArray,
    whole: Any = None,
) -> list[tuple[npt.NDArray[np.intp], GeometryArray]]:
    """Per layer: (pieces some cell's box meets, each such piece minus the cells' union).

    Exact piece by piece: a piece lies inside its box, and every point of the
    cells' union inside that box belongs to a cell whose box meets it, so
    only those cells are merged (``pruned_union``, once per box for every
    layer) and overlaid, against that box's pieces only. When the cells'
    union ``whole`` is at hand, it is clipped down the quadtree instead
    (``Tiles.split``): dense cells near many boxes are then merged once.
    """
    touched: list[list[npt.NDArray[np.intp]]] = [[] for _ in layers]
    unions: list[list[Any]] = [[] for _ in layers]
    if whole is not None:  # the union is already made: clip it down the quadtree
        per_box = tiles.split(whole)
    else:
        per_box = [
            (box, pruned_union(cells[positions], cell_areas[positions]))
            for box, positions in tiles.near(cells)
        ]
    for box, union in per_box:
        for i, layer in enumerate(layers):
            members = tiles.layers[layer].pieces_of[box]
            touched[i].append(members)
            unions[i].extend([union] * len(members))
    out = []
    for i, layer in enumerate(layers):
        pieces = np.concatenate(touched[i]) if touched[i] else np.zeros(0, dtype=np.intp)
        others = np.array(unions[i], dtype=object)
        out.append((pieces, shapely.difference(tiles.layers[layer].pieces[pieces], others)))
    return out


def _take_away(tiles: Tiles, left: GeometryArray, cells: GeometryArray, areas: FloatArray) -> None:
    """Take the cells away from what is ``left`` of each target piece (in place).

    One ``remainder`` per box, over all of that box's pieces at once (they
    are disjoint: one multipolygon), with the cells near the box only.
    """
    pieces_of = tiles.layers[0].pieces_of
    for box, positions in tiles.near(cells):
        members = pieces_of[box]
        parts = shapely.get_parts(left[members])
        parts = parts[~shapely.is_empty(parts)]
        if not len(parts):
            continue
        region = parts[0] if len(parts) == 1 else shapely.multipolygons(parts)
        if len(parts) > 1 and not shapely.is_valid(region):  # pieces touching along a line
            for piece in members:
                left[piece] = remainder(left[piece], cells[positions], areas[positions])
            continue
        left[members] = EMPTY
        left[members[0]] = remainder(
            region, cells[positions], areas[positions], first_batch=_PIECE_BATCH
        )


def _inside_of(layer: Layer, pieces: npt.NDArray[np.intp], left: GeometryArray) -> float:
    """Area of the cells' union inside ``pieces`` of ``layer``, from what is left of them."""
    return float(np.sum(layer.areas[pieces]) - np.sum(shapely.area(left)))


def measure_tiled(
    edge: GeometryArray,
    edge_areas: FloatArray,
    inside: GeometryArray,
    inside_areas: FloatArray,
    extra: GeometryArray,
    extra_areas: FloatArray,
    tiles: Tiles,
    *,
    buffer_holds_target: bool,
    with_union: bool = False,
) -> Coverage:
    """``measure`` against a big target cut into pieces (``geo.tiles``), same figures.

    ``tiles`` has two layers, the target and its buffer, cut along the same
    boxes. Only two areas need them: the edge cells' union inside the target
    and inside its buffer; overshoot and beyond-buffer are the union's area
    minus those. Both are sums over the boxes some edge cell meets, each box's
    pieces overlaid with the union of the edge cells near it only (merged
    once for both layers), so a 93,000-point coastline costs what the points
    near the cells cost. The under-alert is the sum over all target pieces
    of what is left of each once the edge cells and then the inside cells
    near it are taken away (``remainder``, per piece); pieces no cell reaches
    count whole, without any overlay.
    """
    target, buffered = tiles.layers
    edge_union = pruned_union(edge, edge_areas)
    edge_m2 = float(shapely.area(edge_union))
    (touched, minus_edge), (touched_b, minus_edge_b) = _minus_near(
        tiles, (0, 1), edge, edge_areas, whole=edge_union
    )
    overshoot = edge_m2 - _inside_of(target, touched, minus_edge)
    left = target.pieces.copy()
    left[touched] = minus_edge
    if len(inside):
        _take_away(tiles, left, inside, inside_areas)
    under = float(np.sum(shapely.area(left)))
    unreachable = under
    if len(extra) and under > 0:
        _take_away(tiles, left, extra, extra_areas)
        unreachable = float(np.sum(shapely.area(left)))
    covered = float(np.sum(target.areas)) - under + overshoot
    if not len(inside) or buffer_holds_target:
        beyond = edge_m2 - _inside_of(buffered, touched_b, minus_edge_b)
    else:  # a buffer not quite holding its target (projection round-off): count all
        cells = np.concatenate((edge, inside))
        ((pieces, minus),) = _minus_near(
            tiles, (1,), cells, np.concatenate((edge_areas, inside_areas))
        )
        beyond = covered - _inside_of(buffered, pieces, minus)
    union = EMPTY
    if with_union:
        union = pruned_union(inside, inside_areas, start=edge_union)
    return Coverage(
        covered=covered,
        under=under,
        unreachable=unreachable,
        overshoot=overshoot,
        beyond_buffer=beyond,
        union=union,
    )
