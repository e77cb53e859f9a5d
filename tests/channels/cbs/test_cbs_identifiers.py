"""Message identifiers per profile, and the safety rule: drills never get a public identifier."""

from __future__ import annotations

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.cbs import (
    DRILL_IDENTIFIERS,
    AlertFacts,
    CmasProfile,
    CustomProfile,
    EtwsRules,
    EtwsWarningType,
    EuAlertProfile,
    IdentifierRule,
    MessageIdentifier,
    NotBroadcastable,
    Purpose,
    UnsafeIdentifierError,
    classify,
)

CMAS = CmasProfile()
EU = EuAlertProfile()


def facts(**changes: object) -> AlertFacts:
    base: dict[str, object] = {
        "status": "Actual",
        "msg_type": "Alert",
        "scope": "Public",
        "event": "Flash Flood",
        "urgency": "Immediate",
        "severity": "Extreme",
        "certainty": "Observed",
    }
    base.update(changes)
    return AlertFacts(**base)  # type: ignore[arg-type]


def ident(alert: AlertFacts, profile: object, additional: bool = False) -> int:
    return classify(alert, profile, additional_language=additional).identifier.value  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("severity", "urgency", "certainty", "expected"),
    [
        ("Extreme", "Immediate", "Observed", 4371),
        ("Extreme", "Immediate", "Likely", 4372),
        ("Extreme", "Expected", "Observed", 4373),
        ("Extreme", "Expected", "Likely", 4374),
        ("Severe", "Immediate", "Observed", 4375),
        ("Severe", "Immediate", "Likely", 4376),
        ("Severe", "Expected", "Observed", 4377),
        ("Severe", "Expected", "Likely", 4378),
    ],
)
def test_cmas_table(severity: str, urgency: str, certainty: str, expected: int) -> None:
    alert = facts(severity=severity, urgency=urgency, certainty=certainty)
    assert ident(alert, CMAS) == expected
    assert ident(alert, CMAS, additional=True) == expected + 13


@pytest.mark.parametrize(
    ("severity", "urgency", "certainty"),
    [
        ("Moderate", "Immediate", "Observed"),
        ("Extreme", "Future", "Observed"),
        ("Severe", "Immediate", "Possible"),
        ("Unknown", "Unknown", "Unknown"),
    ],
)
def test_cmas_not_eligible_says_why(severity: str, urgency: str, certainty: str) -> None:
    alert = facts(severity=severity, urgency=urgency, certainty=certainty)
    with pytest.raises(NotBroadcastable, match="not WEA-eligible"):
        classify(alert, CMAS)


@pytest.mark.parametrize(
    ("changes", "expected", "additional"),
    [
        ({"event_codes": (("SAME", "EAN"),), "severity": "Minor"}, 4370, 4383),
        ({"event_codes": (("same", "cae"),), "severity": "Minor"}, 4379, 4392),
        ({"event_codes": (("SAME", "RMT"),), "severity": "Minor"}, 4380, 4393),
        ({"parameters": (("WEAHandling", "Public Safety"),), "severity": "Minor"}, 4396, 4397),
        ({"status": "Exercise"}, 4381, 4394),
        ({"status": "Test"}, 4398, 4399),
        ({"status": "Test", "event_codes": (("SAME", "RMT"),)}, 4380, 4393),
    ],
)
def test_cmas_special_cases(changes: dict[str, object], expected: int, additional: int) -> None:
    alert = facts(**changes)
    assert ident(alert, CMAS) == expected
    assert ident(alert, CMAS, additional=True) == additional


@pytest.mark.parametrize(
    ("severity", "urgency", "certainty", "expected"),
    [
        ("Extreme", "Immediate", "Observed", 4371),
        ("Extreme", "Immediate", "Possible", 4372),
        ("Extreme", "Future", "Likely", 4374),
        ("Severe", "Immediate", "Observed", 4375),
        ("Severe", "Expected", "Likely", 4378),
        ("Moderate", "Immediate", "Observed", 4396),
        ("Minor", "Past", "Observed", 4396),
        ("Extreme", "Past", "Observed", 4396),
    ],
)
def test_eu_alert_levels(severity: str, urgency: str, certainty: str, expected: int) -> None:
    alert = facts(severity=severity, urgency=urgency, certainty=certainty)
    assert ident(alert, EU) == expected


def test_eu_alert_configurable_ids() -> None:
    profile = EuAlertProfile(
        info_identifier=6400,
        info_identifier_additional=6400,
        level1_codes=(("profile:national", "L1"),),
        exercise=4398,
        test=4381,
    )
    assert ident(facts(severity="Minor"), profile) == 6400
    assert ident(facts(event_codes=(("profile:national", "L1"),)), profile) == 4370
    assert ident(facts(status="Exercise"), profile, additional=True) == 4399
    assert ident(facts(status="Test"), profile) == 4381
    assert ident(facts(event_codes=(("SAME", "CAE"),)), profile) == 4379


