"""Text selection and the assembled message."""

from __future__ import annotations

import pytest

from channels.cbs import (
    AlertFacts,
    CmasProfile,
    EtwsRules,
    EuAlertProfile,
    GeoScope,
    InfoText,
    NotBroadcastable,
    Purpose,
    SerialNumber,
    additional_languages,
    broadcast_text,
    build_message,
)
from channels.cbs.decoder import decode_cb_data, decode_gsm_message, decode_primary_notification

ACTUAL = AlertFacts("Actual", "Alert", "Public", "Flash Flood", "Immediate", "Extreme", "Observed")
SERIAL = SerialNumber(GeoScope.PLMN_WIDE, 100, 0)


def test_cmam_long_text_is_preferred_then_cmam_text() -> None:
    info = InfoText(
        headline="Headline",
        parameters=(("CMAMtext", "Short text"), ("CMAMlongtext", "Long   text\nwrapped")),
    )
    assert broadcast_text(info) == "Long text wrapped"
    assert broadcast_text(info, prefer_long_text=False) == "Short text"
    only_short = InfoText(headline="Headline", parameters=(("cmamtext", "Short text"),))
    assert broadcast_text(only_short) == "Short text"
    blank_long = InfoText(parameters=(("CMAMlongtext", "  "), ("CMAMtext", "Short")))
    assert broadcast_text(blank_long) == "Short"


def test_headline_instruction_then_description_within_budget() -> None:
    info = InfoText(
        headline="Flood warning",
        instruction="Move to higher ground now.",
        description="The river " + "is rising fast " * 40,
    )
    text = broadcast_text(info, max_chars=90)
    assert text.startswith("Flood warning\nMove to higher ground now.\nThe river is rising")
    assert text.endswith("...")
    assert len(text) <= 90
    assert not text[:-3].endswith(" ")


def test_wea_budget_is_360_characters() -> None:
    info = InfoText(headline="x " * 400)
    message = build_message(ACTUAL, info, CmasProfile(), serial=SERIAL)
    assert len(message.text) <= 360
    assert message.text.endswith("...")


def test_without_a_character_budget_the_page_budget_applies() -> None:
    info = InfoText(language="pl-PL", headline="Ostrzeżenie łódź " * 200)
    message = build_message(ACTUAL, info, EuAlertProfile(), serial=SERIAL)
    assert message.coding.dcs == 0x11  # UCS2 with the 'pl' prefix on every page
    assert len(message.pages) == 15
    assert len(message.text) <= 15 * 40
    assert message.text.endswith("…")


def test_build_message_round_trips_and_carries_identity() -> None:
    info = InfoText(language="en-US", headline="Flash flood", instruction="Go uphill.")
    message = build_message(ACTUAL, info, CmasProfile(), serial=SERIAL, additional_language=True)
    assert message.message_identifier == 4371 + 13
    assert message.purpose is Purpose.PUBLIC
    assert message.dcs == 0x01
    assert decode_gsm_message(message.gsm_pages()) == "Flash flood\nGo uphill."
    assert decode_cb_data(message.cb_data(), message.dcs) == [("en", "Flash flood\nGo uphill.")]
    assert message.primary_notification() is None


def test_etws_message_gets_flagged_serial_and_primary_notification() -> None:
    quake = AlertFacts(
        "Actual", "Alert", "Public", "Earthquake", "Immediate", "Extreme", "Observed"
    )
    profile = EuAlertProfile(etws=EtwsRules(popup=False))
    message = build_message(quake, InfoText(headline="Earthquake"), profile, serial=SERIAL)
    assert message.message_identifier == 4352
    assert message.serial_number.encode() == (1 << 14) | (0x200 | 100) << 4
    block = message.primary_notification()
    assert block is not None
    assert decode_primary_notification(block) == (
        message.serial_number.encode(),
        4352,
        0,
        True,
        False,
    )
    with pytest.raises(ValueError, match="8 bits"):
        build_message(quake, InfoText(headline="x"), profile, serial=SerialNumber(GeoScope(1), 300))


def test_etws_test_message_for_a_test_alert() -> None:
    test = AlertFacts("Test", "Alert", "Public", "Tsunami", "Unknown", "Unknown", "Unknown")
    profile = EuAlertProfile(etws=EtwsRules(drill_statuses=("Test",), emergency_user_alert=False))
    message = build_message(test, InfoText(headline="TEST"), profile, serial=SERIAL)
    assert (message.message_identifier, message.purpose) == (4355, Purpose.TEST)
    block = message.primary_notification()
    assert block is not None
    assert decode_primary_notification(block)[1:] == (4355, 3, False, True)


def test_drill_message_keeps_its_drill_identity() -> None:
    exercise = AlertFacts(
        "Exercise", "Alert", "Public", "Earthquake", "Immediate", "Extreme", "Observed"
    )
    message = build_message(exercise, InfoText(headline="EXERCISE"), CmasProfile(), serial=SERIAL)
    assert (message.message_identifier, message.purpose) == (4381, Purpose.EXERCISE)
    draft = AlertFacts("Draft", "Alert", "Public")
    with pytest.raises(NotBroadcastable):
        build_message(draft, InfoText(headline="x"), CmasProfile(), serial=SERIAL)


def test_additional_languages_are_the_other_languages_than_the_first() -> None:
    assert additional_languages([]) == ()
    assert additional_languages(["en-US", "es-US", "en"]) == (False, True, False)
    assert additional_languages(["de", "de-LS", "en", "ar"]) == (False, False, True, True)
    assert additional_languages([None, None, "fr"]) == (False, False, True)
    assert additional_languages(["deu", "deu", "en"]) == (False, False, True)
