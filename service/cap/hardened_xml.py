"""Parsing untrusted XML without letting it reach anything but its own bytes.

CAP arrives from the network, so the parser is locked down: no DTD is
loaded or validated, no entity is expanded, nothing is fetched, XInclude is
never processed, and libxml2's limits for huge documents stay on. On top of
the parser flags we refuse any document that declares a DOCTYPE at all (even
an innocent one: CAP never needs it, and the internal subset is where entity
attacks live) or that contains an XInclude element.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from service.cap.model import RejectionKind

DEFAULT_MAX_BYTES = 5_000_000
_XINCLUDE_NAMESPACES = frozenset(
    {"http://www.w3.org/2001/XInclude", "http://www.w3.org/2003/XInclude"}
)


class XmlRejected(Exception):
    """The bytes cannot be accepted as XML; ``kind`` says why (for the API)."""

    def __init__(self, kind: RejectionKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class _RefuseEveryResolution(etree.Resolver):
    """A resolver that never resolves: any attempt to load a URL is hostile.

    The parser flags already forbid DTD loading and network access; this is
    a second lock so that a libxml2 code path we did not think of still
    cannot read a file or open a socket.
    """

    def resolve(self, system_url: str, public_id: str, context: Any = None) -> Any:
        raise XmlRejected(
            RejectionKind.HOSTILE,
            f"the document tried to load an external resource ({system_url!r}); refused",
        )


def _locked_down_parser() -> etree.XMLParser:
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        dtd_validation=False,
        load_dtd=False,
        huge_tree=False,
        attribute_defaults=False,
        remove_blank_text=False,  # signatures cover whitespace: keep the tree faithful
        recover=False,
    )
    parser.resolvers.add(_RefuseEveryResolution())
    return parser


def _reject_doctype(tree: etree._ElementTree) -> None:
    docinfo = tree.docinfo
    # Any DOCTYPE, even one without a subset, leaves an internalDTD node.
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None or docinfo.system_url:
        raise XmlRejected(
            RejectionKind.HOSTILE,
            "the document has a DOCTYPE declaration; CAP needs none and DTDs are refused "
            "(they carry entity-expansion and external-entity attacks)",
        )


def _reject_xinclude_and_entities(root: etree._Element) -> None:
    for node in root.iter():
        if isinstance(node, etree._Entity):
            raise XmlRejected(RejectionKind.HOSTILE, f"entity reference {node.text} is not allowed")
        if isinstance(node.tag, str) and etree.QName(node).namespace in _XINCLUDE_NAMESPACES:
            raise XmlRejected(RejectionKind.HOSTILE, "XInclude elements are not allowed")


def _mentions_doctype(data: bytes) -> bool:
    """Whether the bytes contain a DOCTYPE keyword in UTF-8/Latin-1 or UTF-16."""
    keyword = "<!DOCTYPE"
    return any(keyword.encode(codec) in data for codec in ("ascii", "utf-16-le", "utf-16-be"))


def parse_untrusted(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._ElementTree:
    """Parse ``data`` as a standalone XML document, refusing anything hostile.

    The declared encoding (or byte-order mark) is honoured, so ISO-8859-1
    and UTF-16 documents parse like UTF-8 ones.

    Raises:
        XmlRejected: TOO_LARGE above ``max_bytes``; NOT_XML when the bytes are
            not well-formed XML; HOSTILE for a DOCTYPE, an entity reference,
            an XInclude element or an attempt to load an external resource.
    """
    if len(data) > max_bytes:
        raise XmlRejected(
            RejectionKind.TOO_LARGE,
            f"the document is {len(data):,} bytes; the limit is {max_bytes:,} bytes",
        )
    try:
        tree = etree.fromstring(data, parser=_locked_down_parser()).getroottree()
    except XmlRejected:
        raise
    except etree.XMLSyntaxError as error:
        if _mentions_doctype(data):
            # libxml2 gave up inside the DTD (entity amplification, a loop):
            # that is an attack, not a typo.
            raise XmlRejected(
                RejectionKind.HOSTILE, f"the document has a DOCTYPE declaration and fails: {error}"
            ) from error
        raise XmlRejected(RejectionKind.NOT_XML, f"not well-formed XML: {error}") from error
    except ValueError as error:  # e.g. an unknown declared encoding
        raise XmlRejected(RejectionKind.NOT_XML, f"cannot read the document: {error}") from error
    _reject_doctype(tree)
    _reject_xinclude_and_entities(tree.getroot())
    return tree
