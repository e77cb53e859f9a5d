"""The schema-level check: walk the element tree against the CAP content model.

We walk the tree ourselves instead of handing it to an XSD validator so that
every finding can name the element at fault with a stable, 1-indexed path
and a message a sender understands, and so that order deviations can be
told apart from every other schema error (real senders get the order wrong
far more often than anything else, and that alone does not make an alert
ambiguous).
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field

from lxml import etree

from service.cap.lexical import (
    cap_datetime_problem,
    xs_any_uri_problem,
    xs_datetime_problem,
    xs_decimal_problem,
    xs_integer_problem,
    xs_language_problem,
)
from service.cap.model import CapVersion, Issue
from service.cap.schema import ALERT_SCHEMAS, UNBOUNDED, XMLDSIG_NAMESPACE, Lexical, Particle

XSI_NAMESPACE = "http://www.w3.org/2001/XMLSchema-instance"
# Schema-location hints are harmless (we never follow them); xsi:type and
# xsi:nil would change what the schema means, and CAP has no use for them.
_TOLERATED_XSI_ATTRIBUTES = frozenset({"schemaLocation", "noNamespaceSchemaLocation"})

# The closed list of schema deviations that real senders make and that leave
# the alert unambiguous (docs/cap-validation.md, "Lenient readings"). By
# default each is a warning and the model is repaired as stated; for a
# strict sender each is an error. Nothing outside this list is lenient.
LENIENT_MARK = "read leniently"
# A required <info> element left out: read as CAP's own "don't know" value.
DEFAULTED_INFO_ELEMENTS: dict[str, str] = {
    "category": "Other",
    "urgency": "Unknown",
    "severity": "Unknown",
    "certainty": "Unknown",
}


def _defaulted_when_missing(name: str, counts: Counter[str]) -> bool:
    """Whether a missing required <info> element gets CAP's "don't know" reading.

    A missing <category> always does (it steers nothing we send). A missing
    urgency, severity or certainty does only when <category> is missing too:
    that is the mark of an export from a system without CAP's classification
    fields (Alertswiss), where the absence means "not graded". An info that
    classifies itself but drops one grading value is a damaged document, and
    guessing would change the broadcast class, so it stays an error.
    """
    if name == "category":
        return True
    return name in DEFAULTED_INFO_ELEMENTS and counts["category"] == 0


# Free text that may appear once but is sent repeatedly: the texts are joined.
JOINED_INFO_ELEMENTS = frozenset({"headline", "description", "instruction"})


@dataclass
class StructureReport:
    """Schema-level findings: errors, and order deviations kept apart."""

    errors: list[Issue] = field(default_factory=list)
    order_deviations: list[Issue] = field(default_factory=list)
    lenient_readings: list[Issue] = field(default_factory=list)


@dataclass(frozen=True)
class _Placed:
    position: int  # index of the element's particle in the parent's sequence
    name: str
    path: str


def text_content(element: etree._Element) -> str:
    """The element's character data, ignoring comments and processing instructions."""
    parts = [element.text or ""]
    parts.extend(child.tail or "" for child in element)
    return "".join(parts)


def _simple_value_problem(particle: Particle, value: str, element: etree._Element) -> str | None:
    if particle.choices:
        if value in particle.choices:
            return None
        return f"expected one of {', '.join(particle.choices)}; got {value!r}"
    lexical = particle.lexical
    if lexical is Lexical.LANGUAGE and element.text is None and len(element) == 0:
        return None  # an empty <language/> takes the schema default, en-US
    problem: str | None = None
    if lexical is Lexical.CAP_DATETIME:
        problem = cap_datetime_problem(value)
    elif lexical is Lexical.XS_DATETIME:
        problem = xs_datetime_problem(value, leading_whitespace_ok=False)
    elif lexical is Lexical.LANGUAGE:
        problem = xs_language_problem(value)
    elif lexical is Lexical.ANY_URI:
        problem = xs_any_uri_problem(value)
    elif lexical is Lexical.INTEGER:
        problem = xs_integer_problem(value)
    elif lexical is Lexical.DECIMAL:
        problem = xs_decimal_problem(value)
    return None if problem is None else f"{value!r} {problem}"


def _out_of_order(placed: list[_Placed]) -> list[tuple[_Placed, str]]:
    """Find the fewest elements whose removal leaves the rest in schema order.

    Those are the ones we name as out of order (the complement of a longest
    non-decreasing subsequence of schema positions), each with the nearest
    neighbour it should have been placed against.
    """
    tails: list[int] = []  # tails[k]: smallest last position of a kept run of length k+1
    tail_index: list[int] = []
    previous: list[int] = [-1] * len(placed)
    for index, item in enumerate(placed):
        slot = bisect.bisect_right(tails, item.position)
        previous[index] = tail_index[slot - 1] if slot else -1
        if slot == len(tails):
            tails.append(item.position)
            tail_index.append(index)
        else:
            tails[slot] = item.position
            tail_index[slot] = index
    kept: set[int] = set()
    cursor = tail_index[-1] if tail_index else -1
    while cursor != -1:
        kept.add(cursor)
        cursor = previous[cursor]
    deviations: list[tuple[_Placed, str]] = []
    for index, item in enumerate(placed):
        if index in kept:
            continue
        before = next((p for p in reversed(placed[:index]) if p.position > item.position), None)
        if before is not None:
            deviations.append((item, f"it must come before <{before.name}>"))
        else:
            after = next(p for p in placed[index + 1 :] if p.position < item.position)
            deviations.append((item, f"it must come after <{after.name}>"))
    return deviations