def test_eu_info_can_be_switched_off() -> None:
    profile = EuAlertProfile(info_identifier=None)
    with pytest.raises(NotBroadcastable, match="EU-Info"):
        classify(facts(severity="Moderate"), profile)
    with pytest.raises(NotBroadcastable):
        classify(facts(certainty="Unlikely"), EU)


@pytest.mark.parametrize("public", [4370, 4371, 4379, 4396, 6400, 4382])
def test_profiles_refuse_public_identifiers_for_drills(public: int) -> None:
    with pytest.raises(pydantic.ValidationError):
        EuAlertProfile(exercise=public)
    with pytest.raises(pydantic.ValidationError):
        EuAlertProfile(test=public)
    with pytest.raises(pydantic.ValidationError):
        IdentifierRule(identifier=public, status=("Actual", "Test"))
    with pytest.raises(UnsafeIdentifierError):
        MessageIdentifier(public, Purpose.EXERCISE)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"status": "Draft"}, "Draft"),
        ({"status": "System"}, "System"),
        ({"scope": "Restricted"}, "Restricted"),
        ({"msg_type": "Ack"}, "Ack"),
        ({"msg_type": "Error"}, "Error"),
    ],
)
def test_never_broadcast(changes: dict[str, object], reason: str) -> None:
    for profile in (CMAS, EU):
        with pytest.raises(NotBroadcastable, match=reason):
            classify(facts(**changes), profile)


def test_custom_profile_first_matching_rule_wins() -> None:
    profile = CustomProfile(
        rules=(
            IdentifierRule(identifier=4370, events=("Nuclear Incident",)),
            IdentifierRule(identifier=4371, severity=("Extreme", "Severe"), urgency=("Immediate",)),
            IdentifierRule(identifier=4396, additional_language_identifier=4397),
            IdentifierRule(identifier=4381, status=("Exercise", "Test")),
        )
    )
    assert ident(facts(event="nuclear incident"), profile) == 4370
    assert ident(facts(severity="Severe"), profile) == 4371
    assert ident(facts(severity="Severe"), profile, additional=True) == 4384
    assert ident(facts(severity="Minor"), profile, additional=True) == 4397
    assert ident(facts(status="Test"), profile) == 4381
    only_actual = CustomProfile(rules=(IdentifierRule(identifier=4370),))
    with pytest.raises(NotBroadcastable, match="no rule"):
        classify(facts(status="Exercise"), only_actual)


def test_etws_rules() -> None:
    profile = CmasProfile(etws=EtwsRules(tsunami_codes=(("SAME", "TSW"),)))
    quake = classify(facts(event="Earthquake warning"), profile)
    assert quake.etws is not None
    assert quake.etws.warning_type is EtwsWarningType.EARTHQUAKE
    assert quake.identifier.value == 4352
    both = classify(facts(event="Earthquake", event_codes=(("SAME", "TSW"),)), profile)
    assert both.identifier.value == 4354
    bulletin = facts(event="Earthquake", severity="Minor", urgency="Past")
    with pytest.raises(NotBroadcastable):  # a minor quake bulletin is neither ETWS nor WEA
        classify(bulletin, profile)
    drill = classify(facts(event="Earthquake", status="Exercise"), profile)
    assert (drill.etws, drill.identifier.value) == (None, 4381)


def test_etws_other_type_for_configured_events() -> None:
    profile = EuAlertProfile(
        etws=EtwsRules(other_events=("volcan",), other_codes=(("profile:EU", "LAND"),))
    )
    volcano = classify(facts(event="Volcanic eruption"), profile)
    assert volcano.etws is not None
    assert (volcano.etws.warning_type, volcano.identifier.value) == (EtwsWarningType.OTHER, 4356)
    landslide = classify(facts(event="Landslide", event_codes=(("profile:EU", "LAND"),)), profile)
    assert landslide.identifier.value == 4356
    quake = classify(facts(event="Earthquake after volcanic activity"), profile)
    assert quake.identifier.value == 4352  # earthquake / tsunami win over "other"
    minor = classify(facts(event="Volcanic ash", severity="Minor", urgency="Future"), profile)
    assert (minor.etws, minor.identifier.value) == (None, 4396)  # EU-Info, not an ETWS alarm


