"""Per-alert pieces of a big outline, so each overlay sees only what is near it.

An outline with tens of thousands of points (a coastline alert) makes every
overlay against it cost the whole outline, however few cells are near. Cut
once per alert into a quadtree of boxes (each piece at most a few hundred
points), an overlay becomes a sum over the pieces whose boxes some cell
meets, each against the cells near it only. The pieces tile the outline
exactly (their areas add up to its area), so a metric summed over them is
the metric of the whole.

``Outline`` holds a polygon's boundary twice over: cut into short pieces, for
narrow box queries ("which cells lie near the boundary"), and whole and
prepared, for the exact test of the cells those find.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from geo.coverage import GeometryArray
from geo.projection import FloatArray

MAX_PIECE_POINTS = 256
_MIN_BOX_M = 2000.0  # never cut boxes smaller than a city cell

# Boundary pieces: at most 4 segments of at most 1 km, so each piece's box
# holds only the cells near that stretch of boundary (a city cell is ~1 km).
# Measured on a 1,000,000-cell network: 2.5 km segments make a simplified
# outline's long straight stretches into 10 km pieces whose boxes hold far too
# many cells (+35% on a county's selection); one segment per piece finds the
# same cells no faster and makes three times as many pieces of a jagged
# outline (memory held per alert).
_PIECE_SEGMENTS = 4
_PIECE_SEGMENT_M = 1000.0


Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Layer:
    """One geometry's pieces: polygons, each inside one box of its ``Tiles``.

    ``pieces_of[b]`` are the pieces in box ``b`` (none when the geometry does
    not reach it; a box may hold several), ``areas`` their areas.
    """

    pieces: GeometryArray
    areas: FloatArray
    pieces_of: tuple[npt.NDArray[np.intp], ...]

    def __len__(self) -> int:
        return len(self.pieces)


@dataclass(frozen=True)
class Tiles:
    """Geometries cut by one quadtree of boxes (equal-area metres), one ``Layer`` each.

    The boxes do not overlap, so each layer's pieces tile its geometry: their
    areas add up to its area. ``tree`` is an STRtree over the boxes.
    """

    layers: tuple[Layer, ...]
    tree: shapely.STRtree
    root: Box = (0.0, 0.0, 0.0, 0.0)
    boxes: FloatArray = field(default_factory=lambda: np.zeros((0, 4)))

    def split(self, geometry: Any) -> list[tuple[int, Any]]:
        """(box, ``geometry`` inside that box) for every box it reaches.

        Clipped down the same quadtree the boxes came from (each level clips
        its parent's polygons, a fast rectangle clip), so a big union costs
        its points times the depth, not its points times the boxes. A
        clipped part the rectangle clip leaves invalid is made again with an
        exact intersection.
        """
        out: list[tuple[int, Any]] = []
        parts = _polygons(geometry)
        if not len(parts) or not len(self.boxes):
            return out
        centres = (self.boxes[:, :2] + self.boxes[:, 2:]) / 2
        stack: list[tuple[GeometryArray, Box, npt.NDArray[np.intp]]] = [
            (parts, self.root, np.arange(len(self.boxes)))
        ]
        while stack:
            shape, box, ids = stack.pop()
            x0, y0, x1, y1 = box
            if len(ids) == 1 and tuple(self.boxes[ids[0]]) == box:
                piece = shape[0] if len(shape) == 1 else shapely.multipolygons(shape)
                if not shapely.is_valid(piece):
                    piece = shapely.intersection(geometry, shapely.box(*box))
                out.append((int(ids[0]), piece))
                continue
            xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
            west, south = centres[ids, 0] < xm, centres[ids, 1] < ym
            for child, inside in (
                ((x0, y0, xm, ym), west & south),
                ((xm, y0, x1, ym), ~west & south),
                ((x0, ym, xm, y1), west & ~south),
                ((xm, ym, x1, y1), ~west & ~south),
            ):
                if inside.any():
                    clipped = _clip(shape, child)
                    if len(clipped):
                        stack.append((clipped, child, ids[inside]))
        return out

    def near(self, geometries: GeometryArray) -> list[tuple[int, npt.NDArray[np.intp]]]:
        """(box, positions in ``geometries`` whose boxes meet it) for every box some meets."""
        position, box = self.tree.query(geometries)
        if not len(box):
            return []
        order = np.argsort(box, kind="stable")
        box, position = box[order], position[order]
        cuts = np.flatnonzero(np.diff(box)) + 1
        return [
            (int(b[0]), p)
            for b, p in zip(np.split(box, cuts), np.split(position, cuts), strict=True)
        ]


def _polygons(geometry: Any) -> GeometryArray:
    """The polygons with area among ``geometry``'s parts."""
    parts: GeometryArray = shapely.get_parts(geometry)
    keep = (shapely.get_type_id(parts) == 3) & (shapely.area(parts) > 0)
    polygons: GeometryArray = parts[keep]
    return polygons


def _clip(parts: GeometryArray, box: Box) -> GeometryArray:
    """The polygons of ``parts`` inside ``box`` (rectangle clip, each part on its own)."""
    if not len(parts):
        return parts
    bounds = shapely.bounds(parts)
    x0, y0, x1, y1 = box
    meets = (
        (bounds[:, 0] <= x1) & (bounds[:, 2] >= x0) & (bounds[:, 1] <= y1) & (bounds[:, 3] >= y0)
    )
    try:
        clipped = shapely.clip_by_rect(parts[meets], *box)
    except shapely.errors.GEOSException:  # a sliver along the box's edge made a 3-point ring
        clipped = shapely.intersection(parts[meets], shapely.box(*box))
    return _polygons(clipped)


def tile(*geometries: Any, max_points: int = MAX_PIECE_POINTS) -> Tiles:
    """Cut ``geometries`` along one quadtree: boxes of at most ``max_points`` points each.

    A box is cut in four while the geometries hold more than ``max_points``
    points per geometry in it (and it is wider than 2 km). Each box is cut
    from its parent's polygons, so every point is clipped once per level:
    O(n log n), once per alert. Pieces are single polygons (a box may hold
    several), so no piece is a multipolygon whose parts touch along the box's
    edge; the rare polygon the fast rectangle clip leaves invalid is made
    again with an exact intersection of the original polygons and the box.
    """
    roots = [_polygons(g) for g in geometries]
    pieces: list[list[Any]] = [[] for _ in roots]
    box_of: list[list[int]] = [[] for _ in roots]
    boxes: list[Box] = []
    present = [r for r in roots if len(r)]
    if present:
        minx, miny, maxx, maxy = (float(v) for v in shapely.total_bounds(np.concatenate(present)))
        side = max(maxx - minx, maxy - miny, 1.0)
        # Square boxes: a piece's box is never much longer than it is wide.
        root: Box = (minx, miny, minx + side, miny + side)
        stack: list[tuple[list[GeometryArray], Box]] = [(roots, root)]
    else:
        root, stack = (0.0, 0.0, 0.0, 0.0), []
    budget = max_points * len(roots)
    while stack:
        shapes, box = stack.pop()
        x0, y0, x1, y1 = box
        points = sum(int(shapely.get_num_coordinates(s).sum()) for s in shapes)
        if points <= budget or x1 - x0 <= _MIN_BOX_M:
            for layer, shape in enumerate(shapes):
                if len(shape) and not shapely.is_valid(shape).all():  # rare: exact
                    shape = _polygons(shapely.intersection(roots[layer], shapely.box(*box)))
                pieces[layer].extend(shape)
                box_of[layer].extend([len(boxes)] * len(shape))
            boxes.append(box)
            continue
        xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
        for child in ((x0, y0, xm, ym), (xm, y0, x1, ym), (x0, ym, xm, y1), (xm, ym, x1, y1)):
            clipped = [_clip(s, child) for s in shapes]
            if any(len(c) for c in clipped):
                stack.append((clipped, child))
    layers = []
    for layer_pieces, layer_boxes in zip(pieces, box_of, strict=True):
        array = np.array(layer_pieces, dtype=object)
        owner = np.array(layer_boxes, dtype=np.intp)
        order = np.argsort(owner, kind="stable")
        starts = np.searchsorted(owner[order], np.arange(len(boxes) + 1))
        pieces_of = tuple(order[starts[b] : starts[b + 1]] for b in range(len(boxes)))
        layers.append(Layer(array, shapely.area(array), pieces_of))
    box_array = np.array(boxes, dtype=np.float64).reshape(-1, 4)
    return Tiles(tuple(layers), shapely.STRtree(shapely.box(*box_array.T)), root, box_array)


@dataclass(frozen=True)
class Outline:
    """A polygon's boundary (equal-area metres): ``pieces`` to find the cells near it
    with box queries, ``line`` (the whole boundary, prepared) to test those exactly.

    One prepared test of a cell against the whole boundary is cheaper than
    tests against every piece whose box the cell meets (a city cell meets
    several), and exact whatever the pieces are.
    """

    pieces: GeometryArray
    line: Any


def outline(target: Any) -> Outline:
    """The ``Outline`` of ``target`` (a polygon or multipolygon), prepared once."""
    line = shapely.boundary(target)
    shapely.prepare(line)
    if not line.is_empty:  # build the prepared index now, not in racing query threads
        shapely.intersects(line, shapely.box(*line.bounds))
    return Outline(boundary_pieces(target), line)


def boundary_pieces(target: Any) -> GeometryArray:
    """The target's rings cut into short linestrings (at most 4 segments of 1 km)."""
    rings = shapely.get_rings(shapely.get_parts(target))
    if not len(rings):
        return np.array([], dtype=object)
    coords, ring_of = shapely.get_coordinates(
        shapely.segmentize(rings, _PIECE_SEGMENT_M), return_index=True
    )
    # Piece j of a ring holds its points 4j .. 4j+4: consecutive pieces share one.
    starts_of_ring = np.flatnonzero(np.r_[True, ring_of[1:] != ring_of[:-1]])
    lengths = np.diff(np.r_[starts_of_ring, len(coords)])
    segments = lengths - 1
    per_ring = -(-segments // _PIECE_SEGMENTS)  # ceil
    piece_ring = np.repeat(np.arange(len(lengths)), per_ring)
    first_piece = np.r_[0, np.cumsum(per_ring)[:-1]]
    j = np.arange(len(piece_ring)) - first_piece[piece_ring]
    begin = starts_of_ring[piece_ring] + _PIECE_SEGMENTS * j
    end = np.minimum(begin + _PIECE_SEGMENTS, starts_of_ring[piece_ring] + lengths[piece_ring] - 1)
    count = end - begin + 1
    piece_of_point = np.repeat(np.arange(len(begin)), count)
    offsets = np.arange(len(piece_of_point)) - np.repeat(np.r_[0, np.cumsum(count)[:-1]], count)
    points = coords[np.repeat(begin, count) + offsets]
    return np.asarray(shapely.linestrings(points, indices=piece_of_point), dtype=object)
