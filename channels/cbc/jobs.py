"""Tocsin's own CBC job format (docs/operators.md): the JSON, its signature, the status report.

Operators whose CBC gateway takes JSON over HTTP implement this one format
instead of Tocsin learning each vendor's. Both directions are signed with
HMAC-SHA256 and a shared secret, so both sides can reject forged or replayed
messages with nothing else:

* requests from Tocsin to the CBC sign timestamp, method, request target (path
  and query as sent), Idempotency-Key and body, one per line
  (`canonical_request`): a captured bodiless signature (a link test, a DELETE
  of one job) cannot be replayed as a DELETE of another job;
* status callbacks from the CBC sign "<timestamp>." + body. The body names
  the job, its serial number and every cell, so it needs nothing more, and
  Tocsin's public path may be rewritten by a proxy in front of it. The two
  strings never coincide (a request's timestamp is followed by a newline, a
  callback's by a dot), so neither signature validates as the other.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from channels.cbc.base import BroadcastSchedule, BroadcastTargets
from channels.cbs.message import CbsMessage

SIGNATURE_HEADER = "X-Tocsin-Signature"
TIMESTAMP_HEADER = "X-Tocsin-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
DEFAULT_TOLERANCE_S = 300
MAX_CELLS_PER_JOB = 65535

PageHex = Annotated[str, StringConstraints(pattern=r"^[0-9A-Fa-f]{164}$")]
Hex = Annotated[str, StringConstraints(pattern=r"^([0-9A-Fa-f]{2})+$")]


class InvalidSignature(Exception):
    """Missing, malformed, stale or wrong signature: the request must be rejected."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class JobPart(_Frozen):
    """Which request of a split job this is (cell lists over 65,535 are split)."""

    index: Annotated[int, Field(ge=1)]
    count: Annotated[int, Field(ge=1)]
    group_key: str


class EtwsFields(_Frozen):
    """ETWS primary-notification fields (TS 23.041 §9.3.24)."""

    warning_type: Annotated[int, Field(ge=0, le=127)]
    emergency_user_alert: bool
    popup: bool


class CbcJob(_Frozen):
    """One job: a complete message for a set of cells (or areas, or the whole network)."""

    key: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    message_identifier: Annotated[int, Field(ge=0, le=0xFFFF)]
    serial_number: Annotated[int, Field(ge=0, le=0xFFFF)]
    dcs: Annotated[int, Field(ge=0, le=0xFF)]
    language: str | None = None
    purpose: Literal["public", "exercise", "test"]
    pages: Annotated[list[PageHex], Field(min_length=1, max_length=15)]
    page_lengths: Annotated[list[Annotated[int, Field(ge=0, le=82)]], Field(max_length=15)]
    etws: EtwsFields | None = None
    cells: Annotated[list[str], Field(max_length=MAX_CELLS_PER_JOB)] = []
    tracking_areas: list[str] = []
    warning_area_coordinates: Hex | None = None
    repetition_period_s: Annotated[int, Field(ge=0, le=131071)]
    num_broadcasts: Annotated[int, Field(ge=0, le=65535)]
    expires_at: datetime | None = None
    callback_url: str | None = None
    part: JobPart


CellState = Literal["acknowledged", "broadcasting", "failed", "stopped"]


class CellStatus(_Frozen):
    """What one cell (or area, for area-targeted jobs) is doing with the job."""

    cell_id: str
    status: CellState
    at: datetime
    detail: str | None = None


class StatusReport(_Frozen):
    """The body of a status callback from the CBC to Tocsin."""

    key: str
    message_identifier: Annotated[int, Field(ge=0, le=0xFFFF)]
    serial_number: Annotated[int, Field(ge=0, le=0xFFFF)]
    statuses: Annotated[list[CellStatus], Field(min_length=1)]


def build_jobs(
    message: CbsMessage,
    targets: BroadcastTargets,
    schedule: BroadcastSchedule,
    *,
    key: str,
    callback_url: str | None,
    max_cells: int = MAX_CELLS_PER_JOB,
) -> list[CbcJob]:
    """The job(s) for one submission: one per `max_cells` cells, keyed `key`, `key-2`, ...

    Tracking areas travel with the first job only (they are targets: sending
    them twice would target them twice). The warning area coordinates travel
    with EVERY job: each part is broadcast on its own cells, and a phone in a
    part-2 cell must geofence exactly like one in a part-1 cell.

    Raises:
        ValueError: `max_cells` is outside 1..65535.
    """
    if not 1 <= max_cells <= MAX_CELLS_PER_JOB:
        raise ValueError(f"max_cells must be within 1..{MAX_CELLS_PER_JOB}")
    chunks = [targets.cells[i : i + max_cells] for i in range(0, len(targets.cells), max_cells)]
    chunks = chunks or [()]
    etws = None
    if message.etws is not None:
        warning = message.etws
        etws = EtwsFields(
            warning_type=int(warning.warning_type),
            emergency_user_alert=warning.emergency_user_alert,
            popup=warning.popup,
        )
    jobs = []
    for index, cells in enumerate(chunks, start=1):
        first = index == 1
        wac = targets.warning_area.hex().upper() if targets.warning_area else None
        jobs.append(
            CbcJob(
                key=part_key(key, index),
                message_identifier=message.message_identifier,
                serial_number=message.serial_number.encode(),
                dcs=message.dcs,
                language=message.coding.language,
                purpose=message.purpose.value,
                pages=[page.content.hex().upper() for page in message.pages],
                page_lengths=[page.useful_length for page in message.pages],
                etws=etws,
                cells=list(cells),
                tracking_areas=list(targets.tracking_areas) if first else [],
                warning_area_coordinates=wac,
                repetition_period_s=schedule.repetition_period_s,
                num_broadcasts=schedule.num_broadcasts,
                expires_at=schedule.expires_at,
                callback_url=callback_url,
                part=JobPart(index=index, count=len(chunks), group_key=key),
            )
        )
    return jobs


