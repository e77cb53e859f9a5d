"""Published and captured vectors (telecom.md §5), byte for byte."""

from __future__ import annotations

import pytest

from channels.cbs import (
    Alphabet,
    EtwsWarning,
    EtwsWarningType,
    GeoScope,
    SerialNumber,
    WarningArea,
    cb_data,
    choose_coding,
    encode_text,
    encode_warning_area,
    gsm_pages,
    primary_notification,
)
from channels.cbs.decoder import (
    decode_cb_data,
    decode_content,
    decode_gsm_message,
    decode_primary_notification,
)
from channels.cbs.wac_decoder import decode_warning_area
from channels.gsm7 import pack_septets, to_septets, unpack_septets

CR_CYCLE = "D168341A8D46A3"  # CR septets packed: the cycle repeats every 7 octets
EMERGENCY_PAGE = "C576597E2EBBC7F950A8" + CR_CYCLE * 10 + "D100"


def test_vector_1_hellohello_packs_to_the_published_octets() -> None:
    page = encode_text("hellohello").pages[0]
    published = bytes.fromhex("E8329BFD4697D9EC37")
    # 10 septets are 70 bits: the 9th octet's top two bits already hold the first CR septet.
    assert page.content[:8] == published[:8]
    assert page.content[8] & 0x3F == published[8]
    assert page.content[8] >> 6 == 0x0D & 0x03
    assert page.useful_length == 9
    assert decode_content(page.content, 0x0F) == (None, "hellohello")


def test_vector_1_packer_alone_gives_the_published_nine_octets() -> None:
    assert pack_septets(to_septets("hellohello")).hex().upper() == "E8329BFD4697D9EC37"
    assert unpack_septets(bytes.fromhex("E8329BFD4697D9EC37"), 10) == to_septets("hellohello")


def test_vector_2_fill_bit_after_a_concatenation_header() -> None:
    # UDH 050003 3A 02 02 is 6 octets; one fill bit brings the text to a septet boundary.
    user_data = bytes.fromhex("0500033A0202") + pack_septets(to_septets("value is 4.80"), 1)
    assert user_data.hex().upper() == "0500033A0202EC6176BD0C4ACF4134170E06"


def test_vector_3_sib12_emergency_cb_data() -> None:
    encoded = encode_text("Emergency!!", "en")
    assert encoded.coding.dcs == 0x01
    assert len(EMERGENCY_PAGE) == 164
    expected = "01" + EMERGENCY_PAGE + "0A"
    assert cb_data(encoded.pages).hex().upper() == expected
    assert decode_cb_data(bytes.fromhex(expected), 0x01) == [("en", "Emergency!!")]


def test_vector_4_gsm_page_for_the_same_message() -> None:
    encoded = encode_text("Emergency!!", "en")
    serial = SerialNumber.decode(0x3000)
    (page,) = gsm_pages(serial, 0x1112, encoded.coding.dcs, encoded.pages)
    assert page.hex().upper() == "300011120111" + EMERGENCY_PAGE
    assert decode_gsm_message([page]) == "Emergency!!"


def test_gsm7_padding_is_cr_septets_not_cr_octets() -> None:
    content = encode_text("").pages[0].content
    crs = sum(0x0D << (7 * index) for index in range(93)).to_bytes(82, "little")
    assert content == crs
    assert CR_CYCLE * 10 in content.hex().upper()
    assert b"\x0d\x0d" not in content


@pytest.mark.parametrize(
    ("fields", "value"),
    [
        ((GeoScope.PLMN_WIDE, 768, 1), 0x7001),
        ((GeoScope.CELL_WIDE_IMMEDIATE, 768, 0), 0x3000),
        ((GeoScope.CELL_WIDE, 1023, 15), 0xFFFF),
        ((GeoScope.CELL_WIDE_IMMEDIATE, 0, 0), 0x0000),
    ],
)
def test_vector_11_serial_numbers(fields: tuple[GeoScope, int, int], value: int) -> None:
    serial = SerialNumber(*fields)
    assert serial.encode() == value
    assert SerialNumber.decode(value) == serial


