"""Tocsin's own cell CSV: one row per cell, sectors as three numbers.

Header (order free, names fixed)::

    cell_id,technology,lon,lat,azimuth,beamwidth,range_m[,wkt]

* ``azimuth`` and ``beamwidth`` set: a sector of ``range_m`` metres;
* both empty: an omni cell of ``range_m`` metres;
* ``wkt`` (optional column) holding a ``POLYGON``: measured coverage, in which
  case azimuth, beamwidth and range_m are left empty.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import TextIO

import shapely

from geo.cells import Cell, CellTable, Coverage, Omni, PolygonCoverage, RowError, Sector
from geo.errors import CellError, FormatError, GeoError
from geo.readers.fields import parse_float, parse_technology

COLUMNS = ("cell_id", "technology", "lon", "lat", "azimuth", "beamwidth", "range_m")
OPTIONAL = ("wkt",)


def _coverage(row: list[str], col: dict[str, int]) -> Coverage:
    wkt = row[col["wkt"]].strip() if "wkt" in col else ""
    az, bw, rng = (row[col[n]].strip() for n in ("azimuth", "beamwidth", "range_m"))
    if wkt:
        if az or bw or rng:
            raise CellError("wkt coverage excludes azimuth, beamwidth and range_m")
        return _polygon(wkt)
    if not rng:
        raise CellError("range_m is required")
    range_m = parse_float("range_m", rng)
    if not az and not bw:
        return Omni(range_m)
    if not az or not bw:
        raise CellError("azimuth and beamwidth go together (both empty means omni)")
    return Sector(parse_float("azimuth", az), parse_float("beamwidth", bw), range_m)


def _polygon(wkt: str) -> PolygonCoverage:
    try:
        geometry = shapely.from_wkt(wkt)
    except shapely.errors.GEOSException as exc:
        raise CellError(f"wkt: {exc}") from None
    if geometry.geom_type != "Polygon" or geometry.is_empty:
        raise CellError(f"wkt must be a POLYGON, got {geometry.geom_type}")
    return PolygonCoverage(tuple((float(x), float(y)) for x, y in geometry.exterior.coords))


class CsvCellReader:
    """Stream cells from a Tocsin CSV. Iterating yields a Cell or a RowError per row.

    Raises (when iteration starts):
        FormatError: missing header, missing or unknown columns.
    """

    def __init__(self, stream: Iterable[str]) -> None:
        self._reader = csv.reader(stream)
        self.line = 0

    def _columns(self) -> dict[str, int]:
        header = next(self._reader, None)
        if header is None:
            raise FormatError("empty file: expected a header line " + ",".join(COLUMNS))
        names = [h.strip().lower() for h in header]
        missing = [c for c in COLUMNS if c not in names]
        unknown = [n for n in names if n not in COLUMNS + OPTIONAL]
        if missing or unknown or len(set(names)) != len(names):
            raise FormatError(
                f"bad header {header!r}: missing {missing}, unknown {unknown}; "
                f"expected {','.join(COLUMNS)}[,wkt]"
            )
        return {n: i for i, n in enumerate(names)}

    def __iter__(self) -> Iterator[Cell | RowError]:
        col = self._columns()
        width = len(col)
        i_id, i_tech, i_lon, i_lat = (col[n] for n in ("cell_id", "technology", "lon", "lat"))
        for row in self._reader:
            self.line = self._reader.line_num
            if not row:
                continue  # a blank line is not a row
            if len(row) != width:
                yield RowError(self.line, f"expected {width} fields, got {len(row)}")
                continue
            try:
                yield Cell(
                    row[i_id].strip(),
                    parse_technology(row[i_tech]),
                    parse_float("lon", row[i_lon]),
                    parse_float("lat", row[i_lat]),
                    _coverage(row, col),
                )
            except GeoError as exc:
                yield RowError(self.line, str(exc))


def _fmt(value: float) -> str:
    return "" if value != value else repr(float(value))


def write_cells_csv(cells: Iterable[Cell] | CellTable, stream: TextIO) -> int:
    """Write cells in the format :class:`CsvCellReader` reads; returns rows written."""
    out = csv.writer(stream, lineterminator="\n")
    out.writerow((*COLUMNS, "wkt"))
    count = 0
    for cell in cells:
        cov = cell.coverage
        if isinstance(cov, Sector):
            tail = [_fmt(cov.azimuth_deg), _fmt(cov.beamwidth_deg), _fmt(cov.range_m), ""]
        elif isinstance(cov, Omni):
            tail = ["", "", _fmt(cov.range_m), ""]
        else:
            tail = ["", "", "", shapely.Polygon(cov.ring).wkt]
        out.writerow([cell.cell_id, cell.technology.value, _fmt(cell.lon), _fmt(cell.lat), *tail])
        count += 1
    return count
