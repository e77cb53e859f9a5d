"""The facts of a CAP alert that decide its cell-broadcast identity, and the safety types.

`channels` does not parse CAP (that is `service.cap`); the caller extracts
these few fields into an `AlertFacts` value. The safety rule lives here as a
type: a `MessageIdentifier` built for an exercise or a test cannot hold an
identifier that phones present as a real warning, whatever a profile says.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

# Identifiers phones present as tests or exercises, never as a real warning:
# ETWS test, RMT and Exercise (each with its additional-language twin), and
# the WEA State/Local Test pair (TS 23.041 §9.4.1.2.2, telecom.md §1.2).
DRILL_IDENTIFIERS = frozenset({4355, 4380, 4381, 4393, 4394, 4398, 4399})

# The CMAS/EU-Alert list 4370..4382 repeats 13 higher for an additional language.
_LANGUAGE_TWINS = {**{base: base + 13 for base in range(4370, 4383)}, 4396: 4397, 4398: 4399}


class NotBroadcastable(Exception):
    """The alert must not go out on cell broadcast; `reason` says why in plain words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnsafeIdentifierError(ValueError):
    """A drill (exercise/test) would have been given an identifier meant for real warnings."""


class Purpose(enum.Enum):
    """What the public will take the broadcast for: decided by CAP `status` alone."""

    PUBLIC = "public"
    EXERCISE = "exercise"
    TEST = "test"


@dataclass(frozen=True)
class MessageIdentifier:
    """A CBS message identifier together with the purpose it was chosen for.

    Raises (on construction):
        ValueError: the value does not fit 16 bits.
        UnsafeIdentifierError: the purpose is EXERCISE or TEST and the value is
            not one of `DRILL_IDENTIFIERS`.
    """

    value: int
    purpose: Purpose

    def __post_init__(self) -> None:
        if not 0 <= self.value <= 0xFFFF:
            raise ValueError(f"message identifier {self.value} does not fit 16 bits")
        if self.purpose is not Purpose.PUBLIC and self.value not in DRILL_IDENTIFIERS:
            raise UnsafeIdentifierError(
                f"identifier {self.value} would show a {self.purpose.value} as a real warning;"
                f" drills may only use {sorted(DRILL_IDENTIFIERS)}"
            )


def additional_language(value: int) -> int:
    """The additional-language twin of an identifier (base + 13, 4396->4397, 4398->4399).

    Identifiers without a twin (ETWS, EU-Info 6400, operator ranges) are
    returned unchanged: the language then travels in the DCS only.
    """
    return _LANGUAGE_TWINS.get(value, value)


@dataclass(frozen=True)
class AlertFacts:
    """The CAP fields (alert + one info block) that decide identifier and eligibility.

    `event_codes` and `parameters` are (valueName, value) pairs as in CAP;
    `code` is the alert's `<code>` list. Enumerated values use CAP spelling
    ("Actual", "Extreme", ...); comparisons are case-insensitive.
    """

    status: str
    msg_type: str
    scope: str
    event: str = ""
    urgency: str = "Unknown"
    severity: str = "Unknown"
    certainty: str = "Unknown"
    event_codes: tuple[tuple[str, str], ...] = ()
    parameters: tuple[tuple[str, str], ...] = ()
    code: tuple[str, ...] = ()

    def has_event_code(self, pairs: tuple[tuple[str, str], ...]) -> bool:
        """Whether any (valueName, value) in `pairs` is among the alert's event codes."""
        wanted = {(name.casefold(), value.casefold()) for name, value in pairs}
        return any((n.casefold(), v.casefold()) in wanted for n, v in self.event_codes)

    def parameter(self, name: str) -> str | None:
        """The first parameter called `name` (case-insensitive), or None."""
        for key, value in self.parameters:
            if key.casefold() == name.casefold():
                return value
        return None

    def is_(self, field: str, *values: str) -> bool:
        """Whether `field` (e.g. "severity") equals one of `values`, ignoring case."""
        actual: str = getattr(self, field)
        return actual.casefold() in {value.casefold() for value in values}
