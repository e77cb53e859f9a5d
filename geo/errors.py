"""Errors raised by the geo library.

Every error is a ``GeoError`` so a caller (the service, the CLI) can turn any of
them into one clear problem response without importing each class.
"""

from __future__ import annotations


class GeoError(Exception):
    """Base class for every error this library raises on bad input."""


class CellError(GeoError, ValueError):
    """A cell value is invalid (bad id, coordinates, range, beamwidth...)."""


class FormatError(GeoError):
    """A cell file is unusable as a whole (bad header, broken JSON structure).

    Row-level problems are not raised: readers yield them as ``RowError``.
    """


class AreaError(GeoError):
    """A CAP area cannot be turned into geometry (bad coordinates, radius...).

    ``area`` names the offending ``areaDesc`` so the sender can find it.
    """

    def __init__(self, area: str, message: str) -> None:
        super().__init__(f"area {area!r}: {message}")
        self.area = area
        self.detail = message


class AreaTooComplexError(GeoError):
    """The alert area is above the hard complexity limits and is rejected."""


class UntargetableAreaError(GeoError):
    """Some CAP areas resolved to no geometry (e.g. only unknown geocodes)."""

    def __init__(self, areas: tuple[str, ...]) -> None:
        names = ", ".join(repr(a) for a in areas)
        super().__init__(f"cannot target area(s) {names}: no usable polygon, circle or geocode")
        self.areas = areas


class IndexFormatError(GeoError):
    """A saved cell index file is missing, truncated or of another version."""
