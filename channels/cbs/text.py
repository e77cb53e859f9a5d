"""The words that go on the air for one language of an alert.

WEA has its own CAP parameters for this (`CMAMlongtext`, up to 360
characters for WEA 3.0, and `CMAMtext`, up to 90), written by the originator
for a phone screen; they win when present. Otherwise the text is built from
headline, instruction and description, in that order, so that what people
must do survives the cut before the background does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from channels.cbs.dcs import normalize_language
from channels.cbs.pages import MAX_PAGES, fit_text

_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class InfoText:
    """The text fields of one CAP `<info>` block (one language)."""

    language: str | None = None
    headline: str = ""
    description: str = ""
    instruction: str = ""
    parameters: tuple[tuple[str, str], ...] = ()

    def parameter(self, name: str) -> str | None:
        """The first non-blank parameter called `name` (case-insensitive), or None."""
        for key, value in self.parameters:
            if key.casefold() == name.casefold() and value.strip():
                return value
        return None


def broadcast_text(
    info: InfoText,
    *,
    max_chars: int | None = None,
    prefer_long_text: bool = True,
    max_pages: int = MAX_PAGES,
) -> str:
    """The text to broadcast, cut at a word boundary to `max_chars` and `max_pages`.

    With `prefer_long_text` (WEA 3.0) `CMAMlongtext` comes first and
    `CMAMtext` is the fallback; without it the order is reversed. Whitespace
    runs inside each part collapse to one space (CAP descriptions are often
    hard-wrapped, and every character costs budget); parts are joined by a line
    break.

    Raises:
        ValueError: the budget is too small to hold even an ellipsis.
    """
    names = ("CMAMlongtext", "CMAMtext") if prefer_long_text else ("CMAMtext", "CMAMlongtext")
    chosen = next((v for v in map(info.parameter, names) if v is not None), None)
    if chosen is not None:
        text = _tidy(chosen)
    else:
        parts = (info.headline, info.instruction, info.description)
        text = "\n".join(tidy for tidy in map(_tidy, parts) if tidy)
    language = normalize_language(info.language)
    return fit_text(text, language, max_pages=max_pages, max_chars=max_chars)


def _tidy(part: str) -> str:
    return _WHITESPACE.sub(" ", part).strip()


def additional_languages(tags: Sequence[str | None]) -> tuple[bool, ...]:
    """For each `<info>` language tag of one alert: is it an additional language?

    The first block's language is the primary one. A later block in that same
    language (two `<info>` for two hazards, or "de" and "de-LS" plain German)
    is NOT an additional language: it keeps the base identifier, so phones
    that hide additional-language messages (ID + 13) still show it. Languages
    are compared by their ISO 639-1 code; an unknown code counts as different
    from a known one.
    """
    if not tags:
        return ()
    primary = normalize_language(tags[0]) or tags[0]
    return tuple(
        index > 0 and (normalize_language(tag) or tag) != primary for index, tag in enumerate(tags)
    )
