"""SMS encoding: telecom.md §5 vectors, boundaries, and segmentation properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.gsm7 import from_septets, unpack_septets
from channels.sms.encoding import (
    EmptySmsError,
    EncodedSms,
    SegmentLimitExceeded,
    count_segments,
    encode_sms,
)
from channels.sms.forms import encode_for_cli, kannel_parts, smpp_short_messages

# telecom.md §5 #1: SMS-SUBMIT whose user data is "hellohello" (UDL 0x0A).
VECTOR_1_PDU = "0001000C9144770009103200000AE8329BFD4697D9EC37"
# telecom.md §5 #2: part 2/2 of a concatenated message, ref 0x3A, "value is 4.80", UDL 0x14.
VECTOR_2_PDU = "07910221020020F040048167383D1170113232848040140500033A0202EC6176BD0C4ACF4134170E06"


def test_vector_1_hellohello() -> None:
    encoded = encode_sms("hellohello")
    (segment,) = encoded.segments
    assert encoded.encoding == "gsm7"
    assert encoded.data_coding == 0
    assert segment.udh == b""
    assert segment.payload.hex().upper() == "E8329BFD4697D9EC37"
    user_data = f"{segment.user_data_length:02X}{segment.payload.hex().upper()}"
    assert VECTOR_1_PDU.endswith(user_data)


def test_vector_2_concatenated_part_with_fill_bit() -> None:
    encoded = encode_sms("x" * 153 + "value is 4.80", reference=0x3A)
    second = encoded.segments[1]
    assert (second.udh + second.payload).hex().upper() == "0500033A0202EC6176BD0C4ACF4134170E06"
    assert second.fill_bits == 1
    assert second.user_data_length == 20
    user_data = f"{second.user_data_length:02X}{(second.udh + second.payload).hex().upper()}"
    assert VECTOR_2_PDU.endswith(user_data)


def test_vector_11_ucs2() -> None:
    encoded = encode_sms("Zażółć")
    assert encoded.encoding == "ucs2"
    assert encoded.data_coding == 8
    assert encoded.segments[0].payload.hex().upper() == "005A0061017C00F301420107"


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),  # 160 septets: escape pairs count two
        ("€" * 81, 2),
        ("ł" * 70, 1),
        ("ł" * 71, 2),
        ("ł" * 134, 2),
        ("ł" * 135, 3),
        ("😀" * 35, 1),  # 70 UTF-16 code units
        ("😀" * 36, 2),
        ("Ç" * 160, 1),  # Ç is in the basic table
        ("ç" * 1, 1),
    ],
)
def test_single_and_segment_boundaries(text: str, count: int) -> None:
    encoded = encode_sms(text)
    assert encoded.count == count
    assert count_segments(text) == count


def test_escape_pair_is_not_split_at_the_boundary() -> None:
    encoded = encode_sms("a" * 152 + "€" + "b" * 10)
    first, second = encoded.segments
    assert first.length == 152  # the € (2 septets) would have made 154
    assert second.text.startswith("€")
    assert second.data[:2] == b"\x1b\x65"


def test_surrogate_pair_is_not_split_at_the_boundary() -> None:
    encoded = encode_sms("ł" * 66 + "😀" + "ł" * 10)
    first, second = encoded.segments
    assert first.length == 66 * 2
    assert second.text.startswith("😀")


def test_sixteen_bit_reference() -> None:
    encoded = encode_sms("a" * 400, reference=0x1234, reference_bits=16)
    assert [len(s.data) for s in encoded.segments] == [152, 152, 96]
    assert encoded.segments[0].udh.hex() == "060804123403" + "01"
    assert encoded.segments[0].fill_bits == 0
    assert encoded.segments[0].user_data_length == 160


def test_segment_cap_names_the_counts() -> None:
    with pytest.raises(SegmentLimitExceeded) as caught:
        encode_sms("a" * 700, max_segments=4)
    error = caught.value
    assert (error.needed, error.limit, error.encoding, error.units) == (5, 4, "gsm7", 700)
    assert "5 segments" in str(error)
    assert "at most 4" in str(error)


def test_never_more_than_255_segments() -> None:
    assert encode_sms("a" * 153 * 255).count == 255
    with pytest.raises(SegmentLimitExceeded):
        encode_sms("a" * (153 * 255 + 1), max_segments=1000)


def test_empty_text_is_refused() -> None:
    with pytest.raises(EmptySmsError):
        encode_sms("")


def test_same_text_same_reference_by_default() -> None:
    assert encode_sms("a" * 200).reference == encode_sms("a" * 200).reference


def test_smpp_form_sets_udhi_and_carries_unpacked_septets() -> None:
    encoded = encode_sms("a" * 200, reference=7)
    parts = smpp_short_messages(encoded)
    assert [p.esm_class for p in parts] == [0x40, 0x40]
    assert parts[0].short_message == bytes.fromhex("050003070201") + b"\x61" * 153
    packed = smpp_short_messages(encoded, packed_gsm7=True)
    assert packed[1].short_message == encoded.segments[1].udh + encoded.segments[1].payload
    assert smpp_short_messages(encode_sms("hi"))[0].esm_class == 0


def test_kannel_form() -> None:
    parts = kannel_parts(encode_sms("ł" * 100, reference=9))
    assert [p.coding for p in parts] == [2, 2]
    assert parts[0].udh == bytes.fromhex("050003090201")
    assert "".join(p.text for p in parts) == "ł" * 100


def test_cli_form() -> None:
    assert encode_for_cli("hellohello") == {
        "encoding": "gsm7",
        "segments": [{"udh": "", "payload": "E8329BFD4697D9EC37"}],
        "count": 1,
    }


# --- properties -------------------------------------------------------------

GSM_BASIC = "abcXYZ 0123.,!?@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ\n"
GSM_EXTENSION = "€{}[]~^|\\\f"
OTHER = "łçżЖ中"
ASTRAL = "😀🚨🌊"
texts = st.text(alphabet=GSM_BASIC + GSM_EXTENSION + OTHER + ASTRAL, min_size=1, max_size=700)
gsm_texts = st.text(alphabet=GSM_BASIC + GSM_EXTENSION, min_size=1, max_size=700)


def _decode(encoded: EncodedSms) -> str:
    """Rebuild the text from the air form only (payload, fill bits, lengths)."""
    parts = []
    for segment in encoded.segments:
        if encoded.encoding == "gsm7":
            septets = unpack_septets(segment.payload, segment.length, segment.fill_bits)
            parts.append(from_septets(septets))
        else:
            parts.append(segment.payload.decode("utf-16-be"))
    return "".join(parts)


@settings(max_examples=300, deadline=None)
@given(text=texts, bits=st.sampled_from([8, 16]))
def test_segments_decode_back_to_the_text(text: str, bits: int) -> None:
    encoded = encode_sms(text, reference=0x1FF, reference_bits=bits)  # type: ignore[arg-type]
    assert _decode(encoded) == text
    assert count_segments(text, reference_bits=bits) == encoded.count  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(text=texts, bits=st.sampled_from([8, 16]))
def test_every_segment_stands_alone_and_fits(text: str, bits: int) -> None:
    encoded = encode_sms(text, reference=0xABCD, reference_bits=bits)  # type: ignore[arg-type]
    total = encoded.count
    for number, segment in enumerate(encoded.segments, start=1):
        if encoded.encoding == "gsm7":
            assert segment.data[-1:] != b"\x1b"  # no dangling escape
            assert from_septets(segment.data) == segment.text
            assert segment.user_data_length <= 160
        else:
            segment.data.decode("utf-16-be", errors="strict")  # no lone surrogate
            assert len(segment.udh) + segment.length <= 140
        if total > 1:
            assert segment.udh[-2:] == bytes((total, number))
            assert len(segment.udh) == (6 if bits == 8 else 7)
        else:
            assert segment.udh == b""


@settings(max_examples=200, deadline=None)
@given(text=gsm_texts)
def test_segments_are_filled_greedily(text: str) -> None:
    encoded = encode_sms(text)
    if encoded.count == 1:
        assert sum(2 if ch in GSM_EXTENSION else 1 for ch in text) <= 160
        return
    for segment, following in zip(encoded.segments, encoded.segments[1:], strict=False):
        next_cost = 2 if following.text[0] in GSM_EXTENSION else 1
        assert segment.length + next_cost > 153
