"""Small, valid CAP 1.2 documents for API tests."""

from __future__ import annotations

SENDER = "test@tocsin.dev"


def cap_alert(
    identifier: str,
    *,
    sender: str = SENDER,
    sent: str = "2026-11-22T10:00:00+00:00",
    status: str = "Actual",
    msg_type: str = "Alert",
    references: str | None = None,
    headline: str = "Flood warning",
    polygon: str = "-1.2,36.8 -1.2,36.9 -1.3,36.9 -1.3,36.8 -1.2,36.8",
    expires: str = "2026-11-23T10:00:00+00:00",
) -> bytes:
    """A CAP 1.2 alert; pass `references` for an Update or Cancel."""
    refs = f"<references>{references}</references>" if references else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>{identifier}</identifier>
  <sender>{sender}</sender>
  <sent>{sent}</sent>
  <status>{status}</status>
  <msgType>{msg_type}</msgType>
  <scope>Public</scope>
  {refs}
  <info>
    <language>en-KE</language>
    <category>Met</category>
    <event>Flood</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Observed</certainty>
    <expires>{expires}</expires>
    <headline>{headline}</headline>
    <instruction>Move to higher ground now.</instruction>
    <area>
      <areaDesc>Nairobi river basin</areaDesc>
      <polygon>{polygon}</polygon>
    </area>
  </info>
</alert>
""".encode()


def reference_to(
    identifier: str, sent: str = "2026-11-22T10:00:00+00:00", sender: str = SENDER
) -> str:
    """The `references` triple naming an alert made by `cap_alert`."""
    return f"{sender},{identifier},{sent}"