def part_key(key: str, index: int) -> str:
    """The job key of part `index`: the submission key itself for the first part."""
    return key if index == 1 else f"{key}-{index}"


def canonical_request(
    method: str, target: str, timestamp: int, key: str | None, body: bytes
) -> bytes:
    """What a request's signature covers: timestamp, METHOD, target, key, then the body.

    `target` is the request target as sent on the wire: the path (percent-encoded
    as sent, base URL path included) and, if there is one, "?" and the query.
    A request without an Idempotency-Key signs an empty key line.
    """
    head = f"{timestamp}\n{method.upper()}\n{target}\n{key or ''}\n"
    return head.encode() + body


def sign_request(
    secret: str, timestamp: int, body: bytes, *, method: str, target: str, key: str | None
) -> str:
    """The signature header value of a request: "sha256=" + hex HMAC of `canonical_request`."""
    message = canonical_request(method, target, timestamp, key, body)
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_request_headers(
    secret: str, timestamp: int, body: bytes, *, method: str, target: str, key: str | None
) -> dict[str, str]:
    """Content type, timestamp, Idempotency-Key (when given) and signature of a request."""
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign_request(
            secret, timestamp, body, method=method, target=target, key=key
        ),
    }
    if key is not None:
        headers[IDEMPOTENCY_HEADER] = key
    return headers


def verify_request(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    method: str,
    target: str,
    now: float,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> None:
    """Check the signature of a request to a CBC (what a gateway does; the simulator does it).

    The key signed is the request's own Idempotency-Key header (absent: empty).

    Raises:
        InvalidSignature: a header is missing or malformed, the timestamp is
            more than `tolerance_s` from `now`, or the MAC does not match
            the method, target, key and body.
    """
    timestamp = _fresh_timestamp(headers, now, tolerance_s)
    expected = sign_request(
        secret,
        timestamp,
        body,
        method=method,
        target=target,
        key=headers.get(IDEMPOTENCY_HEADER),
    )
    if not hmac.compare_digest(expected, headers.get(SIGNATURE_HEADER, "")):
        raise InvalidSignature("signature does not match the method, target, key and body")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """A status callback's signature: "sha256=" + hex HMAC-SHA256 of "<timestamp>." + body."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signed_headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Content type, timestamp and signature headers of a status callback."""
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> None:
    """Check the signature headers of a status callback (constant-time compare).

    `headers` must be case-insensitive (httpx, Starlette) or use the exact
    header names.

    Raises:
        InvalidSignature: a header is missing or malformed, the timestamp is
            more than `tolerance_s` from `now`, or the MAC does not match.
    """
    timestamp = _fresh_timestamp(headers, now, tolerance_s)
    if not hmac.compare_digest(sign(secret, timestamp, body), headers.get(SIGNATURE_HEADER, "")):
        raise InvalidSignature("signature does not match the body")


def _fresh_timestamp(headers: Mapping[str, str], now: float, tolerance_s: float) -> int:
    timestamp, signature = headers.get(TIMESTAMP_HEADER), headers.get(SIGNATURE_HEADER)
    if not timestamp or not signature or not timestamp.isdigit():
        raise InvalidSignature(f"{TIMESTAMP_HEADER} and {SIGNATURE_HEADER} are required")
    if abs(now - int(timestamp)) > tolerance_s:
        raise InvalidSignature(f"timestamp {timestamp} is more than {tolerance_s:g} s from now")
    return int(timestamp)


def parse_status_report(
    secret: str, headers: Mapping[str, str], body: bytes, *, now: float
) -> StatusReport:
    """Verify and parse a status callback from a CBC.

    Raises:
        InvalidSignature: see `verify`.
        pydantic.ValidationError: the body is not JSON or not a valid `StatusReport`.
    """
    verify(secret, headers, body, now=now)
    return StatusReport.model_validate_json(body)
