"""Serial numbers and message-code allocation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels.cbs import GeoScope, MessageCodesExhausted, SerialNumber, next_message_code


@given(value=st.integers(0, 0xFFFF))
def test_decode_encode_round_trip(value: int) -> None:
    serial = SerialNumber.decode(value)
    assert serial.encode() == value
    assert serial.to_bytes() == value.to_bytes(2, "big")


@pytest.mark.parametrize(("code", "update"), [(-1, 0), (1024, 0), (0, 16), (0, -1)])
def test_fields_are_range_checked(code: int, update: int) -> None:
    with pytest.raises(ValueError, match="outside"):
        SerialNumber(GeoScope.PLMN_WIDE, code, update)


def test_next_update_wraps_and_keeps_code() -> None:
    serial = SerialNumber(GeoScope.PLMN_WIDE, 768, 14)
    assert serial.next_update() == SerialNumber(GeoScope.PLMN_WIDE, 768, 15)
    assert serial.next_update().next_update() == SerialNumber(GeoScope.PLMN_WIDE, 768, 0)


def test_etws_flags_sit_in_bits_13_and_12() -> None:
    both = SerialNumber.etws(GeoScope.CELL_WIDE_IMMEDIATE, 0, emergency_user_alert=True, popup=True)
    assert both.encode() == 0x3000
    alert_only = SerialNumber.etws(
        GeoScope.CELL_WIDE_IMMEDIATE, 1, emergency_user_alert=True, popup=False
    )
    assert alert_only.encode() == 0x2010
    with pytest.raises(ValueError, match="8 bits"):
        SerialNumber.etws(GeoScope.PLMN_WIDE, 256, emergency_user_alert=True, popup=True)


def test_allocator_rotates_past_the_last_code_and_skips_live_ones() -> None:
    assert next_message_code(set()) == 0
    assert next_message_code({0, 1, 2}) == 3
    assert next_message_code({5, 6}, last=4) == 7
    assert next_message_code(set(), last=1023) == 0
    assert next_message_code({0}, last=1023) == 1
    assert next_message_code(set(range(255)), last=10, size=256) == 255


def test_allocator_raises_when_every_code_is_live() -> None:
    with pytest.raises(MessageCodesExhausted, match="1024"):
        next_message_code(set(range(1024)))
    with pytest.raises(MessageCodesExhausted, match="256"):
        next_message_code(set(range(256)), size=256)


@given(live=st.sets(st.integers(0, 1023), max_size=1023), last=st.none() | st.integers(0, 1023))
def test_allocator_never_returns_a_live_code(live: set[int], last: int | None) -> None:
    code = next_message_code(live, last)
    assert code not in live
    assert 0 <= code < 1024
    start = 0 if last is None else (last + 1) % 1024
    skipped = [(start + k) % 1024 for k in range((code - start) % 1024)]
    assert all(c in live for c in skipped)
