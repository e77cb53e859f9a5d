"""Building the CapAlert model from a schema-valid element tree.

The builder looks elements up by name, so an alert whose elements are merely
out of order still yields a complete model. Text the schema leaves free but
CAP gives a grammar to (polygons, circles, references, CAP 1.1 times) is
read here; what cannot be read is reported as an Issue at the element's path
and left out of the model.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from service.cap.geometry import read_circle, read_polygon
from service.cap.lexical import cap_datetime_problem, collapse_whitespace, parse_datetime
from service.cap.model import CapAlert, CapArea, CapInfo, CapReference, CapVersion, Issue
from service.cap.schema import XMLDSIG_NAMESPACE
from service.cap.structure import DEFAULTED_INFO_ELEMENTS, JOINED_INFO_ELEMENTS, text_content


class _Reader:
    """Reads one alert; collects the issues found along the way."""

    def __init__(self, version: CapVersion, namespace: str) -> None:
        self.version = version
        self.ns = namespace
        self.issues: list[Issue] = []
        self.geometry_issues: list[Issue] = []

    def children(self, parent: etree._Element, name: str) -> Iterator[etree._Element]:
        return parent.iterchildren(f"{{{self.ns}}}{name}")

    def text(self, parent: etree._Element, name: str) -> str | None:
        child = next(self.children(parent, name), None)
        if child is None:
            return None
        return text_content(child)

    def info_text(self, info: etree._Element, name: str) -> str | None:
        """An info element's text; repeated free text (a lenient reading) is joined."""
        texts = [text_content(child) for child in self.children(info, name)]
        if not texts:
            return None
        return "\n\n".join(texts) if name in JOINED_INFO_ELEMENTS else texts[0]

    def info_value(self, info: etree._Element, name: str) -> str:
        """A required info value; one left out (a lenient reading) gets CAP's 'unknown'."""
        value = self.text(info, name)
        return DEFAULTED_INFO_ELEMENTS[name] if value is None else value

    def required(self, parent: etree._Element, name: str) -> str:
        value = self.text(parent, name)
        if value is None:  # the schema check runs first, so this is a programming error
            raise ValueError(f"<{name}> missing from a schema-valid alert")
        return value

    def pairs(self, parent: etree._Element, name: str) -> list[tuple[str, str]]:
        return [
            (self.required(pair, "valueName"), self.required(pair, "value"))
            for pair in self.children(parent, name)
        ]

    def moment(self, text: str, path: str) -> datetime:
        """Read a schema-valid dateTime; CAP 1.1 gets CAP's own rules checked here."""
        if self.version is CapVersion.V1_1:
            problem = cap_datetime_problem(text)
            if problem is not None:
                self.issues.append(Issue(path, f"{text!r} {problem} (CAP 1.1 section 3.3.2)"))
        moment, _has_offset = parse_datetime(text)
        return moment

    def optional_moment(self, parent: etree._Element, name: str, path: str) -> datetime | None:
        text = self.text(parent, name)
        return None if text is None else self.moment(text, f"{path}/{name}")

    def references(self, text: str | None) -> list[CapReference]:
        """Read ``sender,identifier,sent`` triples separated by whitespace."""
        if text is None:
            return []
        triples: list[CapReference] = []
        for number, token in enumerate(text.split(), start=1):
            parts = token.split(",")
            if len(parts) != 3 or not all(parts):
                self.issues.append(
                    Issue(
                        "/alert/references",
                        f"reference {number} {token[:80]!r} is not 'sender,identifier,sent'",
                    )
                )
                continue
            sender, identifier, sent_text = parts
            problem = cap_datetime_problem(sent_text)
            if problem is not None:
                self.issues.append(
                    Issue("/alert/references", f"reference {number}: sent {sent_text!r} {problem}")
                )
                continue
            sent, _ = parse_datetime(sent_text)
            triples.append(CapReference(sender, identifier, sent, sent_text))
        return triples

    def area(self, element: etree._Element, path: str) -> CapArea:
        polygons: list[list[tuple[float, float]]] = []
        for index, polygon in enumerate(self.children(element, "polygon"), start=1):
            reading = read_polygon(text_content(polygon))
            ignored = "" if reading.usable else " (this polygon is left out)"
            self.geometry_issues.extend(
                Issue(f"{path}/polygon[{index}]", problem + ignored) for problem in reading.problems
            )
            if reading.usable:
                polygons.append(reading.points)
        circles: list[tuple[float, float, float]] = []
        for index, circle_element in enumerate(self.children(element, "circle"), start=1):
            circle, problem = read_circle(text_content(circle_element))
            if problem is not None:
                ignored = "" if circle is not None else " (this circle is left out)"
                self.geometry_issues.append(Issue(f"{path}/circle[{index}]", problem + ignored))
            if circle is not None:
                circles.append(circle)
        altitude, ceiling = self.text(element, "altitude"), self.text(element, "ceiling")
        return CapArea(
            area_desc=self.required(element, "areaDesc"),
            polygons=polygons,
            circles=circles,
            geocodes=self.pairs(element, "geocode"),
            altitude=None if altitude is None else float(collapse_whitespace(altitude)),
            ceiling=None if ceiling is None else float(collapse_whitespace(ceiling)),
        )

    def info(self, element: etree._Element, path: str) -> CapInfo:
        language = collapse_whitespace(self.text(element, "language") or "") or "en-US"
        areas = [
            self.area(area, f"{path}/area[{index}]")
            for index, area in enumerate(self.children(element, "area"), start=1)
        ]
        categories = [c.text or "" for c in self.children(element, "category")]
        return CapInfo(
            language=language,
            categories=categories or [DEFAULTED_INFO_ELEMENTS["category"]],
            event=self.required(element, "event"),
            response_types=[r.text or "" for r in self.children(element, "responseType")],
            urgency=self.info_value(element, "urgency"),
            severity=self.info_value(element, "severity"),
            certainty=self.info_value(element, "certainty"),
            audience=self.text(element, "audience"),
            event_codes=self.pairs(element, "eventCode"),
            effective=self.optional_moment(element, "effective", path),
            onset=self.optional_moment(element, "onset", path),
            expires=self.optional_moment(element, "expires", path),
            sender_name=self.text(element, "senderName"),
            headline=self.info_text(element, "headline"),
            description=self.info_text(element, "description"),
            instruction=self.info_text(element, "instruction"),
            web=self.text(element, "web"),
            contact=self.text(element, "contact"),
            parameters=self.pairs(element, "parameter"),
            areas=areas,
        )

    def alert(self, root: etree._Element) -> CapAlert:
        sent_text = self.required(root, "sent")
        infos = [
            self.info(info, f"/alert/info[{index}]")
            for index, info in enumerate(self.children(root, "info"), start=1)
        ]
        return CapAlert(
            identifier=self.required(root, "identifier"),
            sender=self.required(root, "sender"),
            sent=self.moment(sent_text, "/alert/sent"),
            sent_text=sent_text,
            status=self.required(root, "status"),
            msg_type=self.required(root, "msgType"),
            source=self.text(root, "source"),
            scope=self.required(root, "scope"),
            restriction=self.text(root, "restriction"),
            addresses=self.text(root, "addresses"),
            code=[c.text or "" for c in self.children(root, "code")],
            note=self.text(root, "note"),
            references=self.references(self.text(root, "references")),
            incidents=self.text(root, "incidents"),
            infos=infos,
            has_signature=root.find(f"{{{XMLDSIG_NAMESPACE}}}Signature") is not None,
            version=self.version,
        )


@dataclass(frozen=True)
class BuiltAlert:
    """The model plus what reading it revealed.

    ``issues`` break CAP's rules (unreadable references, CAP 1.1 times
    without an offset); ``geometry_issues`` are polygons and circles that
    are unreadable or malformed, kept apart because their severity is a
    policy decision (see ``validation``).
    """

    alert: CapAlert
    issues: list[Issue]
    geometry_issues: list[Issue]


def build_alert(root: etree._Element, version: CapVersion, namespace: str) -> BuiltAlert:
    """Build the model of a schema-valid ``alert`` element.

    Raises ValueError only if called on a tree that did not pass the
    schema check (a required element missing).
    """
    reader = _Reader(version, namespace)
    alert = reader.alert(root)
    return BuiltAlert(alert, reader.issues, reader.geometry_issues)
