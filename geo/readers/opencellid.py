"""OpenCelliD CSV exports (``cell_towers.csv`` and per-country files).

Columns: ``radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,
created,updated,averageSignal``; the header line is optional. OpenCelliD
gives a position and a range estimate, so every cell is an omni disc of
``range`` metres, id ``MCC-MNC-AREA-CELL``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from geo.cells import Cell, Omni, RowError, Technology
from geo.errors import CellError, GeoError
from geo.readers.fields import parse_float

COLUMNS = (
    "radio",
    "mcc",
    "net",
    "area",
    "cell",
    "unit",
    "lon",
    "lat",
    "range",
    "samples",
    "changeable",
    "created",
    "updated",
    "averageSignal",
)
_RADIO = {"GSM": Technology.G2, "UMTS": Technology.G3, "LTE": Technology.G4, "NR": Technology.G5}


def _integer(name: str, text: str) -> str:
    text = text.strip()
    if not text.isdigit():
        raise CellError(f"{name}: expected digits, got {text!r}")
    return text


def _cell(row: list[str]) -> Cell:
    radio = _RADIO.get(row[0].strip().upper())
    if radio is None:
        raise CellError(f"radio {row[0]!r} not supported (GSM, UMTS, LTE, NR)")
    mcc, net, area, cell = (_integer(n, row[i]) for i, n in enumerate(COLUMNS[1:5], 1))
    return Cell(
        f"{mcc}-{net}-{area}-{cell}",
        radio,
        parse_float("lon", row[6]),
        parse_float("lat", row[7]),
        Omni(parse_float("range", row[8])),
    )


class OpenCellIdReader:
    """Stream cells from an OpenCelliD export; yields a Cell or RowError per row."""

    def __init__(self, stream: Iterable[str]) -> None:
        self._reader = csv.reader(stream)
        self.line = 0

    def __iter__(self) -> Iterator[Cell | RowError]:
        for row in self._reader:
            self.line = self._reader.line_num
            if not row:
                continue
            if self.line == 1 and row[0].strip().lower() == "radio":
                continue  # the optional header
            if len(row) != len(COLUMNS):
                yield RowError(self.line, f"expected {len(COLUMNS)} fields, got {len(row)}")
                continue
            try:
                yield _cell(row)
            except GeoError as exc:
                yield RowError(self.line, str(exc))
