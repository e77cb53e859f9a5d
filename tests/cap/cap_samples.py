"""Small, readable CAP documents for tests, built from one template.

Each test changes only what it is about, so the rest of the alert stays
valid and a failure points at the change.
"""

from __future__ import annotations

CAP12 = "urn:oasis:names:tc:emergency:cap:1.2"
CAP11 = "urn:oasis:names:tc:emergency:cap:1.1"

_AREA = """
    <area>
      <areaDesc>Harbour district</areaDesc>
      <polygon>{polygon}</polygon>
      <circle>{circle}</circle>
      <geocode><valueName>NUTS</valueName><value>FR101</value></geocode>
    </area>"""

_INFO = """
  <info>
    <language>{language}</language>
    <category>Met</category>
    <event>Storm surge</event>
    <responseType>{response_type}</responseType>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>{certainty}</certainty>
    <expires>{expires}</expires>
    <headline>Storm surge warning</headline>
    <parameter><valueName>CMAMtext</valueName><value>Leave the harbour now</value></parameter>{area}
  </info>"""

_ALERT = """<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="{namespace}">
  <identifier>{identifier}</identifier>
  <sender>{sender}</sender>
  <sent>{sent}</sent>
  <status>Actual</status>
  <msgType>{msg_type}</msgType>
  <scope>{scope}</scope>{scope_detail}{references}{info}
</alert>
"""

DEFAULTS = {
    "namespace": CAP12,
    "identifier": "TOCSIN-TEST-1",
    "sender": "warnings@example.org",
    "sent": "2026-11-22T14:00:00-05:00",
    "msg_type": "Alert",
    "scope": "Public",
    "scope_detail": "",
    "references": "",
    "language": "en-US",
    "response_type": "Evacuate",
    "certainty": "Likely",
    "expires": "2026-11-22T20:00:00-05:00",
    "polygon": "43.0,5.0 43.0,5.2 43.2,5.2 43.2,5.0 43.0,5.0",
    "circle": "43.1,5.1 2.5",
}


def alert_xml(*, with_info: bool = True, with_area: bool = True, **fields: str) -> bytes:
    """A valid CAP 1.2 alert, with ``fields`` replacing the template's values."""
    values = {**DEFAULTS, **fields}
    area = _AREA.format(**values) if with_area else ""
    info = _INFO.format(area=area, **values) if with_info else ""
    return _ALERT.format(info=info, **values).encode("utf-8")


def replace_once(document: bytes, old: str, new: str) -> bytes:
    """Replace exactly one occurrence of ``old``; fail loudly if it is not there."""
    if document.count(old.encode()) != 1:
        raise AssertionError(f"{old!r} occurs {document.count(old.encode())} times")
    return document.replace(old.encode(), new.encode())