def test_etws_test_type_for_drills_of_an_etws_event() -> None:
    profile = CmasProfile(etws=EtwsRules(other_events=("volcan",), drill_statuses=("Test",)))
    for event in ("Earthquake", "Tsunami", "Volcanic eruption"):
        drill = classify(facts(event=event, status="Test", severity="Minor"), profile)
        assert drill.etws is not None
        assert drill.etws.warning_type is EtwsWarningType.TEST
        assert (drill.identifier.value, drill.identifier.purpose) == (4355, Purpose.TEST)
    flood = classify(facts(event="Flood", status="Test"), profile)
    assert (flood.etws, flood.identifier.value) == (None, 4398)  # not an ETWS event
    exercise = classify(facts(event="Earthquake", status="Exercise"), profile)
    assert (exercise.etws, exercise.identifier.value) == (None, 4381)  # Exercise not listed
    both = CmasProfile(etws=EtwsRules(drill_statuses=("Test", "Exercise")))
    exercise = classify(facts(event="Earthquake", status="Exercise"), both)
    assert (exercise.identifier.value, exercise.identifier.purpose) == (4355, Purpose.EXERCISE)
    with pytest.raises(ValueError, match="drill_statuses"):
        EtwsRules.model_validate({"drill_statuses": ["Actual"]})


VALUES = ("Actual", "Exercise", "Test", "Draft", "System", "actual", "Unknown", "")
PUBLIC_IDS = st.integers(4352, 6400).filter(lambda v: v not in DRILL_IDENTIFIERS)
DRILLS = st.sampled_from(sorted(DRILL_IDENTIFIERS))
RULES = st.one_of(
    st.builds(IdentifierRule, identifier=PUBLIC_IDS, status=st.just(("Actual",))),
    st.builds(
        IdentifierRule,
        identifier=DRILLS,
        status=st.sampled_from([("Exercise",), ("Test",), ("Actual", "Exercise", "Test")]),
    ),
)
PROFILES = st.one_of(
    st.just(CMAS),
    st.just(EU),
    st.just(CmasProfile(etws=EtwsRules(severities=("Extreme", "Severe", "Minor", "Unknown")))),
    st.just(
        EuAlertProfile(etws=EtwsRules(other_events=("",), drill_statuses=("Test", "Exercise")))
    ),
    st.builds(EuAlertProfile, exercise=DRILLS, test=DRILLS),
    st.builds(CustomProfile, rules=st.lists(RULES, min_size=1, max_size=5).map(tuple)),
)
WORDS = st.sampled_from(
    [
        *("Extreme", "Severe", "Moderate", "Minor", "Unknown", "Immediate", "Expected", "Future"),
        *("Past", "Observed", "Likely", "Possible", "Unlikely", "Earthquake", "Tsunami", ""),
    ]
)
CODES = st.lists(
    st.tuples(st.sampled_from(["SAME", "same", "other"]), st.sampled_from(["EAN", "CAE", "RMT"])),
    max_size=3,
).map(tuple)


@settings(max_examples=500, deadline=None)
@given(
    status=st.sampled_from(VALUES).filter(lambda s: s.casefold() != "actual"),
    msg_type=st.sampled_from(["Alert", "Update", "Cancel", "Ack"]),
    scope=st.sampled_from(["Public", "Restricted"]),
    severity=WORDS,
    urgency=WORDS,
    certainty=WORDS,
    event=WORDS,
    codes=CODES,
    handling=st.sampled_from([(), (("WEAHandling", "Public Safety"),)]),
    profile=PROFILES,
    additional=st.booleans(),
)
def test_non_actual_alerts_never_get_a_public_identifier(
    status: str,
    msg_type: str,
    scope: str,
    severity: str,
    urgency: str,
    certainty: str,
    event: str,
    codes: tuple[tuple[str, str], ...],
    handling: tuple[tuple[str, str], ...],
    profile: object,
    additional: bool,
) -> None:
    alert = AlertFacts(
        status, msg_type, scope, event, urgency, severity, certainty, codes, handling
    )
    try:
        result = classify(alert, profile, additional_language=additional)  # type: ignore[arg-type]
    except NotBroadcastable:
        return
    assert result.identifier.value in DRILL_IDENTIFIERS
    assert result.identifier.purpose is not Purpose.PUBLIC
    assert result.etws is None or result.etws.warning_type is EtwsWarningType.TEST


@pytest.mark.parametrize(
    ("value", "reason"),
    [(-1, "16 bits"), (65536, "16 bits"), (4380, "test/exercise"), (4353, "ETWS")],
)
def test_eu_info_identifier_is_checked(value: int, reason: str) -> None:
    for field in ("info_identifier", "info_identifier_additional"):
        with pytest.raises(pydantic.ValidationError, match=reason):
            EuAlertProfile.model_validate({field: value})
    assert EuAlertProfile(
        info_identifier=6400, info_identifier_additional=None
    ).info_identifier == (6400)
    assert EuAlertProfile(info_identifier=919).info_identifier == 919  # national ranges stay open
