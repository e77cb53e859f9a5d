"""Text to CBS pages: 82 octets each, packed and padded page by page.

Phones decode every page on its own (TS 23.041 §9.4.1.2.4, and Android does
exactly that), so a page must never depend on its neighbour: GSM-7 septets are
packed afresh on each page and filled with CR septets up to 93, an escape pair
(ESC + code) is never cut in two, and a UTF-16 surrogate pair never straddles
two UCS2 pages. osmo-cbc's own encoder gets all three wrong (telecom.md §2.4),
which is why Tocsin sends pages it built itself.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from channels.cbs.dcs import Alphabet, DataCoding, choose_coding
from channels.gsm7 import CARRIAGE_RETURN, char_septets, is_gsm7, pack_septets, to_septets

PAGE_OCTETS = 82
GSM7_PAGE_SEPTETS = 93  # 651 bits of the 656 in 82 octets
UCS2_PAGE_CHARS = 41
MAX_PAGES = 15
GSM7_ELLIPSIS = "..."  # '…' is not GSM-7 and would force the whole text into UCS2
UCS2_ELLIPSIS = "…"

_UCS2_CR = "\r".encode("utf-16-be")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


class TooManyPagesError(ValueError):
    """The text needs more pages than cell broadcast (or the caller) allows."""


@dataclass(frozen=True)
class CbsPage:
    """One page of content: always 82 octets, plus how many of them carry text.

    `useful_length` is the per-page length octet of the UMTS/LTE/NR CB-Data
    framing; the GSM page format has no such field and sends all 82 octets.
    """

    content: bytes
    useful_length: int

    def __post_init__(self) -> None:
        if len(self.content) != PAGE_OCTETS:
            raise ValueError(f"a CBS page holds {PAGE_OCTETS} octets, not {len(self.content)}")
        if not 0 <= self.useful_length <= PAGE_OCTETS:
            raise ValueError(f"useful length {self.useful_length} is outside 0..{PAGE_OCTETS}")


@dataclass(frozen=True)
class EncodedText:
    """Pages ready to send, the DCS they need, and the exact text a phone will show."""

    coding: DataCoding
    pages: tuple[CbsPage, ...]
    text: str


def shown_text(text: str) -> str:
    """The text as a phone will show it, normalised so that it survives page by page.

    CR is the padding character of both alphabets and receivers strip trailing
    CRs from each page, so a CR of the text could vanish at the end of a page:
    every CR (and CRLF) becomes a line feed, which looks the same on screen.
    Tab, vertical tab and form feed become spaces (a tab is not GSM-7 and would
    force UCS2 for nothing); other control characters, ESC among them (it is
    the GSM-7 escape code), are removed; lone surrogates become U+FFFD.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _SURROGATE.sub("\ufffd", _CONTROL.sub(_control_replacement, text))


def _control_replacement(match: re.Match[str]) -> str:
    return " " if match.group() in "\t\v\f" else ""


def encode_text(
    text: str, language: str | None = None, *, max_pages: int = MAX_PAGES
) -> EncodedText:
    """Encode `text` into CBS pages, choosing GSM-7 when it fits the alphabet, else UCS2.

    `language` is an ISO 639-1 code (or None); it selects the DCS and, for
    languages without their own DCS value, the per-page language prefix.

    Raises:
        TooManyPagesError: the text needs more than `max_pages` pages.
        ValueError: `max_pages` is outside 1..15, or `language` is malformed.
    """
    if not 1 <= max_pages <= MAX_PAGES:
        raise ValueError(f"max_pages must be within 1..{MAX_PAGES}, not {max_pages}")
    text = shown_text(text)
    coding = choose_coding(Alphabet.GSM7 if is_gsm7(text) else Alphabet.UCS2, language)
    chunks = _split(_units(text, coding), _room(coding))
    if len(chunks) > max_pages:
        raise TooManyPagesError(
            f"text of {len(text)} characters needs {len(chunks)} pages in {coding.alphabet.value};"
            f" at most {max_pages} are allowed (use fit_text to shorten it)"
        )
    build = _gsm7_page if coding.alphabet is Alphabet.GSM7 else _ucs2_page
    pages = tuple(build(_prefix(coding) + chunk) for chunk in chunks)
    return EncodedText(coding=coding, pages=pages, text=text)