def test_vector_11_ucs2_zazolc() -> None:
    encoded = encode_text("Zażółć")
    assert encoded.coding.alphabet is Alphabet.UCS2
    assert encoded.coding.dcs == 0x48
    page = encoded.pages[0]
    assert page.content[:12].hex().upper() == "005A0061017C00F301420107"
    assert page.content[12:] == "\r".encode("utf-16-be") * 35
    assert page.useful_length == 12


def test_dcs_0x11_prefix_is_two_packed_letters_on_every_page() -> None:
    text = "ł" * 100  # 40 characters per prefixed page -> 3 pages
    encoded = encode_text(text, "en")
    assert encoded.coding.dcs == 0x11
    assert len(encoded.pages) == 3
    for page in encoded.pages:
        assert page.content[:2].hex() == "6537"
    decoded = decode_cb_data(cb_data(encoded.pages), 0x11)
    assert [len(t) for _, t in decoded] == [40, 40, 20]
    assert "".join(t for _, t in decoded) == text


def test_dcs_0x10_prefix_is_language_and_cr_on_every_page() -> None:
    text = "a" * 200  # 90 septets per prefixed page -> 3 pages
    encoded = encode_text(text, "lb")
    assert encoded.coding.dcs == 0x10
    for page in encoded.pages:
        assert decode_content(page.content, 0x10)[0] == "lb"
    assert [len(decode_content(p.content, 0x10)[1]) for p in encoded.pages] == [90, 90, 20]


@pytest.mark.parametrize(
    ("alphabet", "language", "dcs"),
    [
        (Alphabet.GSM7, "de", 0x00),
        (Alphabet.GSM7, "en", 0x01),
        (Alphabet.GSM7, "pl", 0x0E),
        (Alphabet.GSM7, None, 0x0F),
        (Alphabet.GSM7, "cs", 0x20),
        (Alphabet.GSM7, "is", 0x24),
        (Alphabet.GSM7, "lb", 0x10),
        (Alphabet.UCS2, "en", 0x11),
        (Alphabet.UCS2, None, 0x48),
    ],
)
def test_dcs_table(alphabet: Alphabet, language: str | None, dcs: int) -> None:
    assert choose_coding(alphabet, language).dcs == dcs


def test_vector_10_warning_area_coordinates() -> None:
    polygon = WarningArea(polygons=(((40, -75), (40, -74), (41, -74.5)),))
    circle = WarningArea(circles=((52.37, 4.89, 2.5),), max_wait_s=30)
    assert encode_warning_area(polygon).hex().upper() == "204CB8E38D2AAAAB8E38D2D82DBA4FA52C16C0"
    assert encode_warning_area(circle).hex().upper() == "100C1E" + "3028CA7B560DE8C000A0"
    decoded = decode_warning_area(bytes.fromhex("100C1E3028CA7B560DE8C000A0"))
    assert decoded.max_wait_s == 30
    ((lat, lon, radius),) = decoded.circles
    assert (lat, lon, radius) == pytest.approx((52.37, 4.89, 2.5), abs=1e-4)


@pytest.mark.parametrize(
    ("kind", "user_alert", "popup", "octets"),
    [
        (EtwsWarningType.EARTHQUAKE, True, True, "0180"),
        (EtwsWarningType.TSUNAMI, True, False, "0300"),
        (EtwsWarningType.EARTHQUAKE_AND_TSUNAMI, False, True, "0480"),
        (EtwsWarningType.TEST, False, False, "0600"),
        (EtwsWarningType.OTHER, True, True, "0980"),
    ],
)
def test_etws_warning_type(
    kind: EtwsWarningType, user_alert: bool, popup: bool, octets: str
) -> None:
    assert EtwsWarning(kind, user_alert, popup).encode().hex() == octets


def test_etws_primary_notification_layout() -> None:
    warning = EtwsWarning(EtwsWarningType.EARTHQUAKE_AND_TSUNAMI)
    serial = SerialNumber.etws(GeoScope.PLMN_WIDE, 5, 1, emergency_user_alert=True, popup=True)
    block = primary_notification(serial, warning)
    assert len(block) == 56
    assert block[:6].hex() == "7051" + "1102" + "0580"
    assert block[6:] == bytes(50)
    assert decode_primary_notification(block) == (0x7051, 4354, 2, True, True)
