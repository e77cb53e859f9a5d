"""The cell index: every cell's coverage in equal-area metres plus an STRtree.

Built once per operator inventory version and then only read, so one
instance can be shared by every request and worker thread; the service swaps
in a new instance when the inventory changes (``version`` says which one).
Coverage is stored projected (equal-area) because every query measures
areas: projecting a million polygons once beats projecting thousands per
query. ``save``/``load`` keep the coordinates as flat arrays in one memory-mapped
file so a restart rebuilds geometry in C instead of recomputing sectors.
"""

from __future__ import annotations

import gc
import json
import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from geo.cells import KIND_POLYGON, Cell, CellTable
from geo.coverage import CoverageShape, GeometryArray, coverage_polygons
from geo.errors import IndexFormatError
from geo.projection import cea_forward

FORMAT = 4  # 4: rows in spatial order, with each row's inventory row
MAGIC = b"TOCSIN-CELL-INDEX\n"
IdArray = npt.NDArray[np.object_]
# Per-cell columns the index file holds as they are (geometry and ids are encoded).
_COLUMNS = ("bounds", "areas", "group", "reach", "anchors", "dominant", "inventory_row")


def _column_hash(columns: tuple[npt.NDArray[np.float64], ...]) -> npt.NDArray[np.uint64]:
    """64-bit mix of each row's float bits (wrapping multiply-xor, vectorised)."""
    h = np.full(len(columns[0]), 0x9E3779B97F4A7C15, dtype=np.uint64)
    for column in columns:
        h ^= np.ascontiguousarray(column, dtype=np.float64).view(np.uint64)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(31)
    return h


_ID_HASH = np.random.default_rng(0x70C5).integers(1, 2**63, size=64, dtype=np.uint64) | np.uint64(1)


def _has_duplicates(ids: npt.NDArray[np.str_]) -> bool:
    """Whether any id occurs twice, told by a sort of 64-bit hashes (exact on a tie).

    Each id's UCS-4 code points, weighted by fixed random odd factors and
    summed (one ``einsum`` over the fixed-width array), give a hash; equal ids
    give equal hashes, so distinct hashes prove the ids distinct. Only a tie
    (a real duplicate, or a collision) asks a ``set``. A million ids take
    0.1 s this way, 0.4 s as Python strings in a set.
    """
    width = ids.dtype.itemsize // 4
    if ids.dtype.kind == "U" and 0 < width <= len(_ID_HASH) and len(ids) >= 2:
        codes = np.ascontiguousarray(ids).view(np.uint32).reshape(len(ids), width)
        hashes = np.einsum("ij,j->i", codes, _ID_HASH[:width], dtype=np.uint64, casting="unsafe")
        hashes.sort()
        if not (hashes[1:] == hashes[:-1]).any():
            return False
    return len(set(ids.tolist())) != len(ids)


def _nesting_groups(table: CellTable) -> npt.NDArray[np.int64]:
    """Group cells whose coverage shapes are nested: same site, azimuth and beamwidth.

    Real sites carry several layers (2G, 4G bands, 5G) on the same sector, so
    most coverage polygons lie inside a bigger one from the same mast; the
    union of a selection only needs the largest of each group. Grouping hashes
    the key columns (a sort of five columns costs three times as much) and
    then checks every member against one member of its group, column by
    column, so a hash collision can only cost speed (fallback to a sort),
    never a wrong union. Groups are numbered in order of their first row, so
    that cells near each other (rows in spatial order) have nearby group
    numbers and per-group arrays are read from a few cache lines.
    """
    columns = (
        table.lon,
        table.lat,
        table.kind.astype(np.float64),
        np.nan_to_num(table.azimuth, nan=-1.0),
        np.nan_to_num(table.beamwidth, nan=-1.0),
    )
    group = np.zeros(len(table), dtype=np.int64)
    if len(table):
        hashes = _column_hash(columns)
        order = np.argsort(hashes)
        sorted_hashes = hashes[order]
        starts = np.flatnonzero(np.r_[True, sorted_hashes[1:] != sorted_hashes[:-1]])
        group[order] = np.cumsum(np.r_[False, sorted_hashes[1:] != sorted_hashes[:-1]])
        representative = order[starts][group]
        if not all(np.array_equal(c, c[representative]) for c in columns):
            _, inverse = np.unique(np.column_stack(columns), axis=0, return_inverse=True)
            group = inverse.astype(np.int64).reshape(-1)
    polygons = np.flatnonzero(table.kind == KIND_POLYGON)  # measured shapes do not nest
    group[polygons] = (int(group.max()) + 1 if len(group) else 0) + np.arange(len(polygons))
    return _numbered_by_first_row(group)


