"""A ``CellTable`` as one compressed columnar blob, and back.

The service stores each inventory version as a single blob: a national
network is about a million cells, and one blob loads in well under a second
where a million rows would not. The format is a zip of numpy arrays (no
pickle, so loading an untrusted blob cannot run code); ids travel as one
newline-joined ASCII string because cell ids are printable and blank-free.
"""

from __future__ import annotations

import io
import zipfile

import numpy as np
import numpy.typing as npt

from geo.cells import CellTable
from geo.errors import FormatError

BLOB_FORMAT = 1
_COLUMNS = ("technology", "lon", "lat", "kind", "azimuth", "beamwidth", "range_m")


def _rings_arrays(
    table: CellTable,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    rows = np.array(sorted(table.rings), dtype=np.int64)
    sizes = np.array([len(table.rings[int(r)]) for r in rows], dtype=np.int64)
    offsets = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
    coords = np.concatenate([table.rings[int(r)] for r in rows]) if len(rows) else np.empty((0, 2))
    return rows, offsets, coords.astype(np.float64)


def encode_table(table: CellTable) -> bytes:
    """The table as a compressed blob (``decode_table`` reverses it exactly)."""
    rows, offsets, coords = _rings_arrays(table)
    ids = "\n".join(table.ids.tolist()).encode("ascii")
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        header=np.array([BLOB_FORMAT, len(table)], dtype=np.int64),
        ids=np.frombuffer(ids, dtype=np.uint8),
        ring_rows=rows,
        ring_offsets=offsets,
        ring_coords=coords,
        **{name: getattr(table, name) for name in _COLUMNS},
    )
    return buffer.getvalue()


def decode_table(blob: bytes) -> CellTable:
    """The table a blob from ``encode_table`` holds.

    Raises:
        FormatError: not such a blob, another format version, or damaged.
    """
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as data:
            header = data["header"]
            if int(header[0]) != BLOB_FORMAT:
                raise FormatError(f"cell blob format {header[0]}, expected {BLOB_FORMAT}")
            arrays = {k: data[k] for k in data.files}
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise FormatError(f"damaged cell inventory blob: {exc}") from exc
    count = int(arrays["header"][1])
    text = arrays["ids"].tobytes().decode("ascii")
    ids = np.array(text.split("\n") if count else [], dtype=np.str_)
    if len(ids) != count:
        raise FormatError(f"cell blob holds {len(ids)} ids for {count} cells")
    offsets = arrays["ring_offsets"]
    rings = {
        int(row): arrays["ring_coords"][offsets[i] : offsets[i + 1]]
        for i, row in enumerate(arrays["ring_rows"].tolist())
    }
    return CellTable(ids=ids, rings=rings, **{name: arrays[name] for name in _COLUMNS})
