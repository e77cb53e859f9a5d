"""Which CBS message identifier an alert gets, with the drill safety rule enforced.

The purpose (real warning, exercise, test) is decided from CAP `status` before
any profile is consulted, and the identifier is wrapped in a
`MessageIdentifier` of that purpose. A `MessageIdentifier` of purpose EXERCISE
or TEST refuses any value outside `DRILL_IDENTIFIERS`, so a non-Actual alert
cannot leave this module with a public identifier, whatever the profile.
"""

from __future__ import annotations

from dataclasses import dataclass

from channels.cbs.etws import EtwsWarning
from channels.cbs.facts import AlertFacts, MessageIdentifier, NotBroadcastable, Purpose
from channels.cbs.profiles import CmasProfile, CustomProfile, EuAlertProfile

_BROADCAST_TYPES = ("Alert", "Update", "Cancel")


@dataclass(frozen=True)
class Classification:
    """The identifier to broadcast under and, for ETWS events, the primary-notification warning."""

    identifier: MessageIdentifier
    etws: EtwsWarning | None = None


def purpose_of(facts: AlertFacts) -> Purpose:
    """The purpose implied by CAP status, scope and msgType.

    Raises:
        NotBroadcastable: Draft, System or an unknown status; a scope other
            than Public (a broadcast reaches everyone in the cells); Ack/Error.
    """
    if not facts.is_("msg_type", *_BROADCAST_TYPES):
        raise NotBroadcastable(
            f"msgType {facts.msg_type} is not broadcast (only Alert/Update/Cancel)"
        )
    if not facts.is_("scope", "Public"):
        raise NotBroadcastable(f"scope {facts.scope}: cell broadcast reaches everyone, only Public")
    if facts.is_("status", "Actual"):
        return Purpose.PUBLIC
    if facts.is_("status", "Exercise"):
        return Purpose.EXERCISE
    if facts.is_("status", "Test"):
        return Purpose.TEST
    raise NotBroadcastable(f"status {facts.status} is never broadcast")


def classify(
    facts: AlertFacts,
    profile: CmasProfile | EuAlertProfile | CustomProfile,
    *,
    additional_language: bool = False,
) -> Classification:
    """The identifier (and ETWS warning, if any) for one language of an alert.

    `additional_language` selects the "additional language" twin (ID + 13 and
    the like) for the second and later languages of a multilingual alert.

    Raises:
        NotBroadcastable: the alert is not eligible (see `purpose_of` and the profile).
        UnsafeIdentifierError: a profile produced a public identifier for a
            drill; validated profiles cannot, so this signals a bug.
    """
    purpose = purpose_of(facts)
    drill = profile.etws.drill(facts) if profile.etws and purpose is not Purpose.PUBLIC else None
    if drill is not None:  # 4355, a drill identifier: MessageIdentifier checks it
        return Classification(MessageIdentifier(drill.message_identifier, purpose), drill)
    if purpose is Purpose.EXERCISE:
        value = profile.exercise_identifier(facts, additional_language)
        return Classification(MessageIdentifier(value, purpose))
    if purpose is Purpose.TEST:
        value = profile.test_identifier(facts, additional_language)
        return Classification(MessageIdentifier(value, purpose))
    warning = profile.etws.match(facts) if profile.etws else None
    if warning is not None:
        return Classification(MessageIdentifier(warning.message_identifier, purpose), warning)
    value = profile.public_identifier(facts, additional_language)
    return Classification(MessageIdentifier(value, purpose))
