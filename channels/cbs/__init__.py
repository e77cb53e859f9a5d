"""Cell broadcast encoding: pure functions from alert facts and text to CBS octets.

Nothing here does I/O. The independent decoders (`decoder`, `wac_decoder`)
are exported separately on purpose: they exist to check the encoders.
"""

from channels.cbs.dcs import Alphabet, DataCoding, choose_coding, normalize_language
from channels.cbs.etws import EtwsWarning, EtwsWarningType, primary_notification
from channels.cbs.facts import (
    DRILL_IDENTIFIERS,
    AlertFacts,
    MessageIdentifier,
    NotBroadcastable,
    Purpose,
    UnsafeIdentifierError,
    additional_language,
)
from channels.cbs.framing import cb_data, gsm_page, gsm_pages, page_parameter
from channels.cbs.identifiers import Classification, classify, purpose_of
from channels.cbs.message import CbsMessage, build_message
from channels.cbs.pages import (
    MAX_PAGES,
    CbsPage,
    EncodedText,
    TooManyPagesError,
    encode_text,
    fit_text,
    page_count,
    shown_text,
)
from channels.cbs.profiles import (
    CmasProfile,
    CustomProfile,
    EtwsRules,
    EuAlertProfile,
    IdentifierProfile,
    IdentifierRule,
)
from channels.cbs.serial import GeoScope, MessageCodesExhausted, SerialNumber, next_message_code
from channels.cbs.text import InfoText, additional_languages, broadcast_text
from channels.cbs.wac import WarningArea, encode_warning_area, simplify_outward

__all__ = [
    "DRILL_IDENTIFIERS",
    "MAX_PAGES",
    "AlertFacts",
    "Alphabet",
    "CbsMessage",
    "CbsPage",
    "Classification",
    "CmasProfile",
    "CustomProfile",
    "DataCoding",
    "EncodedText",
    "EtwsRules",
    "EtwsWarning",
    "EtwsWarningType",
    "EuAlertProfile",
    "GeoScope",
    "IdentifierProfile",
    "IdentifierRule",
    "InfoText",
    "MessageCodesExhausted",
    "MessageIdentifier",
    "NotBroadcastable",
    "Purpose",
    "SerialNumber",
    "TooManyPagesError",
    "UnsafeIdentifierError",
    "WarningArea",
    "additional_language",
    "additional_languages",
    "broadcast_text",
    "build_message",
    "cb_data",
    "choose_coding",
    "classify",
    "encode_text",
    "encode_warning_area",
    "fit_text",
    "gsm_page",
    "gsm_pages",
    "next_message_code",
    "normalize_language",
    "page_count",
    "page_parameter",
    "primary_notification",
    "purpose_of",
    "shown_text",
    "simplify_outward",
]
