"""CAP rules the schema cannot express, checked on the parsed model.

These are the ones that change what Tocsin would do with an alert: an
Update nobody can attach to a chain, an info that expires before it was
sent, a restricted alert with no restriction, a language tag the channel
planner cannot match.
"""

from __future__ import annotations

import re

from service.cap.model import CapAlert, Issue

# BCP 47 (RFC 5646) well-formed tag shape, case-insensitive: language with
# optional extlangs, script, region, variants, extensions, private use; or a
# private-use or grandfathered "i-" tag.
_BCP47 = re.compile(
    r"""
    (?:
      (?:[a-z]{2,3}(?:-[a-z]{3}){0,3}|[a-z]{4,8})  # language (+ extlang)
      (?:-[a-z]{4})?                             # script
      (?:-(?:[a-z]{2}|[0-9]{3}))?                # region
      (?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*   # variants
      (?:-[0-9a-wyz](?:-[a-z0-9]{2,8})+)*         # extensions
      (?:-x(?:-[a-z0-9]{1,8})+)?                 # private use
    |
      x(?:-[a-z0-9]{1,8})+
    |
      i-[a-z]{3,8}
    )
    """,
    re.IGNORECASE | re.VERBOSE,
)
# CAP: identifier and sender "MUST NOT include spaces, commas or restricted
# characters (< and &)"; references are built from them, so it matters.
_FORBIDDEN_IN_IDENTIFIERS = re.compile(r"[\s,<&]")


def _identity_issues(alert: CapAlert) -> list[Issue]:
    issues: list[Issue] = []
    for name, value in (("identifier", alert.identifier), ("sender", alert.sender)):
        if not value:
            issues.append(Issue(f"/alert/{name}", f"<{name}> must not be empty"))
        elif _FORBIDDEN_IN_IDENTIFIERS.search(value):
            issues.append(
                Issue(
                    f"/alert/{name}",
                    f"<{name}> {value[:80]!r} must not contain spaces, commas, '<' or '&'",
                )
            )
    return issues


def _reference_issues(alert: CapAlert, references_text_present: bool) -> list[Issue]:
    if alert.msg_type not in ("Update", "Cancel"):
        return []
    if alert.references or references_text_present:
        return []
    return [
        Issue(
            "/alert/references",
            f"an {alert.msg_type} must list the alerts it changes in <references> "
            "('sender,identifier,sent' separated by spaces)",
        )
    ]


def _scope_issues(alert: CapAlert) -> list[Issue]:
    if alert.scope == "Restricted" and not (alert.restriction or "").strip():
        return [Issue("/alert/restriction", "scope Restricted needs a non-empty <restriction>")]
    if alert.scope == "Private" and not (alert.addresses or "").strip():
        return [Issue("/alert/addresses", "scope Private needs a non-empty <addresses>")]
    return []


def _info_issues(alert: CapAlert) -> list[Issue]:
    issues: list[Issue] = []
    for index, info in enumerate(alert.infos, start=1):
        path = f"/alert/info[{index}]"
        if _BCP47.fullmatch(info.language) is None:
            issues.append(
                Issue(
                    f"{path}/language",
                    f"{info.language!r} is not a well-formed language tag "
                    "(BCP 47, e.g. en-US, zh-Hant-MO)",
                )
            )
        if info.expires is not None and info.expires <= alert.sent:
            issues.append(
                Issue(
                    f"{path}/expires",
                    f"expires {info.expires.isoformat()} is not after "
                    f"sent {alert.sent_text.strip()}",
                )
            )
    return issues


def check_rules(alert: CapAlert, *, references_text_present: bool) -> list[Issue]:
    """Return every rule the alert breaks, in document order of the fields.

    ``references_text_present`` tells whether <references> had any text: an
    Update whose references are present but unreadable has already been
    reported by the builder, and should not be reported twice as missing.
    """
    return [
        *_identity_issues(alert),
        *_reference_issues(alert, references_text_present),
        *_scope_issues(alert),
        *_info_issues(alert),
    ]
