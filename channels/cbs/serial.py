"""CBS Serial Number (3GPP TS 23.041 §9.4.1.2.1) and message-code allocation.

The serial number is how a phone tells a new warning from a repeat: it drops a
(message identifier, serial number) pair it has already shown, within the
geographical scope. So an Update must raise the update number, and a new alert
must get a message code that is not still on the air for the same identifier.
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass, replace

MESSAGE_CODES = 1024  # 10 bits
UPDATE_NUMBERS = 16  # 4 bits
# ETWS uses the top two message-code bits as flags (SN bits 13 and 12).
ETWS_EMERGENCY_USER_ALERT = 0x200
ETWS_POPUP = 0x100


class GeoScope(enum.IntEnum):
    """Geographical Scope: how widely a phone treats the serial number as "seen"."""

    CELL_WIDE_IMMEDIATE = 0
    PLMN_WIDE = 1
    AREA_WIDE = 2  # location / service / tracking area
    CELL_WIDE = 3


class MessageCodesExhausted(RuntimeError):
    """All 1024 message codes are live for one operator: nothing can be allocated."""


@dataclass(frozen=True)
class SerialNumber:
    """GS(2) | MessageCode(10) | UpdateNumber(4), validated on construction.

    Raises (on construction):
        ValueError: a field is out of range.
    """

    geo_scope: GeoScope
    message_code: int
    update_number: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.message_code < MESSAGE_CODES:
            raise ValueError(f"message code {self.message_code} is outside 0..{MESSAGE_CODES - 1}")
        if not 0 <= self.update_number < UPDATE_NUMBERS:
            raise ValueError(f"update number {self.update_number} is outside 0..15")

    def encode(self) -> int:
        """The 16-bit value: `(gs << 14) | (code << 4) | update`."""
        return (int(self.geo_scope) << 14) | (self.message_code << 4) | self.update_number

    def to_bytes(self) -> bytes:
        """The two octets as sent (big-endian)."""
        return self.encode().to_bytes(2, "big")

    @classmethod
    def decode(cls, value: int) -> SerialNumber:
        """Split a 16-bit serial number into its fields.

        Raises:
            ValueError: `value` does not fit 16 bits.
        """
        if not 0 <= value <= 0xFFFF:
            raise ValueError(f"serial number {value} does not fit 16 bits")
        return cls(GeoScope(value >> 14), (value >> 4) & 0x3FF, value & 0xF)

    def next_update(self) -> SerialNumber:
        """The same message with the update number raised by one (mod 16).

        TS 23.041 makes the update number wrap; a phone compares it for
        inequality, so 15 -> 0 still reads as new content.
        """
        return replace(self, update_number=(self.update_number + 1) % UPDATE_NUMBERS)

    @classmethod
    def etws(
        cls,
        geo_scope: GeoScope,
        code: int,
        update_number: int = 0,
        *,
        emergency_user_alert: bool,
        popup: bool,
    ) -> SerialNumber:
        """An ETWS serial number: 8-bit code plus the user-alert and popup flags.

        Raises:
            ValueError: `code` is outside 0..255, or `update_number` outside 0..15.
        """
        if not 0 <= code < ETWS_POPUP:
            raise ValueError(f"an ETWS message code is 8 bits, not {code}")
        flags = (ETWS_EMERGENCY_USER_ALERT if emergency_user_alert else 0) | (
            ETWS_POPUP if popup else 0
        )
        return cls(geo_scope, flags | code, update_number)


def next_message_code(
    live: Collection[int], last: int | None = None, *, size: int = MESSAGE_CODES
) -> int:
    """The first code after `last` (wrapping) that is not in `live`.

    Rotating instead of taking the lowest free code keeps a just-killed code
    out of use as long as possible: phones may still remember it and would drop
    a new warning that reused it with the same update number. Pass `size=256`
    for ETWS, whose codes are 8 bits.

    Raises:
        MessageCodesExhausted: every code in 0..size-1 is live.
        ValueError: `size` is outside 1..1024.
    """
    if not 1 <= size <= MESSAGE_CODES:
        raise ValueError(f"size must be within 1..{MESSAGE_CODES}, not {size}")
    start = 0 if last is None else (last + 1) % size
    taken = set(live)
    for offset in range(size):
        code = (start + offset) % size
        if code not in taken:
            return code
    raise MessageCodesExhausted(f"all {size} message codes are live; kill a broadcast first")
