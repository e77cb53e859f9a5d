"""Cell broadcast centre adapters: osmo-cbc (ECBE REST) and Tocsin's generic signed-JSON API.

Adapters take their typed config and an `httpx.AsyncClient`, send messages
built by `channels.cbs`, and map every failure to `TransientChannelError` or
`PermanentChannelError`.
"""

from channels.cbc.base import (
    DEFAULT_SCHEDULE,
    BroadcastSchedule,
    BroadcastTargets,
    CbcCapabilities,
    CellBroadcastCenter,
    LinkStatus,
    Submission,
)
from channels.cbc.ecbe import EcbeCbc, EcbeConfig, ecbe_message
from channels.cbc.generic import GenericCbcConfig, GenericHttpCbc
from channels.cbc.jobs import (
    CbcJob,
    CellStatus,
    InvalidSignature,
    StatusReport,
    build_jobs,
    parse_status_report,
    sign,
    sign_request,
    signed_request_headers,
    verify,
    verify_request,
)

__all__ = [
    "DEFAULT_SCHEDULE",
    "BroadcastSchedule",
    "BroadcastTargets",
    "CbcCapabilities",
    "CbcJob",
    "CellBroadcastCenter",
    "CellStatus",
    "EcbeCbc",
    "EcbeConfig",
    "GenericCbcConfig",
    "GenericHttpCbc",
    "InvalidSignature",
    "LinkStatus",
    "StatusReport",
    "Submission",
    "build_jobs",
    "ecbe_message",
    "parse_status_report",
    "sign",
    "sign_request",
    "signed_request_headers",
    "verify",
    "verify_request",
]
