"""SMS for Tocsin: encoding and segmentation, texts, receipts, and gateway adapters.

Pure library code (see docs/sms.md): adapters take typed config and, for
HTTP gateways, a shared `httpx.AsyncClient`; every failure is a
`TransientChannelError` or a `PermanentChannelError`.
"""

from channels.sms.encoding import (
    MAX_SEGMENTS,
    EmptySmsError,
    EncodedSms,
    Encoding,
    Segment,
    SegmentLimitExceeded,
    choose_encoding,
    count_segments,
    encode_sms,
    measure_sms,
    reference_for,
)
from channels.sms.forms import (
    KannelPart,
    SmppShortMessage,
    encode_for_cli,
    kannel_parts,
    smpp_short_message,
    smpp_short_messages,
)
from channels.sms.gateway import (
    InvalidNumber,
    LinkStatus,
    OutboundSms,
    OutcomeUnknown,
    ReceiptHandler,
    SmsGateway,
    SubmitResult,
    normalize_msisdn,
)
from channels.sms.http_json import HttpJsonConfig, HttpJsonGateway
from channels.sms.kannel import (
    KannelConfig,
    KannelGateway,
    ReceiptSecretMismatch,
    parse_verified_kannel_dlr,
)
from channels.sms.location import LocationSms
from channels.sms.receipts import (
    DeliveryReceipt,
    ReceiptFormatError,
    ReceiptState,
    parse_http_receipts,
    parse_kannel_dlr,
    parse_smpp_receipt,
)
from channels.sms.smpp.gateway import SmppConfig, SmppGateway
from channels.sms.text import compose_sms_text, fit_text

__all__ = [
    "MAX_SEGMENTS",
    "DeliveryReceipt",
    "EmptySmsError",
    "EncodedSms",
    "Encoding",
    "HttpJsonConfig",
    "HttpJsonGateway",
    "InvalidNumber",
    "KannelConfig",
    "KannelGateway",
    "KannelPart",
    "LinkStatus",
    "LocationSms",
    "OutboundSms",
    "OutcomeUnknown",
    "ReceiptFormatError",
    "ReceiptHandler",
    "ReceiptSecretMismatch",
    "ReceiptState",
    "Segment",
    "SegmentLimitExceeded",
    "SmppConfig",
    "SmppGateway",
    "SmppShortMessage",
    "SmsGateway",
    "SubmitResult",
    "choose_encoding",
    "compose_sms_text",
    "count_segments",
    "encode_for_cli",
    "encode_sms",
    "fit_text",
    "kannel_parts",
    "measure_sms",
    "normalize_msisdn",
    "parse_http_receipts",
    "parse_kannel_dlr",
    "parse_smpp_receipt",
    "parse_verified_kannel_dlr",
    "reference_for",
    "smpp_short_message",
    "smpp_short_messages",
]