def _numbered_by_first_row(group: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The same grouping, groups numbered 0, 1, ... in order of their first row."""
    if not len(group):
        return group
    first = np.full(int(group.max()) + 1, len(group), dtype=np.int64)
    np.minimum.at(first, group, np.arange(len(group)))
    used = np.flatnonzero(first < len(group))
    number = np.empty(len(first), dtype=np.int64)
    number[used[np.argsort(first[used], kind="stable")]] = np.arange(len(used))
    renumbered: npt.NDArray[np.int64] = number[group]
    return renumbered


def _spatial_order(table: CellTable) -> npt.NDArray[np.intp]:
    """Rows sorted along a Z-order curve of their sites (cells of one site keep their order).

    A query touches the cells of one place; with rows in this order their
    geometry, ids and columns lie together in memory instead of being spread
    over the whole inventory (on 1,000,000 cells the slowest county queries
    took 25% less time). Sites are quantised to a 65,536 x 65,536 grid over
    the inventory's extent and the bits of the two grid coordinates
    interleaved.
    """
    if not len(table):
        return np.zeros(0, dtype=np.intp)

    def grid(values: npt.NDArray[np.float64]) -> npt.NDArray[np.uint64]:
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) * (65535.0 / (high - low) if high > low else 0.0)
        return np.clip(scaled, 0, 65535).astype(np.uint64)

    def spread(v: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:  # bit i -> bit 2i
        for shift, mask in ((8, 0x00FF00FF), (4, 0x0F0F0F0F), (2, 0x33333333), (1, 0x55555555)):
            v = (v | (v << np.uint64(shift))) & np.uint64(mask)
        return v

    key = spread(grid(table.lon)) | (spread(grid(table.lat)) << np.uint64(1))
    order: npt.NDArray[np.intp] = np.argsort(key, kind="stable")
    return order


def _anchors(table: CellTable, coverage: GeometryArray) -> npt.NDArray[np.float64]:
    """One point of each single-part coverage (x/y), NaN for multi-part coverage.

    A cell that does not meet the target's boundary is wholly inside or wholly
    outside it, so one point-in-polygon test on this anchor decides (resolve).
    The site itself is such a point for sectors (the apex) and omni cells (the
    centre), so no geometry needs to be taken apart for them.
    """
    x, y = cea_forward(table.lon, table.lat)
    anchors = np.column_stack((x, y))
    measured = np.flatnonzero(table.kind == KIND_POLYGON)
    anchors[measured] = shapely.get_coordinates(shapely.point_on_surface(coverage[measured]))
    anchors[shapely.get_type_id(coverage) != 3] = np.nan
    return anchors


_pause_lock = threading.Lock()
_pause_depth = 0  # builds and loads running now (in any thread)
_pause_resumes = False  # whether the collector was on when the first of them began


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while an index's geometry is made.

    Every Shapely geometry is an object the collector tracks, and making a
    million of them set off six or seven full collections, each walking every
    object made so far: 0.3-0.6 s of a 1,000,000-cell build and as much
    again of a load (bench/geo.py). Geometries hold no reference cycles, so
    nothing is lost by waiting. The last build or load to finish turns the
    collector back on (if it was on) and runs one full collection, so the
    new objects are walked once, here, rather than in whatever request
    allocates next. Several threads may build at once: a counter under a
    lock keeps the collector off until all have finished.
    """
    global _pause_depth, _pause_resumes
    with _pause_lock:
        if _pause_depth == 0:
            _pause_resumes = gc.isenabled()
            gc.disable()
        _pause_depth += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pause_depth -= 1
            resume = _pause_depth == 0 and _pause_resumes
            if resume:
                gc.enable()
        if resume:
            gc.collect()


_CHUNK = 16384  # GEOS builds small batches three times faster than one huge one


def _polygons(
    coords: npt.NDArray[np.float64], rings: npt.NDArray[np.int64], polys: npt.NDArray[np.int64]
) -> GeometryArray:
    """Inverse of ``to_ragged_array`` for single-ring polygons, in cache-sized chunks."""
    out: GeometryArray = np.empty(len(polys) - 1, dtype=object)
    for start in range(0, len(out), _CHUNK):
        stop = min(start + _CHUNK, len(out))
        r0, r1 = polys[start], polys[stop]
        ring_offsets = rings[r0 : r1 + 1]
        c0 = ring_offsets[0]
        out[start:stop] = shapely.from_ragged_array(
            shapely.GeometryType.POLYGON,
            coords[c0 : ring_offsets[-1]],
            (ring_offsets - c0, polys[start : stop + 1] - r0),
        )
    return out


def _dominant(
    group: npt.NDArray[np.int64], reach: npt.NDArray[np.float64]
) -> npt.NDArray[np.bool_]:
    """True for exactly one cell per nesting group: the (first) one reaching furthest."""
    count = int(group.max()) + 1 if len(group) else 0
    reach = np.nan_to_num(reach, nan=np.inf)
    furthest = np.full(count, -np.inf)
    np.maximum.at(furthest, group, reach)
    candidate = np.flatnonzero(reach == furthest[group])
    first = np.full(count, len(group))
    np.minimum.at(first, group[candidate], candidate)
    dominant = np.zeros(len(group), dtype=bool)
    dominant[first[first < len(group)]] = True
    return dominant


@dataclass(frozen=True, eq=False)
class CellIndex:
    """Immutable, thread-safe spatial index over one inventory version.

    ``coverage[i]`` (equal-area metres), ``ids[i]`` (a ``str``; an object
    array so results take ids without converting them), ``areas[i]`` (m²),
    ``bounds[i]``, ``group[i]``/``reach[i]`` (nesting, see ``_nesting_groups``)
    and ``anchors[i]`` (a point of the coverage, x/y; NaN for multi-part
    coverage) all describe cell ``i``; ``tree`` indexes ``coverage``.
    ``multi_part[i]`` and ``group_anchors[g]`` (the anchor every single-part
    member of group ``g`` shares; None if they do not) are derived from those.
    Rows are in spatial order (``_spatial_order``); ``inventory_row[i]`` is
    cell ``i``'s row in the inventory the index was built from, the order
    results list cells in (``cell_ids``).
    """

    version: str
    ids: IdArray
    coverage: GeometryArray
    bounds: npt.NDArray[np.float64]
    areas: npt.NDArray[np.float64]
    group: npt.NDArray[np.int64]
    reach: npt.NDArray[np.float64]
    anchors: npt.NDArray[np.float64]
    dominant: npt.NDArray[np.bool_]
    groups: int
    tree: shapely.STRtree
    inventory_row: npt.NDArray[np.int64]
    multi_part: npt.NDArray[np.bool_] = field(init=False, repr=False)
    group_anchors: npt.NDArray[np.float64] | None = field(init=False, repr=False)
    _row_of_inventory: npt.NDArray[np.int64] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Every single-part member of a nesting group has the same anchor (the
        # site), so "inside or outside the target" is decided once per group.
        multi_part = np.isnan(self.anchors[:, 0])
        single = ~multi_part
        group_anchors: npt.NDArray[np.float64] | None = np.full((self.groups, 2), np.nan)
        assert group_anchors is not None
        group_anchors[self.group[single]] = self.anchors[single]
        if not np.array_equal(group_anchors[self.group[single]], self.anchors[single]):
            group_anchors = None  # not one anchor per group: test cell by cell
        object.__setattr__(self, "multi_part", multi_part)
        object.__setattr__(self, "group_anchors", group_anchors)
        row_of_inventory = np.empty(len(self.ids), dtype=np.int64)
        row_of_inventory[self.inventory_row] = np.arange(len(self.ids))
        object.__setattr__(self, "_row_of_inventory", row_of_inventory)

    def __len__(self) -> int:
        return len(self.ids)

    def cell_ids(self, rows: npt.NDArray[np.intp]) -> tuple[str, ...]:
        """The ids of the cells at ``rows``, in inventory order (as results list them).

        A big selection is put in order by marking inventory rows and reading
        the marks back (linear, no sort of 86,000 rows); a small one is sorted.
        """
        if len(rows) * 32 < len(self):
            inventory = np.sort(self.inventory_row[rows])
        else:
            marked = np.zeros(len(self), dtype=bool)
            marked[self.inventory_row[rows]] = True
            inventory = np.flatnonzero(marked)
        return tuple(self.ids[self._row_of_inventory[inventory]].tolist())

    @classmethod
    def _assemble(
        cls,
        version: str,
        ids: IdArray,
        coverage: GeometryArray,
        group: npt.NDArray[np.int64],
        reach: npt.NDArray[np.float64],
        anchors: npt.NDArray[np.float64],
        inventory_row: npt.NDArray[np.int64],
    ) -> CellIndex:
        areas = shapely.area(coverage)
        return cls(
            version=version,
            ids=ids,
            coverage=coverage,
            bounds=shapely.bounds(coverage),
            areas=areas,
            group=group,
            reach=reach,
            anchors=anchors,
            dominant=_dominant(group, reach),
            groups=int(group.max()) + 1 if len(group) else 0,
            tree=shapely.STRtree(coverage, node_capacity=10),
            inventory_row=inventory_row,
        )

    @classmethod
    def build(
        cls, cells: CellTable | Iterable[Cell], *, version: str, shape: CoverageShape | None = None
    ) -> CellIndex:
        """Compute every coverage polygon and index them.

        Raises:
            ValueError: duplicate cell ids (import with ``import_cells`` first).
        """
        with _collector_paused():
            return cls._build(cells, version=version, shape=shape)

    @classmethod
    def _build(
        cls, cells: CellTable | Iterable[Cell], *, version: str, shape: CoverageShape | None
    ) -> CellIndex:
        table = cells if isinstance(cells, CellTable) else CellTable.from_cells(cells)
        if _has_duplicates(table.ids):
            raise ValueError("duplicate cell ids: collect cells with import_cells first")
        order = _spatial_order(table)
        # Geometry is made in row order, so it lies in memory in spatial order; the
        # id strings keep the inventory's (a loaded index makes them in row order).
        ids: IdArray = table.ids.astype(object)[order]
        table = table.take(order, with_ids=False)
        coverage = coverage_polygons(table, equal_area=True, shape=shape)
        anchors = _anchors(table, coverage)
        groups = _nesting_groups(table)
        return cls._assemble(
            version, ids, coverage, groups, table.range_m.copy(), anchors, order.astype(np.int64)
        )

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index as one flat binary file (no pickle, safe to load).

        Layout: ``MAGIC``, then raw little-endian arrays, each 64-byte aligned,
        then a JSON header naming them (dtype, shape, offset), then the
        header's offset and length. Coordinates are written a chunk at a
        time, so saving needs a few megabytes beyond the index itself.

        Raises:
            ValueError: a cell id containing a newline (readers never make one).
        """
        text = "\n".join(self.ids.tolist())
        if text.count("\n") != max(len(self) - 1, 0):
            raise ValueError("cell ids must not contain newlines")
        single = shapely.get_type_id(self.coverage) == 3
        multi = np.flatnonzero(~single)
        wkb = shapely.to_wkb(self.coverage[multi])
        arrays: dict[str, dict[str, Any]] = {}
        with Path(path).open("wb") as out:
            out.write(MAGIC)

            def begin(name: str, dtype: str, shape: tuple[int, ...]) -> None:
                out.write(b"\0" * (-out.tell() % 64))
                arrays[name] = {"dtype": dtype, "shape": shape, "offset": out.tell()}

            def put(name: str, array: npt.NDArray[Any]) -> None:
                array = np.ascontiguousarray(array, dtype=np.dtype(array.dtype).newbyteorder("<"))
                begin(name, array.dtype.str, array.shape)
                out.write(array.data)

            put("ids", np.frombuffer(text.encode("utf-8"), dtype=np.uint8))
            rows = np.flatnonzero(single)
            coords_total = int(shapely.get_num_coordinates(self.coverage[rows]).sum())
            begin("coords", "<f8", (coords_total, 2))
            ring_parts, poly_parts = [np.zeros(1, np.int64)], [np.zeros(1, np.int64)]
            ring_base = coord_base = 0
            for start in range(0, len(rows), _CHUNK):
                chunk = self.coverage[rows[start : start + _CHUNK]]
                _, coords, (rings, polys) = shapely.to_ragged_array(chunk)
                out.write(np.ascontiguousarray(coords, dtype="<f8").data)
                ring_parts.append(rings[1:] + coord_base)
                poly_parts.append(polys[1:] + ring_base)
                coord_base += int(rings[-1])
                ring_base += int(polys[-1])
            if coord_base != coords_total:
                raise AssertionError("coordinate count changed while saving")
            put("rings", np.concatenate(ring_parts))
            put("polys", np.concatenate(poly_parts))
            put("multi", multi.astype(np.int64))
            put("multi_sizes", np.array([len(b) for b in wkb], dtype=np.int64))
            put("multi_wkb", np.frombuffer(b"".join(wkb), dtype=np.uint8))
            for name in _COLUMNS:
                put(name, getattr(self, name))
            out.write(b"\0" * (-out.tell() % 64))
            where = out.tell()
            header = json.dumps(
                {"format": FORMAT, "cells": len(self), "version": self.version, "arrays": arrays}
            ).encode("utf-8")
            out.write(header)
            out.write(np.array([where, len(header)], dtype="<i8").tobytes())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CellIndex:
        """Read an index written by :meth:`save` and rebuild its geometry and STRtree.

        The file is memory-mapped: coordinates go from the page cache straight
        into GEOS, a chunk at a time, and only the per-cell columns are copied.

        Raises:
            IndexFormatError: missing file, other format version, or damaged content.
        """
        try:
            data = np.memmap(path, dtype=np.uint8, mode="r")
        except (OSError, ValueError) as exc:
            raise IndexFormatError(f"cannot read cell index {path}: {exc}") from exc
        try:
            with _collector_paused():
                return cls._from_mapped(data)
        except (KeyError, ValueError, TypeError, IndexError, UnicodeDecodeError) as exc:
            raise IndexFormatError(f"damaged cell index {path}: {exc}") from exc
        finally:
            mm = getattr(data, "_mmap", None)
            del data
            if mm is not None:
                mm.close()

    @classmethod
    def _from_mapped(cls, data: npt.NDArray[np.uint8]) -> CellIndex:
        if len(data) < len(MAGIC) + 16 or bytes(data[: len(MAGIC)]) != MAGIC:
            raise IndexFormatError("not a Tocsin cell index (or an older format)")
        where, size = (int(v) for v in np.frombuffer(data[-16:].tobytes(), dtype="<i8"))
        header = json.loads(bytes(data[where : where + size]).decode("utf-8"))
        if header.get("format") != FORMAT:
            raise IndexFormatError(f"index format {header.get('format')}, expected {FORMAT}")
        n = int(header["cells"])

        def view(name: str) -> npt.NDArray[Any]:
            spec = header["arrays"][name]
            dtype = np.dtype(spec["dtype"])
            shape = tuple(int(v) for v in spec["shape"])
            count = int(np.prod(shape)) * dtype.itemsize
            start = int(spec["offset"])
            if start < len(MAGIC) or start + count > where:
                raise ValueError(f"array {name} lies outside the file")
            array: npt.NDArray[Any] = data[start : start + count].view(dtype).reshape(shape)
            return array

        text = view("ids").tobytes().decode("utf-8")
        ids: IdArray = np.array(text.split("\n") if n else [], dtype=object)
        columns = {k: np.array(view(k)) for k in _COLUMNS if k != "dominant"}
        dominant = np.array(view("dominant"))
        if len(ids) != n or any(len(v) != n for v in (*columns.values(), dominant)):
            raise ValueError("column lengths do not match the cell count")
        inventory_row = columns["inventory_row"]
        if n and (inventory_row.min() < 0 or inventory_row.max() >= n):
            raise ValueError("inventory rows out of range")
        if n and not (np.bincount(inventory_row, minlength=n) == 1).all():
            raise ValueError("inventory rows are not a permutation")
        coverage: GeometryArray = np.empty(n, dtype=object)
        multi = np.array(view("multi"))
        single = np.ones(n, dtype=bool)
        single[multi] = False
        coverage[single] = _polygons(view("coords"), view("rings"), view("polys"))
        sizes = view("multi_sizes")
        ends = np.cumsum(sizes)
        blob = view("multi_wkb").tobytes()
        parts = [blob[e - s : e] for s, e in zip(sizes.tolist(), ends.tolist(), strict=True)]
        coverage[multi] = shapely.from_wkb(np.array(parts, dtype=object))
        group = columns["group"]
        return cls(
            version=str(header["version"]),
            ids=ids,
            coverage=coverage,
            bounds=columns["bounds"],
            areas=columns["areas"],
            group=group,
            reach=columns["reach"],
            anchors=columns["anchors"],
            dominant=dominant,
            groups=int(group.max()) + 1 if len(group) else 0,
            tree=shapely.STRtree(coverage, node_capacity=10),
            inventory_row=columns["inventory_row"],
        )
