"""The cell index: every cell's coverage in equal-area metres plus an STRtree.

Built once per operator inventory version and then only read, so one
instance can be shared by every request and worker thread; the service swaps
in a new instance when the inventory changes (``version`` says which one).
Coverage is stored projected (equal-area) because every query measures
areas: projecting a million polygons once beats projecting thousands per
query. ``save``/``load`` keep the coordinates as flat numpy arrays so a
restart rebuilds geometry in C instead of recomputing sectors.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import shapely

from geo.cells import KIND_POLYGON, Cell, CellTable
from geo.coverage import CoverageShape, GeometryArray, coverage_polygons
from geo.errors import IndexFormatError
from geo.projection import cea_forward

FORMAT = 2


def _row_hash(key: npt.NDArray[np.float64]) -> npt.NDArray[np.uint64]:
    """64-bit mix of each row's float bits (wrapping multiply-xor, vectorised)."""
    bits = np.ascontiguousarray(key).view(np.uint64)
    h = np.full(len(key), 0x9E3779B97F4A7C15, dtype=np.uint64)
    for column in bits.T:
        h ^= column
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(31)
    return h


def _nesting_groups(table: CellTable) -> npt.NDArray[np.int64]:
    """Group cells whose coverage shapes are nested: same site, azimuth and beamwidth.

    Real sites carry several layers (2G, 4G bands, 5G) on the same sector, so
    most coverage polygons lie inside a bigger one from the same mast; the
    union of a selection only needs the largest of each group. Grouping hashes
    the key (a sort of five columns costs three times as much) and then checks
    every member against its group's first row, so a hash collision can only
    cost speed (fallback to a sort), never a wrong union.
    """
    key = np.column_stack(
        (
            table.lon,
            table.lat,
            table.kind.astype(np.float64),
            np.nan_to_num(table.azimuth, nan=-1.0),
            np.nan_to_num(table.beamwidth, nan=-1.0),
        )
    )
    _, first, group = np.unique(_row_hash(key), return_index=True, return_inverse=True)
    if not np.array_equal(key, key[first[group]]):
        _, group = np.unique(key, axis=0, return_inverse=True)
    group = group.astype(np.int64).reshape(-1)
    polygons = np.flatnonzero(table.kind == KIND_POLYGON)  # measured shapes do not nest
    group[polygons] = (int(group.max()) + 1 if len(group) else 0) + np.arange(len(polygons))
    return group


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

    ``coverage[i]`` (equal-area metres), ``ids[i]``, ``areas[i]`` (m²),
    ``bounds[i]``, ``group[i]``/``reach[i]`` (nesting, see ``_nesting_groups``)
    and ``anchors[i]`` (a point of the coverage, x/y; NaN for multi-part
    coverage) all describe cell ``i``; ``tree`` indexes ``coverage``.
    """

    version: str
    ids: npt.NDArray[np.str_]
    coverage: GeometryArray
    bounds: npt.NDArray[np.float64]
    areas: npt.NDArray[np.float64]
    group: npt.NDArray[np.int64]
    reach: npt.NDArray[np.float64]
    anchors: npt.NDArray[np.float64]
    dominant: npt.NDArray[np.bool_]
    groups: int
    tree: shapely.STRtree

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def _assemble(
        cls,
        version: str,
        ids: npt.NDArray[np.str_],
        coverage: GeometryArray,
        group: npt.NDArray[np.int64],
        reach: npt.NDArray[np.float64],
        anchors: npt.NDArray[np.float64],
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
        )

    @classmethod
    def build(
        cls, cells: CellTable | Iterable[Cell], *, version: str, shape: CoverageShape | None = None
    ) -> CellIndex:
        """Compute every coverage polygon and index them.

        Raises:
            ValueError: duplicate cell ids (import with ``import_cells`` first).
        """
        table = cells if isinstance(cells, CellTable) else CellTable.from_cells(cells)
        if len(set(table.ids.tolist())) != len(table):
            raise ValueError("duplicate cell ids: collect cells with import_cells first")
        coverage = coverage_polygons(table, equal_area=True, shape=shape)
        anchors = _anchors(table, coverage)
        groups = _nesting_groups(table)
        return cls._assemble(version, table.ids, coverage, groups, table.range_m, anchors)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index as an uncompressed .npz (no pickle, safe to load)."""
        single = shapely.get_type_id(self.coverage) == 3
        _, coords, (rings, polys) = shapely.to_ragged_array(self.coverage[single])
        multi = np.flatnonzero(~single)
        wkb = shapely.to_wkb(self.coverage[multi])
        sizes = np.array([len(b) for b in wkb], dtype=np.int64)
        blob = np.frombuffer(b"".join(wkb), dtype=np.uint8)
        with Path(path).open("wb") as out:
            np.savez(
                out,
                header=np.array([FORMAT, len(self)], dtype=np.int64),
                version=np.array(self.version),
                ids=self.ids,
                coords=coords,
                rings=rings,
                polys=polys,
                multi=multi,
                multi_sizes=sizes,
                multi_wkb=blob,
                group=self.group,
                reach=self.reach,
                anchors=self.anchors,
            )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CellIndex:
        """Read an index written by :meth:`save` and rebuild its STRtree.

        Raises:
            IndexFormatError: missing file, other format version, or damaged content.
        """
        try:
            with np.load(path, allow_pickle=False) as data:
                header = data["header"]
                if int(header[0]) != FORMAT:
                    raise IndexFormatError(f"index format {header[0]}, expected {FORMAT}")
                arrays = {k: data[k] for k in data.files}
        except (OSError, KeyError, ValueError) as exc:
            raise IndexFormatError(f"cannot read cell index {path}: {exc}") from exc
        n = int(arrays["header"][1])
        coverage: GeometryArray = np.empty(n, dtype=object)
        multi = arrays["multi"]
        single = np.ones(n, dtype=bool)
        single[multi] = False
        coverage[single] = _polygons(arrays["coords"], arrays["rings"], arrays["polys"])
        ends = np.cumsum(arrays["multi_sizes"])
        blob = arrays["multi_wkb"].tobytes()
        starts = ends - arrays["multi_sizes"]
        parts = [blob[s:e] for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]
        coverage[multi] = shapely.from_wkb(np.array(parts, dtype=object))
        version = str(arrays["version"])
        return cls._assemble(
            version, arrays["ids"], coverage, arrays["group"], arrays["reach"], arrays["anchors"]
        )
