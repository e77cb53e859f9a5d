"""The SMS text for one language of an alert, cut to a segment budget.

Pure: the service hands over the CAP values of one `<info>` block and the
profile's choices; this decides the words. A warning SMS must stay within
the gateway's segment cap, so long descriptions are cut at a word boundary
and marked with "..." (three ASCII dots: the single-character ellipsis is not
in the GSM alphabet and would force the whole text into UCS-2).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from channels.sms.encoding import ReferenceBits, count_segments

ELLIPSIS = "..."
_WHITESPACE = re.compile(r"\s+")
# Characters not worth keeping right before the ellipsis.
_TRAILING = " \t\n,;:.-"


def _clean(value: str | None) -> str:
    """Collapse runs of whitespace: CAP text is often wrapped XML, and every septet counts."""
    return _WHITESPACE.sub(" ", value or "").strip()


def _parameter(parameters: Sequence[tuple[str, str]], name: str) -> str:
    """The first non-blank value of parameter `name` (exact name first, then any case)."""
    exact = [value for value_name, value in parameters if value_name == name]
    folded = [value for value_name, value in parameters if value_name.casefold() == name.casefold()]
    for value in exact + folded:
        if _clean(value):
            return _clean(value)
    return ""


def _fits(text: str, max_segments: int, reference_bits: ReferenceBits) -> bool:
    return count_segments(text, reference_bits=reference_bits) <= max_segments


def _cut(text: str, end: int) -> str:
    return text[:end].rstrip(_TRAILING) + ELLIPSIS


def _longest_fitting(
    text: str, cuts: list[int], max_segments: int, reference_bits: ReferenceBits
) -> int | None:
    """The largest cut position in sorted `cuts` whose cut text fits (binary search).

    Fitting is monotone in the prefix length: a longer prefix never needs
    fewer segments, whichever encoding it ends up in.
    """
    low, high, best = 0, len(cuts) - 1, None
    while low <= high:
        middle = (low + high) // 2
        if _fits(_cut(text, cuts[middle]), max_segments, reference_bits):
            best, low = cuts[middle], middle + 1
        else:
            high = middle - 1
    return best


def fit_text(text: str, *, max_segments: int, reference_bits: ReferenceBits = 8) -> str:
    """`text` itself if it fits `max_segments`, else its longest word-boundary prefix + "...".

    A first word too long for the budget is cut inside the word instead.

    Raises:
        ValueError: `text` is blank, or `max_segments` is below 1.
    """
    if max_segments < 1:
        raise ValueError(f"max_segments must be at least 1, got {max_segments}")
    if not text.strip():
        raise ValueError("no text to send")
    if _fits(text, max_segments, reference_bits):
        return text
    word_cuts = [match.start() for match in re.finditer(r"\s", text) if match.start() > 0]
    best = _longest_fitting(text, word_cuts, max_segments, reference_bits)
    if best is None:
        best = _longest_fitting(text, list(range(1, len(text))), max_segments, reference_bits)
    return _cut(text, best or 0)


def compose_sms_text(
    *,
    headline: str | None,
    instruction: str | None,
    description: str | None,
    parameters: Sequence[tuple[str, str]] = (),
    text_parameter: str | None = None,
    max_segments: int = 1,
    reference_bits: ReferenceBits = 8,
) -> str:
    """The SMS text for one language, within `max_segments` segments.

    When the profile names a parameter for SMS text (`text_parameter`) and the
    alert carries it, its value is the text: authorities write those for SMS.
    Otherwise headline, instruction and description, in that order, one per
    line: what happens and what to do survive a cut, the background is cut first.

    Raises:
        ValueError: there is no text at all, or `max_segments` is below 1.
    """
    text = _parameter(parameters, text_parameter) if text_parameter else ""
    if not text:
        parts = (_clean(headline), _clean(instruction), _clean(description))
        text = "\n".join(part for part in parts if part)
    return fit_text(text, max_segments=max_segments, reference_bits=reference_bits)
