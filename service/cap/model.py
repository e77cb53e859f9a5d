"""Value types of the CAP package: the parsed alert and the verdicts about it.

Everything here is a frozen dataclass so that a parsed alert can be shared
between the API, the store and the dispatch planner without anyone mutating
it behind the others' backs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class CapVersion(StrEnum):
    """The CAP versions we accept, named by the version in their namespace."""

    V1_1 = "1.1"
    V1_2 = "1.2"


class RejectionKind(StrEnum):
    """Why a document was rejected; the API maps each kind to a problem type."""

    NOT_XML = "not-xml"
    HOSTILE = "hostile"
    TOO_LARGE = "too-large"
    NOT_CAP = "not-cap"
    INVALID = "invalid"


@dataclass(frozen=True)
class Issue:
    """One finding about a document.

    ``path`` is XPath-like and 1-indexed for elements that may repeat, e.g.
    ``/alert/info[2]/area[1]/polygon[1]``; ``message`` is plain English for
    the sender who has to fix the document.
    """

    path: str
    message: str


@dataclass(frozen=True)
class CapReference:
    """One ``sender,identifier,sent`` triple from ``references``."""

    sender: str
    identifier: str
    sent: datetime
    sent_text: str


@dataclass(frozen=True)
class CapArea:
    """One ``area`` block. Points stay in CAP order: (lat, lon)."""

    area_desc: str
    polygons: list[list[tuple[float, float]]] = field(default_factory=list)
    circles: list[tuple[float, float, float]] = field(default_factory=list)
    geocodes: list[tuple[str, str]] = field(default_factory=list)
    altitude: float | None = None
    ceiling: float | None = None


@dataclass(frozen=True)
class CapInfo:
    """One ``info`` block: one language's texts, timing and areas."""

    event: str
    urgency: str
    severity: str
    certainty: str
    language: str = "en-US"
    categories: list[str] = field(default_factory=list)
    response_types: list[str] = field(default_factory=list)
    audience: str | None = None
    event_codes: list[tuple[str, str]] = field(default_factory=list)
    effective: datetime | None = None
    onset: datetime | None = None
    expires: datetime | None = None
    sender_name: str | None = None
    headline: str | None = None
    description: str | None = None
    instruction: str | None = None
    web: str | None = None
    contact: str | None = None
    parameters: list[tuple[str, str]] = field(default_factory=list)
    areas: list[CapArea] = field(default_factory=list)


@dataclass(frozen=True)
class CapAlert:
    """A parsed CAP alert. ``sent_text`` keeps the exact text for references."""

    identifier: str
    sender: str
    sent: datetime
    sent_text: str
    status: str
    msg_type: str
    scope: str
    version: CapVersion
    source: str | None = None
    restriction: str | None = None
    addresses: str | None = None
    code: list[str] = field(default_factory=list)
    note: str | None = None
    references: list[CapReference] = field(default_factory=list)
    incidents: str | None = None
    infos: list[CapInfo] = field(default_factory=list)
    has_signature: bool = False


@dataclass(frozen=True)
class ValidationResult:
    """The verdict on one document.

    ``alert`` is set whenever the document is schema-valid enough to build a
    model (always when ``accepted``); ``kind`` is set exactly when rejected.
    """

    accepted: bool
    kind: RejectionKind | None
    errors: list[Issue]
    warnings: list[Issue]
    alert: CapAlert | None
    version: CapVersion | None


@dataclass(frozen=True)
class SignatureVerdict:
    """The outcome of checking an alert's enveloped XML signature.

    ``valid`` is true only when the signature verifies cryptographically with
    a configured certificate (or one issued directly by a configured one).
    """

    present: bool
    valid: bool
    reason: str | None
    signer_subject: str | None
