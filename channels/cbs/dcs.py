"""CBS Data Coding Scheme (3GPP TS 23.038 §5): alphabet and language in one octet.

A phone shows a cell broadcast only when it can read the DCS, and it files the
message under a language from it. The DCS therefore has to carry the alert's
language whenever the table allows, and fall back to the "language indication"
forms (0x10 / 0x11) that spell the language at the start of the text otherwise.

Decision on the language indication (0x10 / 0x11): it is written at the start
of EVERY page, not only the first. TS 23.038 §5 sizes it per page ("xx" + CR
"then followed by 90 characters", two packed letters "followed by 40
characters of UCS2"), which is exactly one 82-octet page; and Android's
GsmSmsCbMessage strips it from each page it decodes, so a prefix on page 1 only
would cost every later page its first one or two characters.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

# TS 23.038 §5, coding group 0000: DCS 0x00..0x0E in this order.
GROUP_0_LANGUAGES = (
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
)
# Coding group 0010: DCS 0x20..0x24.
GROUP_2_LANGUAGES = ("cs", "he", "ar", "ru", "is")

GSM7_UNSPECIFIED = 0x0F
GSM7_LANGUAGE_PREFIX = 0x10
UCS2_LANGUAGE_PREFIX = 0x11
UCS2_UNSPECIFIED = 0x48  # general data coding, bits 3-2 = 10 (UCS2), no class

_ISO_639_1 = re.compile(r"[a-z]{2}")


class Alphabet(enum.Enum):
    """The two alphabets Tocsin sends; 8-bit data is never used for text."""

    GSM7 = "gsm7"
    UCS2 = "ucs2"


@dataclass(frozen=True)
class DataCoding:
    """A chosen DCS and what it implies for the page layout.

    `prefixed` is true for 0x10 and 0x11: every page then starts with the
    language indication, which costs 3 septets (GSM-7) or 2 octets (UCS2).
    """

    dcs: int
    alphabet: Alphabet
    language: str | None
    prefixed: bool


def normalize_language(tag: str | None) -> str | None:
    """The ISO 639-1 code in a CAP/RFC 3066 language tag (`"en-US"` -> `"en"`).

    CAP's `<language>` is an RFC 3066 tag; cell broadcast only knows two-letter
    codes. A tag whose primary subtag is not two letters (e.g. ISO 639-2
    `"deu"`) gives None: the message then goes out as "language unspecified"
    rather than with a wrong code.
    """
    if not tag:
        return None
    primary = tag.strip().split("-")[0].split("_")[0].lower()
    return primary if _ISO_639_1.fullmatch(primary) else None


def choose_coding(alphabet: Alphabet, language: str | None) -> DataCoding:
    """The DCS for text in `alphabet` and `language` (ISO 639-1 or None).

    GSM-7 uses the language's own code when TS 23.038 lists it, the 0x10
    prefix form otherwise, and 0x0F when the language is unknown. UCS2 has no
    per-language codes: 0x11 with the prefix, or 0x48 without a language.

    Raises:
        ValueError: `language` is not a two-letter lower-case code.
    """
    if language is not None and not _ISO_639_1.fullmatch(language):
        raise ValueError(f"language must be an ISO 639-1 code like 'en', not {language!r}")
    if alphabet is Alphabet.UCS2:
        if language is None:
            return DataCoding(UCS2_UNSPECIFIED, alphabet, None, prefixed=False)
        return DataCoding(UCS2_LANGUAGE_PREFIX, alphabet, language, prefixed=True)
    if language is None:
        return DataCoding(GSM7_UNSPECIFIED, alphabet, None, prefixed=False)
    if language in GROUP_0_LANGUAGES:
        return DataCoding(GROUP_0_LANGUAGES.index(language), alphabet, language, prefixed=False)
    if language in GROUP_2_LANGUAGES:
        dcs = 0x20 + GROUP_2_LANGUAGES.index(language)
        return DataCoding(dcs, alphabet, language, prefixed=False)
    return DataCoding(GSM7_LANGUAGE_PREFIX, alphabet, language, prefixed=True)