class _Walker:
    def __init__(self, version: CapVersion, namespace: str) -> None:
        self.version = version
        self.namespace = namespace
        self.report = StructureReport()

    def error(self, path: str, message: str) -> None:
        self.report.errors.append(Issue(path, message))

    def lenient(self, path: str, message: str, reading: str) -> None:
        self.report.lenient_readings.append(Issue(path, f"{message}; {LENIENT_MARK}: {reading}"))

    def check_attributes(self, element: etree._Element, path: str, name: str) -> None:
        for attribute in element.attrib:
            qname = etree.QName(attribute)
            if qname.namespace == XSI_NAMESPACE and qname.localname in _TOLERATED_XSI_ATTRIBUTES:
                continue
            shown = f"xsi:{qname.localname}" if qname.namespace == XSI_NAMESPACE else attribute
            self.error(
                f"{path}/@{qname.localname}", f"attribute {shown!r} is not allowed on <{name}>"
            )

    def walk(self, element: etree._Element, particle: Particle, path: str) -> None:
        self.check_attributes(element, path, particle.name)
        if particle.lexical is None:
            self.walk_complex(element, particle, path)
            return
        for child in element:
            if isinstance(child.tag, str):
                self.error(
                    path,
                    f"<{particle.name}> must contain text only; found element "
                    f"<{etree.QName(child).localname}>",
                )
                return
        problem = _simple_value_problem(particle, text_content(element), element)
        if problem is not None:
            self.error(path, problem)

    def walk_complex(self, element: etree._Element, particle: Particle, path: str) -> None:
        stray_text = text_content(element).strip(" \t\r\n")
        if stray_text:
            self.error(
                path, f"text {stray_text[:40]!r} is not allowed directly inside <{particle.name}>"
            )
        positions = {child.name: index for index, child in enumerate(particle.children)}
        counts: Counter[str] = Counter()
        placed: list[_Placed] = []
        for child in element:
            if not isinstance(child.tag, str):
                continue  # comments and processing instructions are allowed anywhere
            qname = etree.QName(child)
            name = qname.localname
            if qname.namespace == self.namespace and name in positions:
                child_particle = particle.children[positions[name]]
                counts[name] += 1
                child_path = f"{path}/{name}"
                if child_particle.repeats:
                    child_path += f"[{counts[name]}]"
                placed.append(_Placed(positions[name], name, child_path))
                self.walk(child, child_particle, child_path)
            elif particle.name == "alert" and qname.namespace == XMLDSIG_NAMESPACE:
                # The schema's trailing xs:any (lax) admits XML-DSig elements after <info>.
                counts[f"ds:{name}"] += 1
                ds_path = f"{path}/ds:{name}[{counts[f'ds:{name}']}]"
                placed.append(_Placed(len(particle.children), f"ds:{name}", ds_path))
            else:
                # Unknown elements carry nothing CAP defines; the alert reads the same without them.
                self.lenient(f"{path}/{name}", self.unexpected_message(qname, particle), "ignored")
        self.check_counts(particle, counts, path)
        for item, hint in _out_of_order(placed):
            self.report.order_deviations.append(
                Issue(item.path, f"<{item.name}> is out of schema order: {hint}")
            )

    def unexpected_message(self, qname: etree.QName, particle: Particle) -> str:
        allowed = ", ".join(child.name for child in particle.children)
        if qname.namespace != self.namespace:
            where = f"namespace {qname.namespace!r}" if qname.namespace else "no namespace"
            return (
                f"unexpected element <{qname.localname}> in {where}; <{particle.name}> may "
                f"contain only CAP {self.version} elements: {allowed}"
            )
        return (
            f"unexpected element <{qname.localname}>; <{particle.name}> may contain only {allowed}"
        )

    def check_counts(self, particle: Particle, counts: Counter[str], path: str) -> None:
        in_info = particle.name == "info"
        for child in particle.children:
            count = counts[child.name]
            child_path = f"{path}/{child.name}"
            if count < child.min_occurs:
                message = f"required element <{child.name}> is missing"
                if in_info and _defaulted_when_missing(child.name, counts):
                    reading = f"read as {DEFAULTED_INFO_ELEMENTS[child.name]!r}"
                    self.lenient(child_path, message, reading)
                else:
                    self.error(child_path, message)
            elif child.max_occurs != UNBOUNDED and count > child.max_occurs:
                message = f"<{child.name}> appears {count} times; it may appear at most once"
                if in_info and child.name in JOINED_INFO_ELEMENTS:
                    self.lenient(child_path, message, "the texts are joined")
                else:
                    self.error(child_path, message)


def check_structure(root: etree._Element, version: CapVersion, namespace: str) -> StructureReport:
    """Check ``root`` (a CAP ``alert``) against the schema of ``version``.

    Returns every schema violation as an error, except two kinds the caller
    decides about: elements that are valid but out of the schema's sequence
    order (``order_deviations``), and the closed list of deviations with an
    unambiguous reading (``lenient_readings``: a missing category, urgency,
    severity or certainty; a repeated headline, description or instruction;
    an unknown element).
    """
    walker = _Walker(version, namespace)
    walker.walk(root, ALERT_SCHEMAS[version], "/alert")
    return walker.report
