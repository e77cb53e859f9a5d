"""An independent, strict decoder of CBS pages, written from TS 23.038 / 23.041.

It shares nothing with the encoder except the `gsm0338` character table: its
own DCS table, its own septet unpacking, its own framing parser. That is what
makes round-trip tests meaningful (a bug copied into both halves would pass)
and what lets the CBC simulator reject a bad page the way a phone would
misread it.

It decodes each page on its own, as a phone does, and refuses anything Tocsin
must never send: a split escape pair or surrogate pair, padding that is not CR,
a malformed language prefix, a DCS Tocsin does not use for text, pages that do
not belong together. `ends_in_zero_fill` spots a page padded with 0x00 octets
instead of CR (osmo-cbc's own fill, shown as "@@@" on phones, telecom.md §2.4).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Sequence
from dataclasses import dataclass

import gsm0338  # noqa: F401  (registers the 'gsm03.38' codec: the only shared piece)

_GSM = "gsm03.38"
_ESC = 0x1B
_CR = 0x0D
_PAGE = 82
_SEPTETS = 93
_AT = 0x00  # GSM-7 '@': what 0x00 fill octets decode to
_LANGUAGES_0 = [
    "de",
    "en",
    "it",
    "fr",
    "es",
    "nl",
    "sv",
    "da",
    "pt",
    "fi",
    "no",
    "el",
    "tr",
    "hu",
    "pl",
]
_LANGUAGES_2 = ["cs", "he", "ar", "ru", "is"]
_LETTERS = re.compile(r"[a-z]{2}")


class PageDecodeError(ValueError):
    """A page a phone would show wrongly or not at all; the message says why."""


@dataclass(frozen=True)
class Scheme:
    """What a DCS value means for decoding: alphabet, language, per-page prefix."""

    ucs2: bool
    language: str | None
    prefixed: bool


@dataclass(frozen=True)
class DecodedPage:
    """One GSM page as a phone reads it."""

    serial_number: int
    message_identifier: int
    dcs: int
    page_number: int
    total_pages: int
    language: str | None
    text: str


def scheme(dcs: int) -> Scheme:
    """Interpret a CBS DCS (TS 23.038 §5).

    Raises:
        PageDecodeError: the DCS is reserved, compressed, 8-bit or otherwise not text.
    """
    group, low = dcs >> 4, dcs & 0x0F
    if group == 0x0:
        return Scheme(False, _LANGUAGES_0[low] if low < 15 else None, False)
    if dcs in (0x10, 0x11):
        return Scheme(dcs == 0x11, None, True)
    if group == 0x2 and low < len(_LANGUAGES_2):
        return Scheme(False, _LANGUAGES_2[low], False)
    if group in (0x4, 0x5) and (dcs >> 2) & 0x3 in (0, 2):
        return Scheme((dcs >> 2) & 0x3 == 2, None, False)
    if group == 0xF and not dcs & 0x04:
        return Scheme(False, None, False)
    raise PageDecodeError(f"DCS 0x{dcs:02X} is not a text coding Tocsin sends")


def decode_content(
    content: bytes, dcs: int, useful_length: int | None = None
) -> tuple[str | None, str]:
    """(language, text) of one 82-octet page, trailing CR padding removed.

    `useful_length` is the CB-Data length octet; when given, everything after
    the useful part must be CR padding.

    Raises:
        PageDecodeError: the page is malformed (see module docstring).
    """
    if len(content) != _PAGE:
        raise PageDecodeError(f"page content is {len(content)} octets, not {_PAGE}")
    if useful_length is not None and not 0 <= useful_length <= _PAGE:
        raise PageDecodeError(f"useful length {useful_length} is outside 0..{_PAGE}")
    meaning = scheme(dcs)
    if meaning.ucs2:
        return _decode_ucs2(content, meaning, useful_length)
    return _decode_gsm7(content, meaning, useful_length)


def ends_in_zero_fill(content: bytes, dcs: int) -> bool:
    """Whether an 82-octet page ends the way 0x00 fill octets make it end.

    GSM-7: the last two septets are '@' (0x00), where Tocsin's pages end in text
    or CR septets; UCS2: the last character is U+0000. A page whose text
    really ends in "@@" exactly at septet 93 looks the same: a GSM page has no
    length, so a phone cannot tell either, and the fill is the likely reading.

    Raises:
        PageDecodeError: the DCS is not a text coding (see `scheme`).
    """
    if scheme(dcs).ucs2:
        return content[-2:] == b"\x00\x00"
    return _septets(content, _SEPTETS)[-2:] == [_AT, _AT]


def decode_gsm_page(block: bytes) -> DecodedPage:
    """Decode one 88-octet GSM CBS page (header + content).

    Raises:
        PageDecodeError: wrong size, bad page parameter, or bad content.
    """
    if len(block) != 6 + _PAGE:
        raise PageDecodeError(f"a GSM CBS page is 88 octets, not {len(block)}")
    number, total = block[5] >> 4, block[5] & 0x0F
    if (number, total) == (0, 0):
        number, total = 1, 1  # TS 23.041: receivers treat 0000 0000 as page 1 of 1
    if not 1 <= number <= total:
        raise PageDecodeError(f"page parameter 0x{block[5]:02X} is not a valid page n of N")
    language, text = decode_content(block[6:], block[4])
    return DecodedPage(
        serial_number=int.from_bytes(block[0:2], "big"),
        message_identifier=int.from_bytes(block[2:4], "big"),
        dcs=block[4],
        page_number=number,
        total_pages=total,
        language=language,
        text=text,
    )


def decode_gsm_message(blocks: Sequence[bytes]) -> str:
    """The full text of a message sent as GSM pages, checking the pages belong together.

    Raises:
        PageDecodeError: a page is bad, or the headers disagree / pages are out of order.
    """
    pages = [decode_gsm_page(block) for block in blocks]
    if not pages:
        raise PageDecodeError("a message has at least one page")
    first = pages[0]
    for index, page in enumerate(pages, start=1):
        same = (page.serial_number, page.message_identifier, page.dcs) == (
            first.serial_number,
            first.message_identifier,
            first.dcs,
        )
        if not same or page.page_number != index or page.total_pages != len(pages):
            raise PageDecodeError(
                f"page {index} does not belong to the same {len(pages)}-page message"
            )
    return "".join(page.text for page in pages)


def decode_cb_data(data: bytes, dcs: int) -> list[tuple[str | None, str]]:
    """(language, text) per page of a UMTS/LTE/NR CB-Data string.

    Raises:
        PageDecodeError: the page count or length disagrees with the framing, or a page is bad.
    """
    if not data or not 1 <= data[0] <= 15:
        raise PageDecodeError("CB-Data must start with a page count of 1..15")
    count = data[0]
    if len(data) != 1 + count * (_PAGE + 1):
        raise PageDecodeError(f"CB-Data of {len(data)} octets does not hold {count} pages")
    pages = []
    for index in range(count):
        start = 1 + index * (_PAGE + 1)
        pages.append(decode_content(data[start : start + _PAGE], dcs, data[start + _PAGE]))
    return pages


def decode_primary_notification(block: bytes) -> tuple[int, int, int, bool, bool]:
    """(serial number, message identifier, warning type, user alert, popup) of an ETWS primary.

    Raises:
        PageDecodeError: not 56 octets, or the spare bits are set.
    """
    if len(block) != 56:
        raise PageDecodeError(f"an ETWS primary notification is 56 octets, not {len(block)}")
    if block[5] & 0x7F:
        raise PageDecodeError("Warning-Type spare bits are set")
    return (
        int.from_bytes(block[0:2], "big"),
        int.from_bytes(block[2:4], "big"),
        block[4] >> 1,
        bool(block[4] & 0x01),
        bool(block[5] & 0x80),
    )


def _septets(data: bytes, count: int) -> list[int]:
    """Unpack `count` septets, least significant bit first (TS 23.038 §6.1.2.1.1)."""
    bits = int.from_bytes(data, "little")
    return [(bits >> (7 * index)) & 0x7F for index in range(count)]


def _decode_gsm7(content: bytes, meaning: Scheme, useful: int | None) -> tuple[str | None, str]:
    if content[-1] >> 3:
        raise PageDecodeError("the 5 bits after septet 93 must be zero")
    septets = _septets(content, _SEPTETS)
    if useful is not None:
        cut = min(_SEPTETS, useful * 8 // 7)
        if any(septet != _CR for septet in septets[cut:]):
            raise PageDecodeError("GSM-7 padding after the useful length is not CR septets")
        septets = septets[:cut]
    language = meaning.language
    if meaning.prefixed:
        language = _gsm7_prefix(septets)
        septets = septets[3:]
    while septets and septets[-1] == _CR:
        septets.pop()
    return language, _gsm_text(septets)


def _gsm7_prefix(septets: list[int]) -> str:
    letters = codecs.decode(bytes(septets[:2]), _GSM) if len(septets) >= 2 else ""
    if len(septets) < 3 or septets[2] != _CR or not _LETTERS.fullmatch(letters):
        raise PageDecodeError("DCS 0x10 page does not start with a two-letter language and CR")
    return letters


def _gsm_text(septets: list[int]) -> str:
    index = 0
    while index < len(septets):
        if septets[index] == _ESC:
            if index + 1 == len(septets):
                raise PageDecodeError("page ends inside an escape pair (split across pages?)")
            index += 1
        index += 1
    try:
        return codecs.decode(bytes(septets), _GSM)
    except UnicodeDecodeError as exc:
        raise PageDecodeError(f"invalid GSM-7 sequence: {exc.reason}") from exc


def _decode_ucs2(content: bytes, meaning: Scheme, useful: int | None) -> tuple[str | None, str]:
    language = meaning.language
    start = 0
    if meaning.prefixed:
        if content[1] & 0xC0:
            raise PageDecodeError("DCS 0x11 language indication is not padded with zero bits")
        language = codecs.decode(bytes(_septets(content[:2], 2)), _GSM)
        if not _LETTERS.fullmatch(language):
            raise PageDecodeError("DCS 0x11 page does not start with a two-letter language")
        start = 2
    end = _PAGE if useful is None else useful
    if end < start or (end - start) % 2:
        raise PageDecodeError(f"UCS2 useful length {useful} is not a whole number of characters")
    if useful is not None and content[end:] != "\r".encode("utf-16-be") * ((_PAGE - end) // 2):
        raise PageDecodeError("UCS2 padding after the useful length is not U+000D")
    try:
        text = content[start:end].decode("utf-16-be")
    except UnicodeDecodeError as exc:
        raise PageDecodeError(
            "UCS2 page holds half a surrogate pair (split across pages?)"
        ) from exc
    return language, text.rstrip("\r")
