"""Every corpus alert encodes under both profiles, with identifiers checked against a table.

The table below is for a reviewer: each row gives the CAP facts that decide
the identifier (status, severity/urgency/certainty) and the identifier each
profile chose, so it can be checked line by line against telecom.md §1.2/§1.3.
`NO` means the profile does not broadcast that alert (CMAS: not
WEA-eligible); its text must still encode, so that turning on a broader
profile can never meet an encoding error.

CAP is parsed with `service.cap.validate_cap`, as the service does: only the
tests import `service`, the `channels` library never does.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from channels.cbs import (
    AlertFacts,
    CmasProfile,
    EuAlertProfile,
    GeoScope,
    InfoText,
    NotBroadcastable,
    SerialNumber,
    WarningArea,
    additional_languages,
    broadcast_text,
    build_message,
    encode_text,
    encode_warning_area,
    normalize_language,
)
from channels.cbs.decoder import decode_cb_data, decode_gsm_message
from channels.cbs.wac_decoder import decode_warning_area
from service.cap import CapAlert, CapInfo, validate_cap

CORPUS = Path("/work/shared/corpus/cap")
R, RN, S = "real/", "real-nonconforming/", "signed/"
NO = None
PROFILES: dict[str, CmasProfile | EuAlertProfile] = {
    "cmas": CmasProfile(),
    "eu-alert": EuAlertProfile(),
}
SERIAL = SerialNumber(GeoScope.PLMN_WIDE, 7, 0)


@dataclass(frozen=True)
class Row:
    """One `<info>` block (None: the alert has none) and the identifier per profile."""

    path: str
    info: int | None
    status: str
    severity_urgency_certainty: str
    cmas: int | None
    eu_alert: int | None


# How to read it (telecom.md §1.3 for CMAS; channels/cbs/profiles.py for EU-Alert):
# CMAS  Extreme/Immediate 4371(Observed)/4372(Likely), Severe/Immediate 4375/4376,
#       Extreme/Expected 4373/4374, Severe/Expected 4377/4378; anything else NO;
#       status Test -> 4398 (State/Local Test), Exercise -> 4381.
# EU    the same levels by severity/urgency (Future counts as Expected), odd value
#       when Observed, even otherwise; below the levels EU-Info 4396; Test -> 4380.
# Additional language (a later <info> in another language than the first): +13,
#       EU-Info 4396 -> 4397.
TABLE = [
    Row(R + "au-bom.xml", 0, "Actual", "Unknown/Unknown/Unknown", NO, 4396),
    Row(R + "au-nsw-rfs.xml", 0, "Actual", "Minor/Expected/Observed", NO, 4396),
    Row(R + "au-nsw-rfs.xml", 1, "Actual", "Minor/Expected/Observed", NO, 4396),
    Row(R + "ca-eccc-update-signed.xml", 0, "Actual", "Moderate/Future/Likely", NO, 4396),
    Row(R + "ca-eccc-update-signed.xml", 1, "Actual", "Moderate/Future/Likely", NO, 4397),
    Row(R + "ca-eccc-update.xml", 0, "Actual", "Minor/Past/Observed", NO, 4396),
    Row(R + "ca-eccc-update.xml", 1, "Actual", "Minor/Past/Observed", NO, 4397),
    Row(R + "ca-naad-alert.xml", 0, "Actual", "Minor/Future/Possible", NO, 4396),
    Row(R + "ca-naad-alert.xml", 1, "Actual", "Minor/Future/Possible", NO, 4397),
    Row(R + "gdacs-cap_1001150.xml", 0, "Actual", "Moderate/Past/Unknown", NO, 4396),
    Row(R + "gdacs-cap_1023542.xml", 0, "Actual", "Moderate/Past/Unknown", NO, 4396),
    Row(R + "gdacs-cap_1470644.xml", 0, "Actual", "Moderate/Past/Observed", NO, 4396),
    Row(
        R + "ie-2.49.0.1.372.0.250413231648.N_Norm002_SmallCraft.xml",
        0,
        "Actual",
        "Moderate/Future/Likely",
        NO,
        4396,
    ),
    Row(
        R + "il-488abaaf-cad5-4d2b-93b2-703016878453.xml",
        0,
        "Actual",
        "Severe/Future/Possible",
        NO,
        4378,
    ),
    Row(
        R + "il-488abaaf-cad5-4d2b-93b2-703016878453.xml",
        1,
        "Actual",
        "Severe/Future/Possible",
        NO,
        4391,
    ),
    Row(R + "is-imo.xml", 0, "Actual", "Moderate/Unknown/Likely", NO, 4396),
    Row(R + "is-imo.xml", 1, "Actual", "Moderate/Unknown/Likely", NO, 4397),
    Row(
        R + "kz-2.49.0.0.398.0-20250306-133701-0284797-00-EN.xml",
        0,
        "Actual",
        "Moderate/Future/Likely",
        NO,
        4396,
    ),
    Row(R + "mo-cap_monsoon.xml", 0, "Actual", "Moderate/Past/Observed", NO, 4396),
    Row(R + "mo-cap_monsoon.xml", 1, "Actual", "Moderate/Past/Observed", NO, 4397),
    Row(R + "mo-cap_monsoon.xml", 2, "Actual", "Moderate/Past/Observed", NO, 4397),
    Row(R + "mx-smn-update.xml", 0, "Actual", "Unknown/Unknown/Unknown", NO, 4396),
    Row(R + "ph-pagasa-test.xml", 0, "Test", "Minor/Expected/Possible", 4398, 4380),
    Row(R + "ru-20250301222516-0086037.xml", 0, "Actual", "Moderate/Immediate/Likely", NO, 4396),
    Row(R + "tw-wra.xml", 0, "Actual", "Moderate/Future/Observed", NO, 4396),
    Row(R + "us-ipaws-cancel-no-info.xml", None, "Actual", "", NO, NO),
    Row(R + "us-noaa-multiple-polygons.xml", 0, "Actual", "Extreme/Immediate/Likely", 4372, 4372),
    Row(R + "us-nws-cap11.xml", 0, "Actual", "Minor/Expected/Likely", NO, 4396),
    Row(R + "us-usgs-earthquake-iso8859-1.xml", 0, "Actual", "Unknown/Past/Likely", NO, 4396),
    Row(R + "us-usgs-earthquake-signed.xml", 0, "Actual", "Unknown/Past/Likely", NO, 4396),
    Row(R + "us-usgs-earthquake.xml", 0, "Actual", "Unknown/Past/Likely", NO, 4396),
    Row(R + "us-wcatwc-tsunami.xml", 0, "Actual", "Extreme/Immediate/Likely", 4372, 4372),
    Row(RN + "alertswiss-POA-1216107687-4.xml", 0, "Actual", "Minor/Unknown/Unknown", NO, 4396),
    Row(RN + "alertswiss-POA-1222963954-5.xml", 0, "Actual", "Moderate/Unknown/Unknown", NO, 4396),
    Row(RN + "alertswiss-TEST-1163.xml", 0, "Test", "Unknown/Unknown/Unknown", 4398, 4380),
    Row(
        RN + "mow.DE-HE-KS-SE106-20250313-106-001.xml",
        0,
        "Actual",
        "Extreme/Immediate/Observed",
        4371,
        4371,
    ),
    Row(
        RN + "mow.DE-HE-KS-SE106-20250313-106-001.xml",
        1,
        "Actual",
        "Extreme/Immediate/Observed",
        4371,
        4371,
    ),
    Row(
        RN + "mow.DE-HE-KS-SE106-20250313-106-001.xml",
        2,
        "Actual",
        "Extreme/Immediate/Observed",
        4384,
        4384,
    ),
    Row(
        RN + "mow.DE-HE-KS-SE106-20250313-106-001.xml",
        3,
        "Actual",
        "Extreme/Immediate/Observed",
        4384,
        4384,
    ),
    Row(
        RN + "mow.DE-HE-KS-SE106-20250313-106-001.xml",
        4,
        "Actual",
        "Extreme/Immediate/Observed",
        4384,
        4384,
    ),
    Row(
        RN + "mow.DE-HE-KS-SE106-20250313-106-001.xml",
        5,
        "Actual",
        "Extreme/Immediate/Observed",
        4384,
        4384,
    ),
    Row(
        RN + "mow.DE-HE-KS-SE106-20250313-106-001.xml",
        6,
        "Actual",
        "Extreme/Immediate/Observed",
        4384,
        4384,
    ),
    Row(
        RN + "mow.DE-HE-KS-SE106-20250313-106-001.xml",
        7,
        "Actual",
        "Extreme/Immediate/Observed",
        4384,
        4384,
    ),
    Row(
        RN + "mow.DE-HE-KS-SE106-20250313-106-001.xml",
        8,
        "Actual",
        "Extreme/Immediate/Observed",
        4384,
        4384,
    ),
    Row(
        RN + "noaa-2.49.0.1.840.0.9b5195e635069329b12a7c697fad5934d144784a.001.1.xml",
        0,
        "Actual",
        "Severe/Future/Possible",
        NO,
        4378,
    ),
    Row(
        RN + "noaa-2.49.0.1.840.0.bde6c30c43ead9c23c42bea7977652a7de76d87d.002.1.xml",
        0,
        "Actual",
        "Moderate/Expected/Observed",
        NO,
        4396,
    ),
    Row(RN + "se-krisinformation.xml", 0, "Actual", "Unknown/Unknown/Unknown", NO, 4396),
    Row(S + "bf-valid.xml", 0, "Actual", "Moderate/Expected/Likely", NO, 4396),
    Row(S + "sc-valid.xml", 0, "Actual", "Moderate/Immediate/Observed", NO, 4396),
    Row(S + "tg-valid.xml", 0, "Actual", "Severe/Immediate/Observed", 4375, 4375),
]
FILES = sorted(
    {row.path for row in TABLE},
)


def test_the_table_covers_every_accepted_corpus_alert() -> None:
    on_disk = [CORPUS / R, CORPUS / RN]
    paths = {f"{p.parent.name}/{p.name}" for folder in on_disk for p in folder.glob("*.xml")}
    paths |= {f"signed/{p.name}" for p in (CORPUS / S).glob("*-valid.xml")}
    assert paths == set(FILES)


@cache
def _alert(path: str) -> CapAlert:
    data = (CORPUS / path).read_bytes()
    result = validate_cap(data, max_bytes=len(data) + 1)
    assert result.alert is not None, f"{path} no longer parses"
    return result.alert


def _facts(alert: CapAlert, info: CapInfo) -> AlertFacts:
    return AlertFacts(
        status=alert.status,
        msg_type=alert.msg_type,
        scope=alert.scope,
        event=info.event,
        urgency=info.urgency,
        severity=info.severity,
        certainty=info.certainty,
        event_codes=tuple(info.event_codes),
        parameters=tuple(info.parameters),
        code=tuple(alert.code),
    )


def _text(info: CapInfo) -> InfoText:
    return InfoText(
        language=info.language,
        headline=info.headline or "",
        description=info.description or "",
        instruction=info.instruction or "",
        parameters=tuple(info.parameters),
    )


def _area(info: CapInfo) -> WarningArea:
    polygons = tuple(
        tuple(ring) for area in info.areas for ring in area.polygons if len(set(ring)) >= 3
    )
    circles = tuple(c for area in info.areas for c in area.circles if c[2] > 0)
    return WarningArea(polygons, circles, max_wait_s=30)


@pytest.mark.parametrize("row", TABLE, ids=lambda r: f"{r.path}#{r.info}")
@pytest.mark.parametrize("profile_name", sorted(PROFILES))
def test_corpus_alert_gets_the_tabled_identifier_and_encodes(row: Row, profile_name: str) -> None:
    alert = _alert(row.path)
    assert alert.status == row.status
    if row.info is None:
        assert alert.infos == []  # nothing to broadcast: a Cancel kills what is live
        return
    info = alert.infos[row.info]
    facts = f"{info.severity}/{info.urgency}/{info.certainty}"
    assert facts == row.severity_urgency_certainty
    profile = PROFILES[profile_name]
    expected = row.cmas if profile_name == "cmas" else row.eu_alert
    additional = additional_languages([i.language for i in alert.infos])[row.info]
    text = _text(info)
    if expected is None:
        with pytest.raises(NotBroadcastable) as refusal:
            build_message(
                _facts(alert, info), text, profile, serial=SERIAL, additional_language=additional
            )
        assert refusal.value.reason
        # Refused by this profile, but the words must still encode within the budget.
        words = broadcast_text(text, max_chars=profile.max_chars)
        assert 1 <= len(encode_text(words, normalize_language(info.language)).pages) <= 15
        return
    message = build_message(
        _facts(alert, info), text, profile, serial=SERIAL, additional_language=additional
    )
    assert message.message_identifier == expected
    assert 1 <= len(message.pages) <= 15
    if profile.max_chars is not None:
        assert len(message.text) <= profile.max_chars
    assert decode_gsm_message(message.gsm_pages()) == message.text
    decoded = decode_cb_data(message.cb_data(), message.dcs)
    assert "".join(t for _, t in decoded) == message.text
    assert {language for language, _ in decoded} == {message.coding.language}


@pytest.mark.parametrize("path", FILES)
def test_corpus_warning_areas_encode_within_the_budget(path: str) -> None:
    for info in _alert(path).infos:
        area = _area(info)
        if not area.polygons and not area.circles:
            continue  # geocode-only: geo resolves it; nothing for the phone to geofence on
        octets = encode_warning_area(area)
        assert len(octets) <= 1024
        decoded = decode_warning_area(octets)
        assert decoded.max_wait_s == 30


def test_the_table_exercises_both_outcomes_and_drills() -> None:
    assert {row.cmas for row in TABLE} >= {None, 4371, 4372, 4375, 4398}
    assert None not in {row.eu_alert for row in TABLE if row.info is not None}
    drills = [row for row in TABLE if row.status != "Actual"]
    assert drills
    assert all(row.cmas == 4398 and row.eu_alert == 4380 for row in drills)
