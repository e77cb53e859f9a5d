"""Subscriber CSV rows: read lazily, checked one by one, each error tied to its line.

Columns (header required, any order, extra columns ignored):
`msisdn, operator, language, lon, lat, cell_id, test`. Only `msisdn` and
`operator` are required in the header; a row needs a registered location
(`lon` and `lat`) or a last known cell (`cell_id`), or both.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from channels.sms import InvalidNumber, normalize_msisdn

COLUMNS = ("msisdn", "operator", "language", "lon", "lat", "cell_id", "test")
REQUIRED_COLUMNS = ("msisdn", "operator")
DEFAULT_LANGUAGE = "en"
# BCP 47 as CAP uses it: a primary tag and optional subtags (en, en-US, sr-Latn-RS).
_LANGUAGE = re.compile(r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*")
_TRUE = frozenset({"1", "true", "yes", "y", "t"})
_FALSE = frozenset({"", "0", "false", "no", "n", "f"})
MAX_CELL_ID = 64


class HeaderError(ValueError):
    """The file cannot be read as subscribers at all (no header, a required column missing)."""


@dataclass(frozen=True, slots=True)
class RowError:
    """Why the row on `line` was not imported."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def _coordinate(value: str, name: str, limit: float) -> float:
    number = float(value)  # ValueError for text
    if not math.isfinite(number) or abs(number) > limit:
        raise ValueError(f"{name} {value!r} is outside -{limit:g}..{limit:g}")
    return number


def _location(lon: str, lat: str) -> tuple[float | None, float | None]:
    if not lon and not lat:
        return None, None
    if not lon or not lat:
        raise ValueError("lon and lat go together")
    try:
        return _coordinate(lon, "lon", 180), _coordinate(lat, "lat", 90)
    except ValueError as exc:
        raise ValueError(str(exc) if "outside" in str(exc) else "lon/lat must be numbers") from None


def _flag(value: str) -> bool:
    word = value.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(f"test must be true or false, not {value!r}")


def subscriber_row(fields: dict[str, str], operators: Collection[str]) -> dict[str, Any]:
    """The table row for one CSV record.

    Raises:
        ValueError: naming the first field at fault.
    """
    try:
        msisdn = "+" + normalize_msisdn(fields.get("msisdn", ""))
    except InvalidNumber:
        raise ValueError(f"msisdn {fields.get('msisdn', '')!r} is not an E.164 number") from None
    operator = fields.get("operator", "")
    if operator not in operators:
        raise ValueError(f"unknown operator {operator!r}")
    language = fields.get("language", "") or DEFAULT_LANGUAGE
    if len(language) > 35 or not _LANGUAGE.fullmatch(language):
        raise ValueError(f"language {language!r} is not a language tag (e.g. en, sw-KE)")
    lon, lat = _location(fields.get("lon", ""), fields.get("lat", ""))
    cell_id = fields.get("cell_id", "") or None
    if cell_id is not None and len(cell_id) > MAX_CELL_ID:
        raise ValueError(f"cell_id is longer than {MAX_CELL_ID} characters")
    if lon is None and cell_id is None:
        raise ValueError("needs a registered location (lon, lat) or a cell_id")
    return {
        "msisdn": msisdn,
        "operator_id": operator,
        "language": language,
        "lon": lon,
        "lat": lat,
        "cell_id": cell_id,
        "test": _flag(fields.get("test", "")),
    }


def read_rows(
    lines: Iterable[str], operators: Collection[str]
) -> Iterator[dict[str, Any] | RowError]:
    """Each record of the file as a table row or as the error that refused it.

    Raises:
        HeaderError: no header, or `msisdn` / `operator` missing from it.
    """
    reader = csv.reader(iter(lines))
    header = [name.strip().lower() for name in next(reader, [])]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise HeaderError(f"the header lacks {', '.join(missing)} (columns: {', '.join(COLUMNS)})")
    positions = {name: header.index(name) for name in COLUMNS if name in header}
    for record in reader:
        if not any(cell.strip() for cell in record):
            continue  # blank lines are not rows
        line = reader.line_num
        if len(record) != len(header):
            yield RowError(line, f"{len(record)} fields where the header has {len(header)}")
            continue
        fields = {name: record[index].strip() for name, index in positions.items()}
        try:
            yield subscriber_row(fields, operators)
        except ValueError as exc:
            yield RowError(line, str(exc))
