"""GSM 03.38 default alphabet: characters to septets, and septet packing.

The `gsm0338` codec maps characters to unpacked septets (escape pairs
included); packing septets into octets is ours because the codec does not do
it and the two users (cell broadcast pages, SMS segments) need control over
fill bits and page boundaries.
"""

from __future__ import annotations

import codecs

import gsm0338  # noqa: F401  (importing registers the 'gsm03.38' codec)

CODEC = "gsm03.38"
ESCAPE = 0x1B
CARRIAGE_RETURN = 0x0D


class NotGsm7Error(ValueError):
    """The text holds a character outside the default alphabet and its extension table."""


def is_gsm7(text: str) -> bool:
    """Whether `text` can be sent in the GSM 7-bit default alphabet."""
    try:
        codecs.encode(text, CODEC)
    except UnicodeEncodeError:
        return False
    return True


def char_septets(text: str) -> list[bytes]:
    """Septets of each character: one for the basic table, two (ESC + code) for the extension.

    Kept per character so that callers splitting text into pages or segments
    never cut an escape pair in two.

    Raises:
        NotGsm7Error: a character has no GSM 7-bit form.
    """
    try:
        return [codecs.encode(ch, CODEC) for ch in text]
    except UnicodeEncodeError as exc:
        raise NotGsm7Error(f"{text[exc.start]!r} is not in the GSM 7-bit alphabet") from exc


def to_septets(text: str) -> bytes:
    """The unpacked septet string for `text` (one septet per byte).

    Raises:
        NotGsm7Error: a character has no GSM 7-bit form.
    """
    try:
        return codecs.encode(text, CODEC)
    except UnicodeEncodeError as exc:
        raise NotGsm7Error(f"{text[exc.start]!r} is not in the GSM 7-bit alphabet") from exc


def from_septets(septets: bytes) -> str:
    """Decode unpacked septets back to text."""
    return codecs.decode(bytes(septets), CODEC)


def septet_length(text: str) -> int:
    """How many septets `text` needs (escape pairs count two)."""
    return len(to_septets(text))


def pack_septets(septets: bytes, fill_bits: int = 0) -> bytes:
    """Pack septets LSB-first into octets (3GPP TS 23.038 §6.1.2.1.1).

    `fill_bits` zero bits come first: an SMS user data header ends on an octet
    boundary, and the text must start on a septet boundary counted from the
    start of the user data.
    """
    total_bits = fill_bits + 7 * len(septets)
    out = bytearray((total_bits + 7) // 8)
    for index, septet in enumerate(septets):
        position = fill_bits + 7 * index
        octet, shift = divmod(position, 8)
        out[octet] |= (septet << shift) & 0xFF
        if shift > 1:
            out[octet + 1] |= septet >> (8 - shift)
    return bytes(out)


def unpack_septets(data: bytes, count: int, fill_bits: int = 0) -> bytes:
    """Read `count` septets from packed `data`, skipping `fill_bits` leading bits.

    Raises:
        ValueError: `data` is too short for `count` septets.
    """
    if fill_bits + 7 * count > 8 * len(data):
        raise ValueError(f"{len(data)} octets cannot hold {count} septets")
    value = int.from_bytes(data, "little")
    return bytes((value >> (fill_bits + 7 * i)) & 0x7F for i in range(count))
