"""Cells from a GeoJSON FeatureCollection, streamed feature by feature.

Each feature is one cell: ``properties`` carry ``cell_id`` and
``technology``; a ``Point`` geometry with ``azimuth``/``beamwidth``/``range_m``
is a sector (omni when azimuth is absent or null); a ``Polygon`` geometry is
measured coverage, the site then taken from ``lon``/``lat`` properties or, if
absent, the polygon's representative point.

A FeatureCollection is one JSON document, so ``json.load`` would hold the
whole file in memory; this reader decodes one feature at a time from a
bounded buffer instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, Protocol

import shapely

from geo.cells import Cell, Coverage, Omni, PolygonCoverage, RowError, Sector
from geo.errors import CellError, FormatError, GeoError
from geo.readers.fields import parse_technology

_CHUNK = 1 << 20
_BLANK = re.compile(r"[ \t\r\n]+")


class _Readable(Protocol):
    def read(self, size: int = ..., /) -> str: ...


class _Scanner:
    """A cursor over a text stream that decodes one JSON value at a time."""

    def __init__(self, stream: _Readable) -> None:
        self._stream = stream
        self._buf = ""
        self._pos = 0
        self._eof = False
        self._line = 1  # line of self._mark
        self._mark = 0

    @property
    def line(self) -> int:
        """1-based line of the cursor (newlines counted once, incrementally)."""
        self._line += self._buf.count("\n", self._mark, self._pos)
        self._mark = self._pos
        return self._line

    def _fill(self) -> bool:
        if self._eof:
            return False
        self._line = self.line
        chunk = self._stream.read(max(_CHUNK, len(self._buf)))  # doubling: no quadratic retries
        self._buf, self._pos, self._mark = self._buf[self._pos :] + chunk, 0, 0
        self._eof = not chunk
        return bool(chunk)

    def peek(self) -> str:
        """Next non-blank character ('' at end of input), without consuming it."""
        while True:
            match = _BLANK.match(self._buf, self._pos)
            self._pos = match.end() if match else self._pos
            if self._pos < len(self._buf) or not self._fill():
                return self._buf[self._pos : self._pos + 1]

    def take(self, expected: str) -> None:
        if self.peek() != expected:
            raise FormatError(f"line {self.line}: expected {expected!r}, got {self.peek()!r}")
        self._pos += 1

    def value(self) -> Any:
        """Decode the JSON value at the cursor, reading more input as needed.

        Raises:
            FormatError: the JSON is malformed (the file cannot be resynchronised).
        """
        self.peek()
        decoder = json.JSONDecoder()
        while True:
            try:
                value, end = decoder.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError as exc:
                if self._fill():
                    continue
                raise FormatError(f"line {self.line}: invalid JSON: {exc.msg}") from None
            if end == len(self._buf) and self._fill():
                continue  # a number may continue in the next chunk
            self._pos = end
            return value


def _number(props: dict[str, Any], name: str) -> float | None:
    value = props.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CellError(f"{name}: expected a number, got {value!r}")
    return float(value)


def _point_coverage(props: dict[str, Any]) -> Coverage:
    az, bw, rng = (_number(props, n) for n in ("azimuth", "beamwidth", "range_m"))
    if rng is None:
        raise CellError("range_m is required for a Point cell")
    if az is None and bw is None:
        return Omni(rng)
    if az is None or bw is None:
        raise CellError("azimuth and beamwidth go together (both absent means omni)")
    return Sector(az, bw, rng)


def feature_to_cell(feature: Any) -> Cell:
    """Convert one GeoJSON Feature to a Cell.

    Raises:
        CellError: not a Feature, missing properties, unsupported geometry.
    """
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise CellError("expected a GeoJSON Feature")
    props = feature.get("properties") or {}
    geometry = feature.get("geometry") or {}
    cell_id = props.get("cell_id")
    if not isinstance(cell_id, str):
        raise CellError("properties.cell_id (string) is required")
    tech = parse_technology(str(props.get("technology", "")))
    coords: Any = geometry.get("coordinates")
    try:
        if geometry.get("type") == "Point":
            lon, lat = float(coords[0]), float(coords[1])
            return Cell(cell_id, tech, lon, lat, _point_coverage(props))
        if geometry.get("type") == "Polygon":
            ring = tuple((float(x), float(y)) for x, y, *_ in coords[0])
            site = shapely.Polygon(ring).representative_point()
            given_lon, given_lat = _number(props, "lon"), _number(props, "lat")
            lon, lat = float(site.x), float(site.y)
            if given_lon is not None and given_lat is not None:
                lon, lat = given_lon, given_lat
            return Cell(cell_id, tech, lon, lat, PolygonCoverage(ring))
    except (TypeError, ValueError, IndexError) as exc:
        if isinstance(exc, GeoError):
            raise
        raise CellError(f"bad coordinates: {exc}") from None
    raise CellError(f"geometry must be Point or Polygon, got {geometry.get('type')!r}")


class GeoJsonCellReader:
    """Stream cells from a FeatureCollection; yields a Cell or RowError per feature.

    ``line`` is where the feature starts. Raises FormatError (during iteration)
    when the document itself is not a well-formed FeatureCollection.
    """

    def __init__(self, stream: _Readable) -> None:
        self._scan = _Scanner(stream)
        self.line = 0

    def _features(self) -> Iterator[tuple[int, Any]]:
        scan = self._scan
        scan.take("{")
        seen_type = False
        while scan.peek() != "}":
            key = scan.value()
            scan.take(":")
            if key == "features":
                yield from self._array()
            elif key == "type":
                if scan.value() != "FeatureCollection":
                    raise FormatError("not a GeoJSON FeatureCollection")
                seen_type = True
            else:
                scan.value()
            if scan.peek() == ",":
                scan.take(",")
        scan.take("}")
        if not seen_type:
            raise FormatError("not a GeoJSON FeatureCollection (no type member)")

    def _array(self) -> Iterator[tuple[int, Any]]:
        scan = self._scan
        scan.take("[")
        while scan.peek() != "]":
            line = scan.line
            yield line, scan.value()
            if scan.peek() == ",":
                scan.take(",")
            elif scan.peek() != "]":
                raise FormatError(f"line {scan.line}: expected ',' or ']' between features")
        scan.take("]")

    def __iter__(self) -> Iterator[Cell | RowError]:
        for line, feature in self._features():
            self.line = line
            try:
                yield feature_to_cell(feature)
            except GeoError as exc:
                yield RowError(line, str(exc))
