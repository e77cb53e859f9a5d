"""Field parsing shared by the cell readers: one place for one message style."""

from __future__ import annotations

from geo.cells import Technology
from geo.errors import CellError

_TECH = {
    "2g": Technology.G2,
    "gsm": Technology.G2,
    "3g": Technology.G3,
    "umts": Technology.G3,
    "4g": Technology.G4,
    "lte": Technology.G4,
    "5g": Technology.G5,
    "nr": Technology.G5,
}


def parse_technology(text: str) -> Technology:
    """2G/3G/4G/5G, or the radio names GSM/UMTS/LTE/NR, any case.

    Raises:
        CellError: anything else.
    """
    try:
        return _TECH[text.strip().lower()]
    except KeyError:
        raise CellError(f"unknown technology {text!r} (expected 2G, 3G, 4G or 5G)") from None


def parse_float(name: str, text: str) -> float:
    """A finite float, or a CellError naming the column.

    Raises:
        CellError: empty, not a number, or not finite.
    """
    try:
        value = float(text)
    except ValueError:
        raise CellError(f"{name}: not a number: {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise CellError(f"{name}: must be finite, got {text!r}")
    return value
