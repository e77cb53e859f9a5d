"""The CAP 1.2 and 1.1 schemas as data: which elements, in which order, how often.

The walker in ``structure.py`` interprets these tables. They restate the
OASIS schemas (the CAP 1.2 XSD, and for 1.1 our ``CAP-v1.1.xsd`` written from
the 1.1 specification); the differential test keeps them honest against
libxml2 validating those XSD files.

Every CAP content model is a plain sequence in which each element name
appears once, so a child list is valid exactly when every name is known,
each count lies within its bounds and the names follow the sequence order.
That decomposition is what lets us report order separately from the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

from service.cap.model import CapVersion

CAP_NAMESPACES: dict[str, CapVersion] = {
    "urn:oasis:names:tc:emergency:cap:1.2": CapVersion.V1_2,
    "urn:oasis:names:tc:emergency:cap:1.1": CapVersion.V1_1,
}
XMLDSIG_NAMESPACE = "http://www.w3.org/2000/09/xmldsig#"
UNBOUNDED = -1


class Lexical(Enum):
    """The simple types CAP elements use."""

    STRING = "string"
    CAP_DATETIME = "cap-dateTime"  # CAP 1.2: xs:dateTime narrowed by a pattern
    XS_DATETIME = "dateTime"  # CAP 1.1: plain xs:dateTime
    LANGUAGE = "language"
    ANY_URI = "anyURI"
    INTEGER = "integer"
    DECIMAL = "decimal"


@dataclass(frozen=True)
class Particle:
    """One element of a sequence: its name, bounds and content.

    Exactly one of ``lexical`` (simple content) and ``children`` (element
    content) describes the content; ``choices`` narrows a string to an
    enumeration.
    """

    name: str
    min_occurs: int = 1
    max_occurs: int = 1
    lexical: Lexical | None = Lexical.STRING
    choices: tuple[str, ...] = ()
    children: tuple[Particle, ...] = ()

    @property
    def repeats(self) -> bool:
        """Whether the element may occur more than once (and gets an index in paths)."""
        return self.max_occurs == UNBOUNDED or self.max_occurs > 1


def _optional(name: str, lexical: Lexical = Lexical.STRING) -> Particle:
    return Particle(name, min_occurs=0, lexical=lexical)


def _enum(name: str, *choices: str, min_occurs: int = 1, repeats: bool = False) -> Particle:
    return Particle(
        name,
        min_occurs=min_occurs,
        max_occurs=UNBOUNDED if repeats else 1,
        choices=choices,
    )


def _complex(name: str, *children: Particle, min_occurs: int = 0, repeats: bool = True) -> Particle:
    return Particle(
        name,
        min_occurs=min_occurs,
        max_occurs=UNBOUNDED if repeats else 1,
        lexical=None,
        children=children,
    )


_VALUE_PAIR = (Particle("valueName"), Particle("value"))
_CATEGORIES: tuple[str, ...] = ("Geo", "Met", "Safety", "Security", "Rescue", "Fire")
_CATEGORIES += ("Health", "Env", "Transport", "Infra", "CBRNE", "Other")
_RESPONSE_TYPES_1_2: tuple[str, ...] = ("Shelter", "Evacuate", "Prepare", "Execute", "Avoid")
_RESPONSE_TYPES_1_2 += ("Monitor", "Assess", "AllClear", "None")
_CERTAINTIES_1_2 = ("Observed", "Likely", "Possible", "Unlikely", "Unknown")


def _info_1_2() -> Particle:
    when = Lexical.CAP_DATETIME
    return _complex(
        "info",
        Particle("language", min_occurs=0, lexical=Lexical.LANGUAGE),
        _enum("category", *_CATEGORIES, repeats=True),
        Particle("event"),
        _enum("responseType", *_RESPONSE_TYPES_1_2, min_occurs=0, repeats=True),
        _enum("urgency", "Immediate", "Expected", "Future", "Past", "Unknown"),
        _enum("severity", "Extreme", "Severe", "Moderate", "Minor", "Unknown"),
        _enum("certainty", *_CERTAINTIES_1_2),
        _optional("audience"),
        _complex("eventCode", *_VALUE_PAIR),
        _optional("effective", when),
        _optional("onset", when),
        _optional("expires", when),
        _optional("senderName"),
        _optional("headline"),
        _optional("description"),
        _optional("instruction"),
        _optional("web", Lexical.ANY_URI),
        _optional("contact"),
        _complex("parameter", *_VALUE_PAIR),
        _complex(
            "resource",
            Particle("resourceDesc"),
            Particle("mimeType"),
            _optional("size", Lexical.INTEGER),
            _optional("uri", Lexical.ANY_URI),
            _optional("derefUri"),
            _optional("digest"),
        ),
        _complex(
            "area",
            Particle("areaDesc"),
            Particle("polygon", min_occurs=0, max_occurs=UNBOUNDED),
            Particle("circle", min_occurs=0, max_occurs=UNBOUNDED),
            _complex("geocode", *_VALUE_PAIR),
            _optional("altitude", Lexical.DECIMAL),
            _optional("ceiling", Lexical.DECIMAL),
        ),
    )


def _alert_1_2() -> Particle:
    return _complex(
        "alert",
        Particle("identifier"),
        Particle("sender"),
        Particle("sent", lexical=Lexical.CAP_DATETIME),
        _enum("status", "Actual", "Exercise", "System", "Test", "Draft"),
        _enum("msgType", "Alert", "Update", "Cancel", "Ack", "Error"),
        _optional("source"),
        _enum("scope", "Public", "Restricted", "Private"),
        _optional("restriction"),
        _optional("addresses"),
        Particle("code", min_occurs=0, max_occurs=UNBOUNDED),
        _optional("note"),
        _optional("references"),
        _optional("incidents"),
        _info_1_2(),
        min_occurs=1,
        repeats=False,
    )


def _to_1_1(particle: Particle) -> Particle:
    """Derive the CAP 1.1 content model from 1.2's, following the 1.1 schema.

    1.1 differs in: plain xs:dateTime (no pattern), no Avoid/AllClear
    response types, the extra certainty "Very Likely", optional mimeType.
    """
    changed = replace(particle, children=tuple(_to_1_1(child) for child in particle.children))
    if changed.lexical is Lexical.CAP_DATETIME:
        changed = replace(changed, lexical=Lexical.XS_DATETIME)
    if changed.name == "responseType":
        kept = tuple(c for c in changed.choices if c not in ("Avoid", "AllClear"))
        changed = replace(changed, choices=kept)
    elif changed.name == "certainty":
        changed = replace(
            changed, choices=(*_CERTAINTIES_1_2[:2], "Very Likely", *_CERTAINTIES_1_2[2:])
        )
    elif changed.name == "mimeType":
        changed = replace(changed, min_occurs=0)
    return changed


ALERT_SCHEMAS: dict[CapVersion, Particle] = {
    CapVersion.V1_2: _alert_1_2(),
    CapVersion.V1_1: _to_1_1(_alert_1_2()),
}
