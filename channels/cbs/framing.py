"""The two framings of CBS pages on the air interface (3GPP TS 23.041 §9.4).

GSM sends each page as its own 88-octet block with a 6-octet header; UMTS, LTE
and NR send all pages in one CB-Data string whose DCS and identifiers travel in
separate fields. Both are needed: the GSM form is what a BSC broadcasts (and
what tests compare against captures), the CB-Data form is the SBc-AP
Warning-Message-Content and the SIB payload.
"""

from __future__ import annotations

from collections.abc import Sequence

from channels.cbs.pages import MAX_PAGES, PAGE_OCTETS, CbsPage
from channels.cbs.serial import SerialNumber

GSM_PAGE_OCTETS = 88
GSM_HEADER_OCTETS = 6
CB_DATA_MAX_OCTETS = 1 + MAX_PAGES * (PAGE_OCTETS + 1)


def page_parameter(page_number: int, total_pages: int) -> int:
    """The Page Parameter octet: page number in the high nibble, total in the low.

    Raises:
        ValueError: either value is outside 1..15, or the page number exceeds the total.
    """
    if not 1 <= total_pages <= MAX_PAGES or not 1 <= page_number <= total_pages:
        raise ValueError(f"page {page_number} of {total_pages} is not a valid CBS page position")
    return (page_number << 4) | total_pages


def gsm_page(
    serial: SerialNumber,
    message_identifier: int,
    dcs: int,
    page_number: int,
    total_pages: int,
    page: CbsPage,
) -> bytes:
    """One 88-octet GSM CBS page: SN(2) MsgID(2) DCS(1) PageParameter(1) + 82 octets.

    Raises:
        ValueError: the identifier, DCS or page position is out of range.
    """
    if not 0 <= message_identifier <= 0xFFFF:
        raise ValueError(f"message identifier {message_identifier} does not fit 16 bits")
    if not 0 <= dcs <= 0xFF:
        raise ValueError(f"DCS {dcs} does not fit one octet")
    header = (
        serial.to_bytes()
        + message_identifier.to_bytes(2, "big")
        + bytes([dcs, page_parameter(page_number, total_pages)])
    )
    return header + page.content


def gsm_pages(
    serial: SerialNumber, message_identifier: int, dcs: int, pages: Sequence[CbsPage]
) -> tuple[bytes, ...]:
    """Every page of a message in the GSM format, numbered 1..N of N.

    Raises:
        ValueError: no pages, more than 15, or a field out of range.
    """
    total = len(pages)
    return tuple(
        gsm_page(serial, message_identifier, dcs, number, total, page)
        for number, page in enumerate(pages, start=1)
    )


def cb_data(pages: Sequence[CbsPage]) -> bytes:
    """The UMTS/LTE/NR CB-Data: NumPages(1) + N x (82-octet page + useful-length octet).

    Raises:
        ValueError: no pages, or more than 15.
    """
    if not 1 <= len(pages) <= MAX_PAGES:
        raise ValueError(f"CB-Data carries 1..{MAX_PAGES} pages, not {len(pages)}")
    body = b"".join(page.content + bytes([page.useful_length]) for page in pages)
    return bytes([len(pages)]) + body
