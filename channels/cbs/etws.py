"""ETWS primary notification (3GPP TS 23.041 §9.3.24 and §9.4.1.3).

The primary notification is the seconds-fast "earthquake / tsunami" alarm: no
text, just a Warning-Type that makes the phone sound and pop up. Which CAP
alerts deserve it is profile configuration (see `identifiers`); this module
only encodes it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from channels.cbs.serial import SerialNumber

SECURITY_INFO_OCTETS = 50
PRIMARY_NOTIFICATION_OCTETS = 56

# TS 23.041 §8 / telecom.md §1.2: ETWS message identifiers by warning type.
ETWS_MESSAGE_IDENTIFIERS = {0: 4352, 1: 4353, 2: 4354, 3: 4355, 4: 4356}


class EtwsWarningType(enum.IntEnum):
    """The 7-bit Warning-Type value."""

    EARTHQUAKE = 0
    TSUNAMI = 1
    EARTHQUAKE_AND_TSUNAMI = 2
    TEST = 3
    OTHER = 4


@dataclass(frozen=True)
class EtwsWarning:
    """A Warning-Type with its two flags; the phone sounds and shows it per the flags."""

    warning_type: EtwsWarningType
    emergency_user_alert: bool = True
    popup: bool = True

    @property
    def message_identifier(self) -> int:
        """The ETWS message identifier (4352..4356) matching the warning type."""
        return ETWS_MESSAGE_IDENTIFIERS[int(self.warning_type)]

    def encode(self) -> bytes:
        """The 2-octet Warning-Type IE: type(7) | user-alert(1) | popup(1) | 7 spare bits."""
        value = (int(self.warning_type) << 9) | (int(self.emergency_user_alert) << 8)
        value |= int(self.popup) << 7
        return value.to_bytes(2, "big")


def primary_notification(
    serial: SerialNumber,
    warning: EtwsWarning,
    security_info: bytes = b"",
) -> bytes:
    """The 56-octet GSM ETWS primary notification: SN(2) MsgID(2) Warning-Type(2) Security(50).

    Security information is zero-filled when absent: no deployment Tocsin
    targets signs primary notifications, and phones ignore an all-zero field.

    Raises:
        ValueError: `security_info` is longer than 50 octets.
    """
    if len(security_info) > SECURITY_INFO_OCTETS:
        raise ValueError(f"security information is at most {SECURITY_INFO_OCTETS} octets")
    security = security_info.ljust(SECURITY_INFO_OCTETS, b"\x00")
    identifier = warning.message_identifier.to_bytes(2, "big")
    return serial.to_bytes() + identifier + warning.encode() + security
