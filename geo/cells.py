"""Operator-independent cell inventory values.

A ``Cell`` is what every reader produces and what the index is built from:
an id as the operator knows it (CGI / ECGI / NCGI string), a technology, the
site position (WGS84 lon/lat) and a coverage model. ``CellTable`` holds the
same data in columns (numpy arrays) because a national network has around a
million cells and per-object work at that size costs minutes, not seconds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

import numpy as np
import numpy.typing as npt

from geo.errors import CellError

MAX_RANGE_M = 100_000.0  # beyond this a "range" is a data error, not a cell
MAX_LAT = 85.0  # no cell sites lie further north (Alert, Canada: 82.5°); keeps sectors off the pole
_ID = re.compile(r"[!-~]{1,64}")  # printable ASCII, no blanks: ids travel in CSV and SBc-AP


class Technology(StrEnum):
    """Radio generation; the value is what files and JSON carry."""

    G2 = "2G"
    G3 = "3G"
    G4 = "4G"
    G5 = "5G"


TECHNOLOGIES: tuple[Technology, ...] = tuple(Technology)


def _check_range(range_m: float) -> None:
    if not (0.0 < range_m <= MAX_RANGE_M):
        raise CellError(f"range_m must be in (0, {MAX_RANGE_M:.0f}], got {range_m}")


@dataclass(frozen=True, slots=True)
class Sector:
    """Directional antenna: a circular sector of ``range_m`` around ``azimuth_deg``."""

    azimuth_deg: float
    beamwidth_deg: float
    range_m: float

    def __post_init__(self) -> None:
        if not (0.0 <= self.azimuth_deg <= 360.0):
            raise CellError(f"azimuth must be in [0, 360], got {self.azimuth_deg}")
        if not (0.0 < self.beamwidth_deg <= 360.0):
            raise CellError(f"beamwidth must be in (0, 360], got {self.beamwidth_deg}")
        _check_range(self.range_m)


@dataclass(frozen=True, slots=True)
class Omni:
    """Omnidirectional antenna: a disc of ``range_m``."""

    range_m: float

    def __post_init__(self) -> None:
        _check_range(self.range_m)


@dataclass(frozen=True, slots=True)
class PolygonCoverage:
    """Coverage the operator measured or predicted: one ring of (lon, lat)."""

    ring: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        if len(set(self.ring)) < 3:
            raise CellError("coverage polygon needs at least 3 distinct points")
        for lon, lat in self.ring:
            _check_position(lon, lat)


Coverage = Sector | Omni | PolygonCoverage


def _check_position(lon: float, lat: float) -> None:
    if not (-180.0 <= lon <= 180.0) or not (-90.0 <= lat <= 90.0):
        raise CellError(f"lon/lat out of range: {lon}, {lat}")


@dataclass(frozen=True, slots=True)
class Cell:
    """One radio cell. Construction validates, so every Cell in hand is usable.

    Raises:
        CellError: bad id, technology, position or coverage.
    """

    cell_id: str
    technology: Technology
    lon: float
    lat: float
    coverage: Coverage

    def __post_init__(self) -> None:
        if not _ID.fullmatch(self.cell_id):
            raise CellError(f"cell_id must be 1-64 printable characters, got {self.cell_id!r}")
        _check_position(self.lon, self.lat)
        if abs(self.lat) > MAX_LAT:
            raise CellError(f"cells beyond ±{MAX_LAT}° latitude are not supported")
        if not isinstance(self.technology, Technology):
            raise CellError(f"unknown technology {self.technology!r}")


@dataclass(frozen=True, slots=True)
class RowError:
    """A row a reader could not turn into a cell; ``line`` is 1-based in the file."""

    line: int
    message: str


class CellSource(Protocol):
    """A reader: iterates cells and row errors; ``line`` is the last item's line."""

    line: int

    def __iter__(self) -> Iterator[Cell | RowError]: ...


KIND_SECTOR, KIND_OMNI, KIND_POLYGON = 0, 1, 2


