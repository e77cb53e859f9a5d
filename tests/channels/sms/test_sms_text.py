"""The per-language SMS text: parameter choice, composition, cutting to a budget."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.sms.encoding import count_segments
from channels.sms.text import compose_sms_text, fit_text

HEADLINE = "Flood warning for the Lower Valley"
INSTRUCTION = "Move to higher ground now."
DESCRIPTION = (
    "The river is expected to exceed the dike level tonight between 22:00 and 02:00. "
    "Roads along the river will be closed. Follow instructions from emergency services."
)


def test_headline_instruction_description_in_that_order() -> None:
    text = compose_sms_text(
        headline=HEADLINE, instruction=INSTRUCTION, description=DESCRIPTION, max_segments=2
    )
    assert text == f"{HEADLINE}\n{INSTRUCTION}\n{DESCRIPTION}"


def test_profile_parameter_wins_when_present() -> None:
    text = compose_sms_text(
        headline=HEADLINE,
        instruction=INSTRUCTION,
        description=DESCRIPTION,
        parameters=[("other", "x"), ("SMS_TEXT", "  Flood:   go uphill now ")],
        text_parameter="sms_text",
    )
    assert text == "Flood: go uphill now"


def test_blank_profile_parameter_falls_back_to_the_alert_text() -> None:
    text = compose_sms_text(
        headline=HEADLINE,
        instruction=None,
        description=None,
        parameters=[("SMS_TEXT", "   ")],
        text_parameter="SMS_TEXT",
    )
    assert text == HEADLINE


def test_cut_at_a_word_boundary_with_three_dots() -> None:
    text = compose_sms_text(
        headline=HEADLINE, instruction=INSTRUCTION, description=DESCRIPTION, max_segments=1
    )
    assert text.endswith("...")
    assert count_segments(text) == 1
    assert len(text) > 150  # the budget is used, not wasted
    body = text[: -len("...")]
    assert f"{HEADLINE}\n{INSTRUCTION}\n{DESCRIPTION}".startswith(body)
    following = f"{HEADLINE}\n{INSTRUCTION}\n{DESCRIPTION}"[len(body)]
    assert following.isspace() or following in ",.;:"  # cut between words


def test_non_gsm_text_is_budgeted_in_ucs2() -> None:
    text = fit_text("Zażółć gęślą jaźń " * 20, max_segments=1)
    assert len(text) <= 70
    assert text.endswith("...")


def test_ellipsis_keeps_gsm7() -> None:
    text = fit_text("word " * 100, max_segments=1)
    assert "…" not in text
    assert count_segments(text) == 1
    assert text == " ".join(["word"] * 31) + "..."  # 154 + 3 septets; 32 words would be 162


def test_one_long_word_is_cut_inside() -> None:
    text = fit_text("x" * 500, max_segments=1)
    assert text == "x" * 157 + "..."


def test_nothing_to_say_is_an_error() -> None:
    with pytest.raises(ValueError, match="no text"):
        compose_sms_text(headline=" ", instruction=None, description="")
    with pytest.raises(ValueError, match="max_segments"):
        fit_text("hello", max_segments=0)


@settings(max_examples=150, deadline=None)
@given(
    text=st.text(alphabet="ab cdł€😀.\n", min_size=1, max_size=1500).filter(str.strip),
    budget=st.integers(min_value=1, max_value=4),
)
def test_always_within_budget_and_a_prefix(text: str, budget: int) -> None:
    fitted = fit_text(text, max_segments=budget)
    assert count_segments(fitted) <= budget
    if fitted != text:
        assert fitted.endswith("...")
        assert text.startswith(fitted[:-3])
