"""An agency's "all clear": the SMS its Cancel sends to everyone the warning may have reached.

Cell broadcast needs no all-clear: the Cancel's kill takes the warning off
the phones' screens, and a fresh broadcast would sound every phone's alarm
again. SMS stays in the inbox, so people are told it is over.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

# RFC 5646 in the shape CAP uses (`en`, `en-CA`, `is-IS`, `zh-Hant-MO`).
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
MAX_LANGUAGES = 20
AllClearText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=640)
]


class AllClearTexts(BaseModel):
    """Language tag -> text. The first language is used for recipients whose language is missing."""

    model_config = ConfigDict(extra="forbid")
    texts: dict[str, AllClearText] = Field(max_length=MAX_LANGUAGES)

    @field_validator("texts")
    @classmethod
    def _languages_are_tags(cls, texts: dict[str, str]) -> dict[str, str]:
        for language in texts:
            if not _LANGUAGE.match(language):
                raise ValueError(f"'{language}' is not a language tag such as en or is-IS")
        return texts
