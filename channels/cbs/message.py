"""One complete cell-broadcast message: identity, coding, pages and, for ETWS, the warning.

This is the value a CBC adapter sends. It is built once per (alert,
operator, language) by `build_message`, which ties the pure pieces together:
classify the alert, pick and fit the text, encode the pages.
"""

from __future__ import annotations

from dataclasses import dataclass

from channels.cbs.dcs import DataCoding, normalize_language
from channels.cbs.etws import EtwsWarning, primary_notification
from channels.cbs.facts import AlertFacts, MessageIdentifier, Purpose
from channels.cbs.framing import cb_data, gsm_pages
from channels.cbs.identifiers import classify
from channels.cbs.pages import CbsPage, encode_text
from channels.cbs.profiles import CmasProfile, CustomProfile, EuAlertProfile
from channels.cbs.serial import ETWS_POPUP, SerialNumber
from channels.cbs.text import InfoText, broadcast_text


@dataclass(frozen=True)
class CbsMessage:
    """Everything a CBC needs about the content; targets and schedule travel separately."""

    identifier: MessageIdentifier
    serial_number: SerialNumber
    coding: DataCoding
    pages: tuple[CbsPage, ...]
    text: str
    etws: EtwsWarning | None = None

    @property
    def message_identifier(self) -> int:
        """The 16-bit message identifier."""
        return self.identifier.value

    @property
    def purpose(self) -> Purpose:
        """Real warning, exercise or test."""
        return self.identifier.purpose

    @property
    def dcs(self) -> int:
        """The Data Coding Scheme octet."""
        return self.coding.dcs

    def gsm_pages(self) -> tuple[bytes, ...]:
        """The pages as 88-octet GSM CBS blocks."""
        return gsm_pages(self.serial_number, self.message_identifier, self.dcs, self.pages)

    def cb_data(self) -> bytes:
        """The UMTS/LTE/NR CB-Data (Warning-Message-Content)."""
        return cb_data(self.pages)

    def primary_notification(self) -> bytes | None:
        """The 56-octet ETWS primary notification, or None for a non-ETWS message."""
        if self.etws is None:
            return None
        return primary_notification(self.serial_number, self.etws)


def build_message(
    facts: AlertFacts,
    info: InfoText,
    profile: CmasProfile | EuAlertProfile | CustomProfile,
    *,
    serial: SerialNumber,
    additional_language: bool = False,
) -> CbsMessage:
    """Classify, compose and encode one language of an alert for one operator.

    For an ETWS event the serial number is re-issued with the ETWS user-alert
    and popup flags (its message code must then be below 256: allocate with
    `next_message_code(..., size=256)` after `classify` says ETWS).

    Raises:
        NotBroadcastable: the alert is not eligible under `profile`.
        ValueError: an ETWS event got a message code of 256 or more.
    """
    classification = classify(facts, profile, additional_language=additional_language)
    prefer_long = profile.prefer_long_text if isinstance(profile, CmasProfile) else True
    text = broadcast_text(info, max_chars=profile.max_chars, prefer_long_text=prefer_long)
    encoded = encode_text(text, normalize_language(info.language))
    warning = classification.etws
    if warning is not None:
        if serial.message_code >= ETWS_POPUP:
            raise ValueError(f"ETWS message code {serial.message_code} does not fit 8 bits")
        serial = SerialNumber.etws(
            serial.geo_scope,
            serial.message_code,
            serial.update_number,
            emergency_user_alert=warning.emergency_user_alert,
            popup=warning.popup,
        )
    return CbsMessage(
        identifier=classification.identifier,
        serial_number=serial,
        coding=encoded.coding,
        pages=encoded.pages,
        text=encoded.text,
        etws=warning,
    )
