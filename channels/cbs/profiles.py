"""Identifier profiles: how one operator's network maps CAP alerts to CBS identifiers.

Three shapes, chosen per operator in configuration:

* `cmas`: US WEA (telecom.md §1.3).
* `eu-alert`: EU-Alert levels (TS 102 900 as summarised in telecom.md §1.2),
  with the [open] EU-Info / EU-Exercise / EU-Test identifiers configurable.
* `custom`: an ordered rule table for national profiles that fit neither.

Each profile only answers "which identifier for this alert". It is never
asked about a drill with the alert's severity in hand for CMAS/EU-Alert, and
`identifiers.classify` wraps every answer in a `MessageIdentifier` whose
purpose comes from CAP status, so no profile can turn a drill into a real
warning.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from channels.cbs.etws import ETWS_MESSAGE_IDENTIFIERS, EtwsWarning, EtwsWarningType
from channels.cbs.facts import DRILL_IDENTIFIERS, AlertFacts, NotBroadcastable, additional_language

Pairs = tuple[tuple[str, str], ...]
_SAME = "SAME"
_CMAS_TABLE = {("extreme", "immediate"): 4371, ("extreme", "expected"): 4373}
_CMAS_TABLE |= {("severe", "immediate"): 4375, ("severe", "expected"): 4377}


def _drill(value: int) -> int:
    if value not in DRILL_IDENTIFIERS:
        raise ValueError(f"{value} is not a test/exercise identifier {sorted(DRILL_IDENTIFIERS)}")
    return value


def _public(value: int | None) -> int | None:
    """A configurable public identifier: 16 bits, neither a drill nor an ETWS identifier."""
    if value is None:
        return None
    if not 0 <= value <= 0xFFFF:
        raise ValueError(f"message identifier {value} does not fit 16 bits (0..65535)")
    if value in DRILL_IDENTIFIERS:
        raise ValueError(f"{value} is a test/exercise identifier: phones would not show a warning")
    if value in ETWS_MESSAGE_IDENTIFIERS.values():
        raise ValueError(f"{value} is an ETWS identifier (4352..4356), set by the etws rules")
    return value


def _twin(value: int, additional: bool) -> int:
    return additional_language(value) if additional else value


class EtwsRules(BaseModel):
    """Which alerts go out as ETWS primary notifications, and with which flags.

    Actual alerts: matching is on event-name substrings or on event codes, and
    only for urgent, serious alerts (an "Earthquake" information bulletin must
    not set off an ETWS alarm on every phone). An earthquake and/or tsunami
    event gives warning type 0, 1 or 2; an `other_events` / `other_codes`
    event (and neither of those) gives type 4, "other" (4356).

    Drills: a Test or Exercise alert (CAP status in `drill_statuses`, none by
    default) whose event is one of the above goes out as the ETWS test type 3
    (4355, a drill identifier), whatever its severity and urgency; without
    `drill_statuses` it takes the profile's test/exercise identifier as before.
    """

    model_config = ConfigDict(frozen=True)

    earthquake_events: tuple[str, ...] = ("earthquake",)
    tsunami_events: tuple[str, ...] = ("tsunami",)
    other_events: tuple[str, ...] = ()
    earthquake_codes: Pairs = ()
    tsunami_codes: Pairs = ()
    other_codes: Pairs = ()
    severities: tuple[str, ...] = ("Extreme", "Severe")
    urgencies: tuple[str, ...] = ("Immediate", "Expected")
    drill_statuses: tuple[Literal["Test", "Exercise"], ...] = ()
    emergency_user_alert: bool = True
    popup: bool = True

    def match(self, facts: AlertFacts) -> EtwsWarning | None:
        """The ETWS warning for an Actual alert, or None when it is not an ETWS event."""
        if not facts.is_("severity", *self.severities) or not facts.is_("urgency", *self.urgencies):
            return None
        kind = self._kind(facts)
        return None if kind is None else EtwsWarning(kind, self.emergency_user_alert, self.popup)

    def drill(self, facts: AlertFacts) -> EtwsWarning | None:
        """The ETWS test warning for a Test/Exercise alert with an ETWS event, or None."""
        if not facts.is_("status", *self.drill_statuses) or self._kind(facts) is None:
            return None
        return EtwsWarning(EtwsWarningType.TEST, self.emergency_user_alert, self.popup)

    def _kind(self, facts: AlertFacts) -> EtwsWarningType | None:
        event = facts.event.casefold()
        quake = any(w.casefold() in event for w in self.earthquake_events)
        quake = quake or facts.has_event_code(self.earthquake_codes)
        wave = any(w.casefold() in event for w in self.tsunami_events)
        wave = wave or facts.has_event_code(self.tsunami_codes)
        if quake and wave:
            return EtwsWarningType.EARTHQUAKE_AND_TSUNAMI
        if quake or wave:
            return EtwsWarningType.EARTHQUAKE if quake else EtwsWarningType.TSUNAMI
        other = any(w.casefold() in event for w in self.other_events)
        if other or facts.has_event_code(self.other_codes):
            return EtwsWarningType.OTHER
        return None


class CmasProfile(BaseModel):
    """US WEA. `public_safety` is the [open] WEAHandling rule (ATIS-0700008 not at hand)."""

    model_config = ConfigDict(frozen=True)

    profile: Literal["cmas"] = "cmas"
    presidential_codes: Pairs = ((_SAME, "EAN"),)
    amber_codes: Pairs = ((_SAME, "CAE"),)
    rmt_codes: Pairs = ((_SAME, "RMT"),)
    public_safety: tuple[str, str] | None = ("WEAHandling", "Public Safety")
    max_chars: int | None = 360  # WEA 3.0 long message
    prefer_long_text: bool = True
    etws: EtwsRules | None = None

    def public_identifier(self, facts: AlertFacts, additional: bool) -> int:
        """The identifier of an Actual alert. Raises NotBroadcastable if not WEA-eligible."""
        if facts.has_event_code(self.presidential_codes):
            return _twin(4370, additional)
        if facts.has_event_code(self.amber_codes):
            return _twin(4379, additional)
        if facts.has_event_code(self.rmt_codes):
            return _twin(4380, additional)
        if self.public_safety and _matches_parameter(facts, self.public_safety):
            return _twin(4396, additional)
        base = _CMAS_TABLE.get((facts.severity.casefold(), facts.urgency.casefold()))
        if base is None or not facts.is_("certainty", "Observed", "Likely"):
            raise NotBroadcastable(
                f"not WEA-eligible: severity {facts.severity}, urgency {facts.urgency},"
                f" certainty {facts.certainty} (needs Extreme/Severe, Immediate/Expected,"
                " Observed/Likely, or a Presidential/AMBER/RMT/Public Safety marker)"
            )
        return _twin(base + int(facts.is_("certainty", "Likely")), additional)

    def exercise_identifier(self, facts: AlertFacts, additional: bool) -> int:
        """CAP status Exercise -> 4381 (4394)."""
        return _twin(4381, additional)

    def test_identifier(self, facts: AlertFacts, additional: bool) -> int:
        """CAP status Test -> RMT 4380 (4393) when coded so, else State/Local Test 4398 (4399)."""
        return _twin(4380 if facts.has_event_code(self.rmt_codes) else 4398, additional)


class EuAlertProfile(BaseModel):
    """EU-Alert. Level 1 only by explicit event code; L2/L3 from severity/urgency/certainty.

    Extreme+Immediate -> L2 4371/4372; Extreme+Expected/Future -> L3 4373/4374;
    Severe+Immediate -> 4375/4376; Severe+Expected/Future -> 4377/4378 (the odd
    value when Observed, the even one otherwise). Everything else that is not
    Unlikely goes out as EU-Info when `info_identifier` is set. EU-Info, -Exercise
    and -Test identifiers are [open] and configurable.
    """

    model_config = ConfigDict(frozen=True)

    profile: Literal["eu-alert"] = "eu-alert"
    level1_codes: Pairs = ()
    amber_codes: Pairs = ((_SAME, "CAE"),)
    # 6400 in pycrate's table: set it per national profile.
    info_identifier: Annotated[int | None, AfterValidator(_public)] = 4396
    info_identifier_additional: Annotated[int | None, AfterValidator(_public)] = 4397
    exercise: Annotated[int, AfterValidator(_drill)] = 4381
    test: Annotated[int, AfterValidator(_drill)] = 4380
    max_chars: int | None = None
    etws: EtwsRules | None = None

    def public_identifier(self, facts: AlertFacts, additional: bool) -> int:
        """The identifier of an Actual alert. Raises NotBroadcastable when out of scope."""
        if facts.has_event_code(self.level1_codes):
            return _twin(4370, additional)
        if facts.has_event_code(self.amber_codes):
            return _twin(4379, additional)
        level = self._level(facts)
        if level is not None:
            return _twin(level + int(not facts.is_("certainty", "Observed")), additional)
        if self.info_identifier is None or facts.is_("certainty", "Unlikely"):
            raise NotBroadcastable(
                f"below EU-Alert levels (severity {facts.severity}, urgency {facts.urgency},"
                f" certainty {facts.certainty}) and EU-Info is not enabled for this case"
            )
        if additional:
            return self.info_identifier_additional or self.info_identifier
        return self.info_identifier

    def exercise_identifier(self, facts: AlertFacts, additional: bool) -> int:
        """CAP status Exercise -> the configured EU-Exercise identifier."""
        return _twin(self.exercise, additional)

    def test_identifier(self, facts: AlertFacts, additional: bool) -> int:
        """CAP status Test -> the configured EU-Test identifier."""
        return _twin(self.test, additional)

    @staticmethod
    def _level(facts: AlertFacts) -> int | None:
        if facts.is_("certainty", "Unlikely") or not facts.is_("severity", "Extreme", "Severe"):
            return None
        if facts.is_("urgency", "Immediate"):
            return 4371 if facts.is_("severity", "Extreme") else 4375
        if facts.is_("urgency", "Expected", "Future"):
            return 4373 if facts.is_("severity", "Extreme") else 4377
        return None


class IdentifierRule(BaseModel):
    """One row of a custom table; empty criteria match anything, lists mean "any of"."""

    model_config = ConfigDict(frozen=True)

    identifier: Annotated[int, Field(ge=0, le=0xFFFF)]
    additional_language_identifier: Annotated[int, Field(ge=0, le=0xFFFF)] | None = None
    status: tuple[Literal["Actual", "Exercise", "Test"], ...] = ("Actual",)
    events: tuple[str, ...] = ()
    severity: tuple[str, ...] = ()
    urgency: tuple[str, ...] = ()
    certainty: tuple[str, ...] = ()
    event_codes: Pairs = ()

    @model_validator(mode="after")
    def _drills_use_drill_identifiers(self) -> IdentifierRule:
        if not self.status:
            raise ValueError("a rule must name the statuses it applies to")
        if set(self.status) - {"Actual"}:
            _drill(self.identifier)
            if self.additional_language_identifier is not None:
                _drill(self.additional_language_identifier)
        return self

    def matches(self, facts: AlertFacts) -> bool:
        """Whether every given criterion holds for `facts`."""
        checks = (
            facts.is_("status", *self.status),
            not self.events or facts.is_("event", *self.events),
            not self.severity or facts.is_("severity", *self.severity),
            not self.urgency or facts.is_("urgency", *self.urgency),
            not self.certainty or facts.is_("certainty", *self.certainty),
            not self.event_codes or facts.has_event_code(self.event_codes),
        )
        return all(checks)

    def pick(self, additional: bool) -> int:
        """The identifier for the first or an additional language."""
        if additional and self.additional_language_identifier is not None:
            return self.additional_language_identifier
        return _twin(self.identifier, additional)


class CustomProfile(BaseModel):
    """An ordered rule table; the first rule matching the alert (status included) wins."""

    model_config = ConfigDict(frozen=True)

    profile: Literal["custom"] = "custom"
    rules: tuple[IdentifierRule, ...]
    max_chars: int | None = None
    etws: EtwsRules | None = None

    def public_identifier(self, facts: AlertFacts, additional: bool) -> int:
        """First matching rule for an Actual alert. Raises NotBroadcastable if none."""
        return self._first(facts, additional)

    def exercise_identifier(self, facts: AlertFacts, additional: bool) -> int:
        """First matching rule that lists Exercise. Raises NotBroadcastable if none."""
        return self._first(facts, additional)

    def test_identifier(self, facts: AlertFacts, additional: bool) -> int:
        """First matching rule that lists Test. Raises NotBroadcastable if none."""
        return self._first(facts, additional)

    def _first(self, facts: AlertFacts, additional: bool) -> int:
        for rule in self.rules:
            if rule.matches(facts):
                return rule.pick(additional)
        raise NotBroadcastable(f"no rule of the custom profile matches this {facts.status} alert")


def _matches_parameter(facts: AlertFacts, pair: tuple[str, str]) -> bool:
    value = facts.parameter(pair[0])
    return value is not None and value.strip().casefold() == pair[1].casefold()


IdentifierProfile = Annotated[
    CmasProfile | EuAlertProfile | CustomProfile, Field(discriminator="profile")
]