@dataclass(frozen=True, eq=False)
class CellTable:
    """Cells as parallel columns; row ``i`` of every array is one cell.

    ``azimuth``/``beamwidth`` are NaN for omni and polygon cells, ``range_m``
    NaN for polygon cells; ``rings`` maps a row to its coverage ring.
    """

    ids: npt.NDArray[np.str_]
    technology: npt.NDArray[np.uint8]
    lon: npt.NDArray[np.float64]
    lat: npt.NDArray[np.float64]
    kind: npt.NDArray[np.uint8]
    azimuth: npt.NDArray[np.float64]
    beamwidth: npt.NDArray[np.float64]
    range_m: npt.NDArray[np.float64]
    rings: dict[int, npt.NDArray[np.float64]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_cells(cls, cells: Iterable[Cell]) -> CellTable:
        """Collect cells into columns (one pass, no intermediate objects kept)."""
        ids: list[str] = []
        tech: list[int] = []
        lon: list[float] = []
        lat: list[float] = []
        kind: list[int] = []
        az: list[float] = []
        bw: list[float] = []
        rng: list[float] = []
        rings: dict[int, npt.NDArray[np.float64]] = {}
        code = {t: i for i, t in enumerate(TECHNOLOGIES)}
        nan = math.nan
        for cell in cells:
            ids.append(cell.cell_id)
            tech.append(code[cell.technology])
            lon.append(cell.lon)
            lat.append(cell.lat)
            cov = cell.coverage
            if isinstance(cov, Sector):
                kind.append(KIND_SECTOR)
                az.append(cov.azimuth_deg)
                bw.append(cov.beamwidth_deg)
                rng.append(cov.range_m)
            else:
                kind.append(KIND_OMNI if isinstance(cov, Omni) else KIND_POLYGON)
                az.append(nan)
                bw.append(nan)
                rng.append(cov.range_m if isinstance(cov, Omni) else nan)
                if isinstance(cov, PolygonCoverage):
                    rings[len(ids) - 1] = np.asarray(cov.ring, dtype=np.float64)
        return cls(
            ids=np.array(ids, dtype=np.str_),
            technology=np.array(tech, dtype=np.uint8),
            lon=np.array(lon, dtype=np.float64),
            lat=np.array(lat, dtype=np.float64),
            kind=np.array(kind, dtype=np.uint8),
            azimuth=np.array(az, dtype=np.float64),
            beamwidth=np.array(bw, dtype=np.float64),
            range_m=np.array(rng, dtype=np.float64),
            rings=rings,
        )

    def cell(self, row: int) -> Cell:
        """Rebuild the Cell value of one row."""
        kind = int(self.kind[row])
        coverage: Coverage
        if kind == KIND_SECTOR:
            coverage = Sector(
                float(self.azimuth[row]), float(self.beamwidth[row]), float(self.range_m[row])
            )
        elif kind == KIND_OMNI:
            coverage = Omni(float(self.range_m[row]))
        else:
            ring = tuple((float(x), float(y)) for x, y in self.rings[row])
            coverage = PolygonCoverage(ring)
        return Cell(
            str(self.ids[row]),
            TECHNOLOGIES[int(self.technology[row])],
            float(self.lon[row]),
            float(self.lat[row]),
            coverage,
        )

    def __iter__(self) -> Iterator[Cell]:
        return (self.cell(i) for i in range(len(self)))

    def take(self, rows: npt.NDArray[np.intp], *, with_ids: bool = True) -> CellTable:
        """The table of ``rows`` (in that order): row ``i`` is this table's ``rows[i]``.

        ``with_ids=False`` leaves the ids empty strings, for a caller that
        keeps them itself (gathering a million fixed-width ids costs 0.2 s).
        """
        position = np.full(len(self), -1, dtype=np.intp)
        position[rows] = np.arange(len(rows))
        return CellTable(
            ids=self.ids[rows] if with_ids else np.zeros(len(rows), dtype="<U1"),
            technology=self.technology[rows],
            lon=self.lon[rows],
            lat=self.lat[rows],
            kind=self.kind[rows],
            azimuth=self.azimuth[rows],
            beamwidth=self.beamwidth[rows],
            range_m=self.range_m[rows],
            rings={int(position[old]): r for old, r in self.rings.items() if position[old] >= 0},
        )


@dataclass(frozen=True)
class CellImport:
    """Outcome of reading an inventory: the cells and every row that was refused.

    ``rows == accepted + rejected`` always holds; ``errors`` keeps at most
    ``max_errors`` details, ``rejected`` counts them all.
    """

    table: CellTable
    rows: int
    accepted: int
    rejected: int
    errors: tuple[RowError, ...]

    def summary(self) -> dict[str, int]:
        return {"rows": self.rows, "accepted": self.accepted, "rejected": self.rejected}


def import_cells(source: Iterable[Cell | RowError], *, max_errors: int = 1000) -> CellImport:
    """Collect a reader's output, rejecting duplicate ids as row errors.

    A duplicate keeps the first occurrence; the later row becomes a RowError
    naming the id (with its line when the source reports one), so the counts
    still add up and nothing disappears silently.
    """
    seen: set[str] = set()
    errors: list[RowError] = []
    rejected = 0
    rows = 0

    def accepted_cells() -> Iterator[Cell]:
        nonlocal rejected, rows
        for item in source:
            rows += 1
            if isinstance(item, Cell) and item.cell_id not in seen:
                seen.add(item.cell_id)
                yield item
                continue
            if isinstance(item, Cell):
                item = RowError(getattr(source, "line", 0), f"duplicate cell_id {item.cell_id!r}")
            rejected += 1
            if len(errors) < max_errors:
                errors.append(item)

    table = CellTable.from_cells(accepted_cells())
    return CellImport(table, rows, len(table), rejected, tuple(errors))
