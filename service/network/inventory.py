"""Reading a cell file into a storable inventory (pure CPU work, run off the event loop).

Parsing a national file takes seconds, so it happens before the transaction
opens: the database lock is held only for the final insert.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import BinaryIO

import numpy as np

from geo import (
    CellImport,
    CsvCellReader,
    FormatError,
    GeoJsonCellReader,
    OpenCellIdReader,
    RowError,
    encode_table,
    import_cells,
)
from geo.cells import TECHNOLOGIES, Cell
from service.network.errors import InventoryRejectedError

MAX_REPORTED_ERRORS = 1000


class CellFormat(StrEnum):
    """The cell file formats Tocsin reads (docs/geo.md describes each)."""

    CSV = "csv"
    GEOJSON = "geojson"
    OPENCELLID = "opencellid"

    @classmethod
    def for_path(cls, name: str) -> CellFormat:
        """The format a file name suggests: .geojson/.json, else CSV (OpenCelliD is explicit)."""
        return cls.GEOJSON if name.lower().endswith((".geojson", ".json")) else cls.CSV


@dataclass(frozen=True)
class PreparedInventory:
    """A parsed inventory ready to store: counts, row errors and the encoded cells."""

    rows: int
    accepted: int
    rejected: int
    errors: tuple[RowError, ...]
    by_technology: dict[str, int]
    blob: bytes

    def report(self) -> dict[str, object]:
        """Counts and row errors, as the CLI and the API show them."""
        return {
            "rows": self.rows,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "by_technology": self.by_technology,
            "errors": [{"line": e.line, "message": e.message} for e in self.errors],
        }


def cell_reader(stream: io.TextIOBase, fmt: CellFormat) -> Iterable[Cell | RowError]:
    """The streaming reader for `fmt` over a text stream."""
    if fmt is CellFormat.CSV:
        return CsvCellReader(stream)
    if fmt is CellFormat.OPENCELLID:
        return OpenCellIdReader(stream)
    return GeoJsonCellReader(stream)


def _row_errors(imported: CellImport) -> list[dict[str, object]]:
    return [{"line": e.line, "message": e.message} for e in imported.errors]


def prepare_inventory(source: BinaryIO, fmt: CellFormat, *, strict: bool) -> PreparedInventory:
    """Read every row of `source`; `strict` refuses the file when any row is bad.

    Raises:
        InventoryRejectedError: unreadable file (bad header, not UTF-8, broken
            JSON), no valid cell at all, or (strict) any rejected row; its
            `errors` carry the line numbers.
    """
    text = io.TextIOWrapper(source, encoding="utf-8-sig", newline="")
    try:
        imported = import_cells(cell_reader(text, fmt), max_errors=MAX_REPORTED_ERRORS)
    except FormatError as exc:
        raise InventoryRejectedError(f"the {fmt.value} file is unusable: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise InventoryRejectedError(f"the file is not UTF-8 text: {exc}") from exc
    finally:
        text.detach()
    if imported.accepted == 0:
        raise InventoryRejectedError(
            f"no valid cell in {imported.rows} rows; nothing was stored", _row_errors(imported)
        )
    if strict and imported.rejected:
        raise InventoryRejectedError(
            f"{imported.rejected} of {imported.rows} rows are invalid (strict import); "
            "nothing was stored",
            _row_errors(imported),
        )
    return prepare_table(imported)


def prepare_table(imported: CellImport) -> PreparedInventory:
    """Counts and the encoded cells of an import (or of a synthetic table)."""
    counts = np.bincount(imported.table.technology, minlength=len(TECHNOLOGIES))
    return PreparedInventory(
        rows=imported.rows,
        accepted=imported.accepted,
        rejected=imported.rejected,
        errors=imported.errors,
        by_technology={t.value: int(n) for t, n in zip(TECHNOLOGIES, counts, strict=True) if n},
        blob=encode_table(imported.table),
    )
