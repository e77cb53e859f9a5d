"""Page encoding: every text round-trips page by page through the independent decoder."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.cbs import (
    MAX_PAGES,
    Alphabet,
    GeoScope,
    SerialNumber,
    TooManyPagesError,
    cb_data,
    encode_text,
    fit_text,
    gsm_pages,
    page_count,
    shown_text,
)
from channels.cbs.decoder import (
    PageDecodeError,
    decode_cb_data,
    decode_content,
    decode_gsm_message,
    decode_gsm_page,
    ends_in_zero_fill,
)

LANGUAGES = st.sampled_from([None, "en", "de", "pl", "he", "is", "lb", "zh", "ja"])
# Text rich in the awkward cases: escape-table characters, CR/LF, non-GSM and astral characters.
AWKWARD = st.text(
    alphabet=st.one_of(
        st.sampled_from("aZ09 @£$¥èÇ\n\r\f^{}\\[~]|€ΔΩ"),
        st.sampled_from("łçżšאבع中😀🚨"),
        st.characters(),
    ),
    max_size=1500,
)
SERIAL = SerialNumber(GeoScope.PLMN_WIDE, 42, 3)


def _decode_pages_alone(encoded_pages: tuple[bytes, ...]) -> str:
    """Decode every GSM page on its own, as a phone does, and join the texts."""
    return "".join(decode_gsm_page(page).text for page in encoded_pages)


@settings(max_examples=300, deadline=None)
@given(text=AWKWARD, language=LANGUAGES)
def test_any_text_round_trips_page_by_page(text: str, language: str | None) -> None:
    fitted = fit_text(text, language)
    encoded = encode_text(fitted, language)
    assert 1 <= len(encoded.pages) <= MAX_PAGES
    assert encoded.text == shown_text(fitted)
    blocks = gsm_pages(SERIAL, 4371, encoded.coding.dcs, encoded.pages)
    assert _decode_pages_alone(blocks) == encoded.text
    assert decode_gsm_message(blocks) == encoded.text
    cb_pages = decode_cb_data(cb_data(encoded.pages), encoded.coding.dcs)
    assert "".join(text for _, text in cb_pages) == encoded.text
    expected_language = language if language is not None else None
    assert {lang for lang, _ in cb_pages} == {expected_language}


@settings(max_examples=200, deadline=None)
@given(text=AWKWARD, language=LANGUAGES)
def test_text_that_fits_is_kept_whole(text: str, language: str | None) -> None:
    if page_count(text, language) <= MAX_PAGES:
        assert fit_text(text, language) == shown_text(text)
        assert encode_text(text, language).text == shown_text(text)
    else:
        with pytest.raises(TooManyPagesError, match="at most 15"):
            encode_text(text, language)


@settings(max_examples=200, deadline=None)
@given(text=AWKWARD, pages=st.integers(1, MAX_PAGES), chars=st.none() | st.integers(3, 2000))
def test_fit_text_respects_both_budgets(text: str, pages: int, chars: int | None) -> None:
    fitted = fit_text(text, max_pages=pages, max_chars=chars)
    assert page_count(fitted) <= pages
    assert chars is None or len(fitted) <= chars
    if fitted != shown_text(text):
        assert fitted.endswith(("...", "…"))
        assert shown_text(text).startswith(fitted.rstrip(".…").rstrip())


def test_escape_pair_never_split_across_pages() -> None:
    text = "a" * 92 + "€" + "b"  # '€' is ESC+0x65: only one septet is left on page 1
    encoded = encode_text(text)
    assert len(encoded.pages) == 2
    first = decode_content(encoded.pages[0].content, encoded.coding.dcs)[1]
    second = decode_content(encoded.pages[1].content, encoded.coding.dcs)[1]
    assert (first, second) == ("a" * 92, "€b")


def test_surrogate_pair_never_split_across_pages() -> None:
    text = "ł" * 40 + "🚨" + "x"  # 40 units + a 2-unit pair: page 1 has room for one unit only
    encoded = encode_text(text)
    assert encoded.coding.alphabet is Alphabet.UCS2
    texts = [decode_content(p.content, encoded.coding.dcs)[1] for p in encoded.pages]
    assert texts == ["ł" * 40, "🚨x"]


def test_page_capacities() -> None:
    assert page_count("a" * 93) == 1
    assert page_count("a" * 94) == 2
    assert page_count("a" * 93 * 15) == 15
    assert page_count("ł" * 41) == 1
    assert page_count("ł" * 42) == 2
    assert page_count("ł" * 40, "en") == 1  # 0x11: 40 characters after the prefix
    assert page_count("ł" * 41, "en") == 2
    assert page_count("a" * 90, "lb") == 1  # 0x10: 90 characters after "lb"+CR
    assert page_count("a" * 91, "lb") == 2
    with pytest.raises(TooManyPagesError):
        encode_text("a" * (93 * 15 + 1))
    with pytest.raises(TooManyPagesError):
        encode_text("a" * 200, max_pages=2)


def test_fit_text_cuts_at_a_word_boundary_with_an_ascii_ellipsis_for_gsm7() -> None:
    fitted = fit_text("Evacuate now towards the northern hills immediately", max_chars=30)
    assert fitted == "Evacuate now towards the..."
    ucs2 = fit_text("Ewakuacja ludności z zagrożonego terenu", max_chars=25)
    assert ucs2 == "Ewakuacja ludności z…"


def test_cr_is_shown_as_line_feed() -> None:
    assert encode_text("a\r\nb\rc").text == "a\nb\nc"


def test_decoder_rejects_a_page_cut_inside_an_escape_pair() -> None:
    septets = [0x61] * 92 + [0x1B]  # ESC as the very last septet of the page
    content = sum(s << (7 * i) for i, s in enumerate(septets)).to_bytes(82, "little")
    with pytest.raises(PageDecodeError, match="escape pair"):
        decode_content(content, 0x0F)


def test_decoder_rejects_half_a_surrogate_pair() -> None:
    content = "ł".encode("utf-16-be") * 40 + b"\xd8\x3d"
    with pytest.raises(PageDecodeError, match="surrogate"):
        decode_content(content, 0x48)


def test_decoder_rejects_cr_octet_padding() -> None:
    text = encode_text("Emergency!!").pages[0]
    bad = text.content[:10] + b"\x0d" * 71 + b"\x00"
    with pytest.raises(PageDecodeError, match="padding"):
        decode_content(bad, 0x0F, useful_length=10)


def test_zero_fill_is_told_from_cr_padding() -> None:
    hello = encode_text("Hello", "en").pages[0].content
    assert not ends_in_zero_fill(hello, 0x01)
    assert ends_in_zero_fill(hello[:5] + bytes(77), 0x01)
    assert not ends_in_zero_fill(encode_text("Mail @@", "en").pages[0].content, 0x01)
    ucs2 = encode_text("Zażółć", None).pages[0]
    assert not ends_in_zero_fill(ucs2.content, 0x48)
    assert ends_in_zero_fill(ucs2.content[:12] + bytes(70), 0x48)


def test_decoder_rejects_pages_that_do_not_belong_together() -> None:
    encoded = encode_text("a" * 200)
    blocks = list(gsm_pages(SERIAL, 4371, encoded.coding.dcs, encoded.pages))
    other = gsm_pages(SERIAL.next_update(), 4371, encoded.coding.dcs, encoded.pages)
    with pytest.raises(PageDecodeError, match="same"):
        decode_gsm_message([blocks[0], other[1], blocks[2]])
    with pytest.raises(PageDecodeError, match="same"):
        decode_gsm_message([blocks[1], blocks[0], blocks[2]])


@pytest.mark.parametrize("dcs", [0x12, 0x44, 0x60, 0xF4, 0x30])
def test_decoder_rejects_dcs_values_that_are_not_text(dcs: int) -> None:
    with pytest.raises(PageDecodeError, match="DCS"):
        decode_content(bytes(82), dcs)


def test_decoder_rejects_bad_language_prefix() -> None:
    with pytest.raises(PageDecodeError, match="language"):
        decode_content(encode_text("hello").pages[0].content, 0x10)
