"""The same segments in the shape each gateway wants them.

SMPP takes `short_message` octets with the UDH in front and the UDHI bit set
in `esm_class`; Kannel's sendsms takes text, a binary `udh` parameter and a
`coding` number and does the packing itself; the CLI shows hex.
"""

from __future__ import annotations

from dataclasses import dataclass

from channels.sms.encoding import EncodedSms, Segment, encode_sms

ESM_CLASS_UDHI = 0x40
KANNEL_CODING = {"gsm7": 0, "ucs2": 2}


@dataclass(frozen=True, slots=True)
class SmppShortMessage:
    """What goes into one submit_sm: `esm_class`, `data_coding`, `short_message`."""

    esm_class: int
    data_coding: int
    short_message: bytes


@dataclass(frozen=True, slots=True)
class KannelPart:
    """One sendsms request: the text of the segment, its UDH octets and Kannel's coding."""

    text: str
    udh: bytes
    coding: int


def smpp_short_message(
    encoded: EncodedSms, segment: Segment, *, packed_gsm7: bool = False
) -> SmppShortMessage:
    """The submit_sm fields for `segment`.

    With data_coding 0 most SMSCs expect unpacked septets (one per octet);
    `packed_gsm7` sends the packed air form instead (fill bits included) for
    the SMSCs that want that.
    """
    body = segment.payload if packed_gsm7 else segment.data
    esm_class = ESM_CLASS_UDHI if segment.udh else 0x00
    return SmppShortMessage(esm_class, encoded.data_coding, segment.udh + body)


def smpp_short_messages(
    encoded: EncodedSms, *, packed_gsm7: bool = False
) -> tuple[SmppShortMessage, ...]:
    """`smpp_short_message` for every segment, in order."""
    return tuple(
        smpp_short_message(encoded, segment, packed_gsm7=packed_gsm7)
        for segment in encoded.segments
    )


def kannel_parts(encoded: EncodedSms) -> tuple[KannelPart, ...]:
    """One sendsms request per segment.

    We split ourselves rather than letting Kannel do it so that the segment
    cap, the reference number and the per-segment delivery reports are ours.
    """
    coding = KANNEL_CODING[encoded.encoding]
    return tuple(KannelPart(segment.text, segment.udh, coding) for segment in encoded.segments)


def encode_for_cli(text: str) -> dict[str, object]:
    """The JSON shown by `tocsin sms encode --text TEXT --json`.

    Payloads are the air form (packed septets with fill bits, or UCS-2).

    Raises:
        EmptySmsError: `text` is empty.
        SegmentLimitExceeded: the text needs more than 255 segments.
    """
    encoded = encode_sms(text)
    return {
        "encoding": encoded.encoding,
        "segments": [
            {"udh": segment.udh.hex().upper(), "payload": segment.payload.hex().upper()}
            for segment in encoded.segments
        ],
        "count": encoded.count,
    }
