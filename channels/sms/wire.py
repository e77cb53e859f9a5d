"""JSON bodies of the generic HTTP gateway API (documented in docs/sms.md).

One definition for both sides, the adapter that sends and the simulator
that answers, so the two cannot drift apart. Field names are the wire names.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)


class WireMessage(_Wire):
    """One SMS in a batch. `segments` is our count, so the gateway can check its own."""

    correlation_id: str
    to: str
    sender: str | None = Field(default=None, alias="from")
    text: str
    encoding: Literal["gsm7", "ucs2"]
    segments: int
    callback_url: str | None = None
    expires_at: datetime | None = None


class MessageBatch(_Wire):
    """POST /v1/messages body."""

    messages: list[WireMessage]


# WireError.code for a recipient the gateway will never reach (maps to InvalidNumber).
INVALID_NUMBER_CODE = "invalid_number"


class WireError(_Wire):
    """Why the gateway refused one message; `permanent` says whether a retry can help."""

    code: str
    message: str = ""
    permanent: bool = True


class WireResult(_Wire):
    """The gateway's answer for one message of a batch, matched by correlation_id."""

    correlation_id: str
    status: Literal["accepted", "rejected"]
    gateway_message_id: str | None = None
    error: WireError | None = None


class BatchResponse(_Wire):
    """POST /v1/messages answer (200 or 202)."""

    results: list[WireResult]


class WireReceipt(_Wire):
    """One entry of a receipt callback (a JSON list of these)."""

    correlation_id: str | None = None
    gateway_message_id: str | None = None
    state: str
    at: datetime | None = None
    error_code: str | None = None
    raw: str = ""


RECEIPT_LIST: TypeAdapter[list[WireReceipt]] = TypeAdapter(list[WireReceipt])


class LocationJob(_Wire):
    """POST /v1/location-jobs body: operator-side location-based SMS for one alert.

    The operator sends `texts[lang]` to every handset in `cells` (choosing the
    language by the handset's settings, falling back to `default_language`)
    until `expires_at`.
    """

    correlation_id: str
    alert_ref: str
    operator: str
    cells: list[str]
    texts: dict[str, str]
    default_language: str
    expires_at: datetime
    sender: str | None = Field(default=None, alias="from")
    callback_url: str | None = None


class LocationJobAccepted(_Wire):
    """POST /v1/location-jobs answer (201 or 202)."""

    job_id: str
    status: Literal["accepted"] = "accepted"