def page_count(text: str, language: str | None = None) -> int:
    """How many pages `text` needs (no upper limit applied).

    Raises:
        ValueError: `language` is malformed.
    """
    text = shown_text(text)
    coding = choose_coding(Alphabet.GSM7 if is_gsm7(text) else Alphabet.UCS2, language)
    return len(_split(_units(text, coding), _room(coding)))


def fit_text(
    text: str,
    language: str | None = None,
    *,
    max_pages: int = MAX_PAGES,
    max_chars: int | None = None,
) -> str:
    """`text`, shortened at a word boundary with an ellipsis until it fits the budget.

    The budget is `max_pages` pages of whichever alphabet the result needs
    (cutting can drop the one character that forced UCS2) and, when given,
    `max_chars` characters. The ellipsis is "..." for GSM-7 text so that
    shortening never forces UCS2, "…" otherwise. Text that fits is returned
    unchanged apart from `shown_text`.

    Raises:
        ValueError: the budget cannot even hold the ellipsis.
    """
    text = shown_text(text)

    def fits(candidate: str) -> bool:
        too_long = max_chars is not None and len(candidate) > max_chars
        return not too_long and page_count(candidate, language) <= max_pages

    if fits(text):
        return text
    if not fits(_with_ellipsis("")):
        raise ValueError(f"a budget of {max_pages} pages / {max_chars} characters is too small")
    # Cost grows with the prefix length, so the longest fitting cut is found by bisection.
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if fits(_with_ellipsis(text[:middle])):
            low = middle
        else:
            high = middle - 1
    # The word-boundary cut can change the alphabet and with it the ellipsis ("..." is
    # three characters, "…" one), so it is checked; the plain cut is known to fit.
    at_word = _with_ellipsis(text[: _word_boundary(text, low)].rstrip())
    return at_word if fits(at_word) else _with_ellipsis(text[:low])


def _with_ellipsis(prefix: str) -> str:
    return prefix + (GSM7_ELLIPSIS if is_gsm7(prefix) else UCS2_ELLIPSIS)


def _word_boundary(text: str, cut: int) -> int:
    """The last whitespace at or before `cut`, unless that drops more than half the text."""
    space = max(text.rfind(" ", 0, cut + 1), text.rfind("\n", 0, cut + 1))
    return space if space >= cut // 2 and space > 0 else cut


def _units(text: str, coding: DataCoding) -> list[bytes]:
    """Per-character code units: the pieces a page boundary must never cut."""
    if coding.alphabet is Alphabet.GSM7:
        return char_septets(text)
    return [ch.encode("utf-16-be") for ch in text]


def _prefix(coding: DataCoding) -> bytes:
    """The per-page language indication (TS 23.038 §5): "xx"+CR septets, or 2 packed octets."""
    if not coding.prefixed or coding.language is None:
        return b""
    if coding.alphabet is Alphabet.GSM7:
        return to_septets(coding.language) + bytes([CARRIAGE_RETURN])
    return pack_septets(to_septets(coding.language))


def _room(coding: DataCoding) -> int:
    """Units of text one page holds after the prefix: septets (GSM-7) or octets (UCS2)."""
    full = GSM7_PAGE_SEPTETS if coding.alphabet is Alphabet.GSM7 else PAGE_OCTETS
    return full - len(_prefix(coding))


def _split(units: Sequence[bytes], room: int) -> list[bytes]:
    """Group units into pages of at most `room`; empty text still makes one page."""
    chunks: list[bytes] = []
    current = b""
    for unit in units:
        if len(current) + len(unit) > room:
            chunks.append(current)
            current = b""
        current += unit
    chunks.append(current)
    return chunks


def _gsm7_page(septets: bytes) -> CbsPage:
    padding = bytes([CARRIAGE_RETURN]) * (GSM7_PAGE_SEPTETS - len(septets))
    content = pack_septets(septets + padding)
    return CbsPage(content=content, useful_length=(7 * len(septets) + 7) // 8)


def _ucs2_page(octets: bytes) -> CbsPage:
    padding = _UCS2_CR * ((PAGE_OCTETS - len(octets)) // 2)
    return CbsPage(content=octets + padding, useful_length=len(octets))
