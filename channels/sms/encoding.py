"""SMS text to segments: GSM-7 or UCS-2, concatenation headers, fill bits.

Pure code. The rules (3GPP TS 23.038 / 23.040, see docs/sms.md):

- GSM-7 when every character is in the default alphabet or its extension
  table (extension characters cost two septets), UCS-2 otherwise.
- One message holds 160 septets or 70 UTF-16 code units.
- Longer texts are split into segments that each carry a concatenation UDH:
  `05 00 03 RR TT SS` (8-bit reference: 153 septets / 67 code units) or
  `06 08 04 RRRR TT SS` (16-bit reference: 152 / 66).
- A segment never ends between the two septets of an escape pair nor between
  the two halves of a surrogate pair: phones that render a segment on its own
  would show garbage, and smpplib gets this wrong (telecom.md §4).
- 7-bit text after a UDH starts on a septet boundary counted from the start
  of the user data, hence the fill bits in the packed payload.
"""

from __future__ import annotations

import functools
import zlib
from dataclasses import dataclass
from typing import Literal

from channels.errors import PermanentChannelError
from channels.gsm7 import NotGsm7Error, char_septets, pack_septets

Encoding = Literal["gsm7", "ucs2"]
ReferenceBits = Literal[8, 16]

MAX_SEGMENTS = 255
GSM7_SINGLE = 160
UCS2_SINGLE = 70
# Septets / UTF-16 code units per concatenated segment, by reference width.
GSM7_PER_SEGMENT = {8: 153, 16: 152}
UCS2_PER_SEGMENT = {8: 67, 16: 66}
# SMPP data_coding (and air DCS) for each encoding: 0 is the SMSC default alphabet.
DATA_CODING: dict[Encoding, int] = {"gsm7": 0x00, "ucs2": 0x08}


class EmptySmsError(PermanentChannelError):
    """There is no text to send: an empty SMS is a planning bug, never a valid warning."""


class SegmentLimitExceeded(PermanentChannelError):
    """The text needs more segments than the gateway (or the standard) allows.

    Carries the numbers so the caller can say exactly how much to cut.
    """

    def __init__(self, *, needed: int, limit: int, encoding: Encoding, units: int) -> None:
        unit_name = "septets" if encoding == "gsm7" else "UTF-16 code units"
        super().__init__(
            f"text needs {needed} segments ({encoding}, {units} {unit_name}) "
            f"but at most {limit} are allowed"
        )
        self.needed = needed
        self.limit = limit
        self.encoding = encoding
        self.units = units


@dataclass(frozen=True, slots=True)
class Segment:
    """One SMS of a (possibly concatenated) message.

    `payload` is the user data after the UDH as it goes over the air (packed
    septets with fill bits, or UTF-16BE octets); `data` is the same text
    unpacked (one septet per octet, or UTF-16BE), the form SMPP peers and
    Kannel usually take; `length` counts septets (gsm7) or octets (ucs2) of
    text, not counting the UDH.
    """

    encoding: Encoding
    udh: bytes
    payload: bytes
    length: int
    text: str
    data: bytes
    fill_bits: int

    @property
    def user_data_length(self) -> int:
        """TP-UDL: septets including UDH and fill bits for 7-bit, octets for UCS-2."""
        if self.encoding == "gsm7":
            return (8 * len(self.udh) + self.fill_bits) // 7 + self.length
        return len(self.udh) + self.length


@dataclass(frozen=True, slots=True)
class EncodedSms:
    """A text encoded for SMS: the encoding chosen and the segments to send in order."""

    encoding: Encoding
    data_coding: int
    segments: tuple[Segment, ...]
    reference: int | None

    @property
    def count(self) -> int:
        """Number of segments (each one is billed and submitted separately)."""
        return len(self.segments)


@functools.lru_cache(maxsize=8192)
def _septets_of(char: str) -> bytes | None:
    """The septets of one character, None outside GSM-7.

    Cached: the codec is pure Python and costs microseconds per character,
    which dominated bulk submission; alert texts reuse a small alphabet.
    """
    try:
        return char_septets(char)[0]
    except NotGsm7Error:
        return None


def choose_encoding(text: str) -> Encoding:
    """GSM-7 when the text fits the default alphabet and extension table, else UCS-2."""
    return "gsm7" if all(_septets_of(ch) is not None for ch in text) else "ucs2"


def _gsm7_septets(text: str) -> bytes:
    return b"".join(_septets_of(ch) or b"" for ch in text)


