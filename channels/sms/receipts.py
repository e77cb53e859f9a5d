"""Delivery receipts from every SMS gateway, in one model.

Pure parsers: Kannel's dlr-url query, SMPP receipt text and TLVs, and the
generic JSON gateway's callback. Receipt text is a convention rather than a
norm (telecom.md §3.2), so the SMPP parser is lenient: it never raises on
odd dates or case and keeps the original text in `raw`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from channels.sms.wire import RECEIPT_LIST

# SMPP TLV tags that carry receipt data (SMPP 3.4 §5.3.2).
TLV_RECEIPTED_MESSAGE_ID = 0x001E
TLV_NETWORK_ERROR_CODE = 0x0423
TLV_MESSAGE_STATE = 0x0427


class ReceiptState(StrEnum):
    """Where a message (or segment) stands, as far as the gateway tells us."""

    QUEUED = "queued"
    SUBMITTED = "submitted"
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


_STATE_WORDS = {state.value: state for state in ReceiptState}
FINAL_STATES = frozenset({ReceiptState.DELIVERED, ReceiptState.FAILED, ReceiptState.EXPIRED})


class ReceiptFormatError(ValueError):
    """A receipt too broken to attribute to any message (no id, no type, bad JSON)."""


@dataclass(frozen=True, slots=True)
class DeliveryReceipt:
    """One report about one message or segment.

    At least one of `correlation_id` (ours) and `gateway_message_id` (theirs)
    is set. `raw` keeps the gateway's own words for the audit trail.
    """

    state: ReceiptState
    correlation_id: str | None = None
    gateway_message_id: str | None = None
    at: datetime | None = None
    error_code: str | None = None
    raw: str = ""
    segment: int | None = None

    @property
    def final(self) -> bool:
        """Whether no further report is expected (delivered, failed or expired)."""
        return self.state in FINAL_STATES


# --- SMPP receipt text -------------------------------------------------------

_KEY = re.compile(r"(?i)(?<![a-z])(id|sub|dlvrd|submit date|done date|stat|err|text):")
_DATE_FORMATS = {10: "%y%m%d%H%M", 12: "%y%m%d%H%M%S", 14: "%Y%m%d%H%M%S"}
_STAT_PREFIXES = (
    ("DELIV", ReceiptState.DELIVERED),
    ("EXPIR", ReceiptState.EXPIRED),
    ("UNDELIV", ReceiptState.FAILED),
    ("REJECT", ReceiptState.FAILED),
    ("DELET", ReceiptState.FAILED),
    ("ACCEPT", ReceiptState.QUEUED),
    ("ENROUTE", ReceiptState.QUEUED),
    ("BUFF", ReceiptState.QUEUED),
    ("ACK", ReceiptState.QUEUED),
)
_MESSAGE_STATES = {
    1: ReceiptState.QUEUED,  # ENROUTE
    2: ReceiptState.DELIVERED,
    3: ReceiptState.EXPIRED,
    4: ReceiptState.FAILED,  # DELETED
    5: ReceiptState.FAILED,  # UNDELIVERABLE
    6: ReceiptState.QUEUED,  # ACCEPTED
    7: ReceiptState.UNKNOWN,
    8: ReceiptState.FAILED,  # REJECTED
}


def receipt_fields(text: str) -> dict[str, str]:
    """The `key:value` fields of receipt text, keys lower-cased.

    Splits on the known keys rather than on spaces, because dates and the
    trailing `text:` may hold spaces; anything after `text:` is the text.
    """
    fields: dict[str, str] = {}
    matches = list(_KEY.finditer(text))
    for index, match in enumerate(matches):
        key = match.group(1).lower()
        if key == "text":
            fields[key] = text[match.end() :]
            break
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        fields.setdefault(key, text[match.end() : end].strip())
    return fields


def parse_receipt_date(value: str) -> datetime | None:
    """YYMMDDhhmm, YYMMDDhhmmss or YYYYMMDDhhmmss as UTC; None when it is none of them.

    SMSCs send their local time without a zone; UTC is the least wrong guess.
    """
    digits = value.strip()
    fmt = _DATE_FORMATS.get(len(digits))
    if fmt is None or not digits.isdigit():
        return None
    try:
        return datetime.strptime(digits, fmt).replace(tzinfo=UTC)
    except ValueError:
        return None


def stat_state(stat: str) -> ReceiptState:
    """Map a receipt `stat:` word (DELIVRD, EXPIRED, UNDELIV, ...) to our state."""
    word = stat.strip().upper()
    for prefix, state in _STAT_PREFIXES:
        if word.startswith(prefix):
            return state
    return ReceiptState.UNKNOWN


def _tlv_text(value: bytes) -> str:
    return value.split(b"\x00", 1)[0].decode("latin-1").strip()


def _network_error(value: bytes) -> str | None:
    """network_error_code: network type octet + 2-octet code, shown as `type/code`."""
    if len(value) != 3:
        return None
    return f"{value[0]}/{int.from_bytes(value[1:], 'big')}"


def parse_smpp_receipt(
    text: str, tlvs: Mapping[int, bytes] | None = None, *, correlation_id: str | None = None
) -> DeliveryReceipt:
    """A receipt from a deliver_sm: its short_message text and its TLVs.

    The `receipted_message_id` and `message_state` TLVs win over the text
    when present: they are normative, the text is not.

    Raises:
        ReceiptFormatError: neither the TLVs nor the text name a message id.
    """
    tlvs = tlvs or {}
    fields = receipt_fields(text)
    message_id = fields.get("id") or None
    if TLV_RECEIPTED_MESSAGE_ID in tlvs:
        message_id = _tlv_text(tlvs[TLV_RECEIPTED_MESSAGE_ID]) or message_id
    if not message_id:
        raise ReceiptFormatError(f"receipt names no message id: {text!r}")
    state = stat_state(fields.get("stat", ""))
    raw_state = tlvs.get(TLV_MESSAGE_STATE)
    if raw_state:
        state = _MESSAGE_STATES.get(raw_state[0], ReceiptState.UNKNOWN)
    error = fields.get("err") or None
    if error is None and TLV_NETWORK_ERROR_CODE in tlvs:
        error = _network_error(tlvs[TLV_NETWORK_ERROR_CODE])
    return DeliveryReceipt(
        state=state,
        correlation_id=correlation_id,
        gateway_message_id=message_id,
        at=parse_receipt_date(fields.get("done date", "")),
        error_code=error,
        raw=text,
    )


# --- Kannel dlr-url ----------------------------------------------------------

_KANNEL_TYPES = (
    (1, ReceiptState.DELIVERED),
    (2, ReceiptState.FAILED),
    (16, ReceiptState.FAILED),
    (8, ReceiptState.SUBMITTED),
    (4, ReceiptState.QUEUED),
)
KANNEL_SECRET_PARAM = "secret"  # noqa: S105  (a query parameter name, not a secret)


def _kannel_type(params: Mapping[str, str]) -> int:
    try:
        return int(params.get("type", ""))
    except ValueError:
        raise ReceiptFormatError(f"Kannel DLR without a numeric type: {params!r}") from None


def _kannel_time(value: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _kannel_state(dlr_type: int, reply_fields: Mapping[str, str]) -> ReceiptState:
    """The DLR type decides; the SMPP `stat:` in %A refines a failure (EXPIRED)."""
    state = next((s for bit, s in _KANNEL_TYPES if dlr_type & bit), ReceiptState.UNKNOWN)
    if state == ReceiptState.FAILED and stat_state(reply_fields.get("stat", "")) == (
        ReceiptState.EXPIRED
    ):
        return ReceiptState.EXPIRED
    return state


def parse_kannel_dlr(params: Mapping[str, str]) -> DeliveryReceipt:
    """A receipt from the query of our dlr-url (`cid`, `seg`, `type`, `smsc_reply`, `ts`, `msgid`).

    Checking `secret` is the caller's job (`KannelGateway.verify_dlr_secret`);
    it is left out of `raw` so stored receipts do not carry it.

    Raises:
        ReceiptFormatError: `type` is missing or not a number, or there is no id at all.
    """
    dlr_type = _kannel_type(params)
    reply = params.get("smsc_reply", "")
    reply_fields = receipt_fields(reply)
    correlation_id = params.get("cid") or None
    message_id = params.get("msgid") or None
    if correlation_id is None and message_id is None:
        raise ReceiptFormatError("Kannel DLR carries neither cid nor msgid")
    segment = params.get("seg", "")
    return DeliveryReceipt(
        state=_kannel_state(dlr_type, reply_fields),
        correlation_id=correlation_id,
        gateway_message_id=message_id,
        at=_kannel_time(params.get("ts", "")),
        error_code=reply_fields.get("err") or None,
        raw="&".join(f"{k}={v}" for k, v in params.items() if k != KANNEL_SECRET_PARAM),
        segment=int(segment) if segment.isdigit() else None,
    )


# --- generic JSON gateway ----------------------------------------------------


def parse_http_receipts(body: bytes | str) -> list[DeliveryReceipt]:
    """Receipts from the JSON gateway's callback body (a JSON list, see docs/sms.md).

    Unknown state words become `unknown` rather than an error: a gateway
    adding a state must not make us drop the whole batch.

    Raises:
        ReceiptFormatError: the body is not a JSON list of receipt objects, or
            an entry has neither correlation_id nor gateway_message_id.
    """
    try:
        items = RECEIPT_LIST.validate_json(body)
    except ValueError as exc:
        raise ReceiptFormatError(f"invalid receipt callback body: {exc}") from None
    receipts = []
    for item in items:
        if not item.correlation_id and not item.gateway_message_id:
            raise ReceiptFormatError("receipt entry without correlation_id or gateway_message_id")
        receipts.append(
            DeliveryReceipt(
                state=_STATE_WORDS.get(item.state.lower(), ReceiptState.UNKNOWN),
                correlation_id=item.correlation_id,
                gateway_message_id=item.gateway_message_id,
                at=item.at,
                error_code=item.error_code,
                raw=item.raw,
            )
        )
    return receipts
