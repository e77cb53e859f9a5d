"""An independent decoder of Warning Area Coordinates, written from telecom.md §1.5.

Separate from the encoder on purpose (own bit reader, own element rules) so a
round-trip test checks the coding against the layout rather than against
itself, and so the CBC simulator can read back what it was sent.
"""

from __future__ import annotations

from dataclasses import dataclass


class WacDecodeError(ValueError):
    """The octets are not a well-formed list of WAC elements."""


@dataclass(frozen=True)
class DecodedArea:
    """Decoded elements; coordinates are the south-west corners of their grid cells."""

    polygons: tuple[tuple[tuple[float, float], ...], ...]
    circles: tuple[tuple[float, float, float], ...]
    max_wait_s: int | None


def decode_warning_area(data: bytes) -> DecodedArea:
    """Read every element: type(4) | length(10, octets incl. header) | spare(2), then the body.

    Raises:
        WacDecodeError: truncated element, unknown type, or a body of the wrong size.
    """
    polygons: list[tuple[tuple[float, float], ...]] = []
    circles: list[tuple[float, float, float]] = []
    max_wait: int | None = None
    offset = 0
    while offset < len(data):
        if offset + 2 > len(data):
            raise WacDecodeError(f"element header at octet {offset} is truncated")
        header = int.from_bytes(data[offset : offset + 2], "big")
        kind, length = header >> 12, (header >> 2) & 0x3FF
        if length < 3 or offset + length > len(data):
            raise WacDecodeError(f"element at octet {offset} claims {length} octets")
        body = data[offset + 2 : offset + length]
        if kind == 1:
            if length != 3:
                raise WacDecodeError("a maximum-wait element is 3 octets")
            max_wait = body[0]
        elif kind == 2:
            polygons.append(_polygon(body))
        elif kind == 3:
            circles.append(_circle(body))
        else:
            raise WacDecodeError(f"unknown element type {kind} at octet {offset}")
        offset += length
    return DecodedArea(tuple(polygons), tuple(circles), max_wait)


def _point(bits: int) -> tuple[float, float]:
    lat_code, lon_code = bits >> 22, bits & 0x3FFFFF
    return lat_code * 180 / 2**22 - 90, lon_code * 360 / 2**22 - 180


def _polygon(body: bytes) -> tuple[tuple[float, float], ...]:
    count = len(body) * 8 // 44
    if count < 3 or len(body) != (count * 44 + 7) // 8:
        raise WacDecodeError(f"a polygon body of {len(body)} octets is not whole 44-bit points")
    value = int.from_bytes(body, "big")
    spare = len(body) * 8 - count * 44
    if value & ((1 << spare) - 1):
        raise WacDecodeError("polygon padding bits are not zero")
    value >>= spare
    return tuple(
        _point((value >> (44 * (count - 1 - index))) & ((1 << 44) - 1)) for index in range(count)
    )


def _circle(body: bytes) -> tuple[float, float, float]:
    if len(body) != 8:
        raise WacDecodeError(f"a circle body is 8 octets, not {len(body)}")
    value = int.from_bytes(body, "big")
    lat, lon = _point(value >> 20)
    return lat, lon, (value & 0xFFFFF) / 64