def _char_units(text: str, encoding: Encoding) -> list[int]:
    """Cost of each character: septets for GSM-7, UTF-16 code units for UCS-2."""
    if encoding == "gsm7":
        return [len(_septets_of(ch) or b"") for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def _split(units: list[int], capacity: int) -> list[tuple[int, int]]:
    """Greedy split into (start, end) character ranges of at most `capacity` units.

    Works on whole characters, so escape pairs and surrogate pairs stay together.
    """
    ranges: list[tuple[int, int]] = []
    start, used = 0, 0
    for index, cost in enumerate(units):
        if used + cost > capacity:
            ranges.append((start, index))
            start, used = index, 0
        used += cost
    ranges.append((start, len(units)))
    return ranges


def _capacities(encoding: Encoding, reference_bits: ReferenceBits) -> tuple[int, int]:
    if encoding == "gsm7":
        return GSM7_SINGLE, GSM7_PER_SEGMENT[reference_bits]
    return UCS2_SINGLE, UCS2_PER_SEGMENT[reference_bits]


def _measure(text: str, reference_bits: ReferenceBits) -> tuple[Encoding, int, int]:
    """Encoding, segment count and total units (septets or code units) of `text`."""
    encoding = choose_encoding(text)
    units = _char_units(text, encoding)
    single, per_segment = _capacities(encoding, reference_bits)
    total = sum(units)
    if total <= single:
        return encoding, 1, total
    return encoding, len(_split(units, per_segment)), total


def count_segments(text: str, *, reference_bits: ReferenceBits = 8) -> int:
    """How many segments `text` needs, without building them (for budgeting; no cap)."""
    return _measure(text, reference_bits)[1]


def measure_sms(
    text: str, *, reference_bits: ReferenceBits = 8, max_segments: int = MAX_SEGMENTS
) -> tuple[Encoding, int]:
    """The encoding and segment count `encode_sms` would produce, without building segments.

    For adapters that hand the text itself to the gateway (the JSON API):
    the same checks as `encode_sms` at a fraction of the cost.

    Raises:
        EmptySmsError: `text` is empty.
        SegmentLimitExceeded: the text needs more than `max_segments` segments.
    """
    if not text:
        raise EmptySmsError("SMS text is empty")
    encoding, count, total = _measure(text, reference_bits)
    _check_limit(count, max_segments, encoding, total)
    return encoding, count


def _check_limit(count: int, max_segments: int, encoding: Encoding, units: int) -> None:
    limit = min(max_segments, MAX_SEGMENTS)
    if count > limit:
        raise SegmentLimitExceeded(needed=count, limit=limit, encoding=encoding, units=units)


def concatenation_udh(reference: int, total: int, sequence: int, bits: ReferenceBits) -> bytes:
    """The concatenation UDH (with its length octet) for segment `sequence` of `total`."""
    if bits == 8:
        return bytes((0x05, 0x00, 0x03, reference & 0xFF, total, sequence))
    return bytes((0x06, 0x08, 0x04, (reference >> 8) & 0xFF, reference & 0xFF, total, sequence))


def _fill_bits(udh: bytes) -> int:
    """Zero bits after the UDH so 7-bit text starts on a septet boundary."""
    return (7 - (8 * len(udh)) % 7) % 7


def _segment(text: str, encoding: Encoding, udh: bytes) -> Segment:
    if encoding == "gsm7":
        data = _gsm7_septets(text)
        fill = _fill_bits(udh) if udh else 0
        return Segment(encoding, udh, pack_septets(data, fill), len(data), text, data, fill)
    data = text.encode("utf-16-be")
    return Segment(encoding, udh, data, len(data), text, data, 0)


def reference_for(key: str, bits: ReferenceBits = 8) -> int:
    """A concatenation reference derived from `key` (a message id, or the text itself).

    Deterministic, so a retried message keeps its reference, and spread out,
    so concurrent long messages to one phone rarely share one.
    """
    return zlib.crc32(key.encode("utf-8")) & (0xFF if bits == 8 else 0xFFFF)


def encode_sms(
    text: str,
    *,
    reference: int | None = None,
    reference_bits: ReferenceBits = 8,
    max_segments: int = MAX_SEGMENTS,
) -> EncodedSms:
    """Encode `text` as one SMS or a concatenated series of segments.

    `reference` identifies the series to the phone; callers pass one derived
    from their message id so that two concurrent long messages to the same
    phone do not share it. `max_segments` is the gateway's cap (never above 255).

    Raises:
        EmptySmsError: `text` is empty.
        SegmentLimitExceeded: the text needs more than `max_segments` segments.
    """
    if not text:
        raise EmptySmsError("SMS text is empty")
    encoding = choose_encoding(text)
    units = _char_units(text, encoding)
    single, per_segment = _capacities(encoding, reference_bits)
    if sum(units) <= single:
        return EncodedSms(encoding, DATA_CODING[encoding], (_segment(text, encoding, b""),), None)
    ranges = _split(units, per_segment)
    _check_limit(len(ranges), max_segments, encoding, sum(units))
    ref = reference_for(text, reference_bits) if reference is None else reference
    ref &= 0xFF if reference_bits == 8 else 0xFFFF
    segments = tuple(
        _segment(
            text[start:end],
            encoding,
            concatenation_udh(ref, len(ranges), number, reference_bits),
        )
        for number, (start, end) in enumerate(ranges, start=1)
    )
    return EncodedSms(encoding, DATA_CODING[encoding], segments, ref)
