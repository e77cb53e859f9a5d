"""Kannel adapter: smsbox's HTTP `sendsms`, delivery reports through our dlr-url.

One GET per segment: we segment ourselves (our UDH, our reference, our cap)
and Kannel packs and routes. The dlr-url carries our correlation id, the
segment number and a secret derived from the correlation id, so the receipt
endpoint can attribute and authenticate every report (docs/sms.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Literal
from urllib.parse import quote, urlencode

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from channels.errors import ChannelError, TransientChannelError
from channels.sms.encoding import encode_sms, reference_for
from channels.sms.forms import KannelPart, kannel_parts
from channels.sms.gateway import (
    LinkStatus,
    OutboundSms,
    OutcomeUnknown,
    SubmitResult,
    normalize_msisdn,
    submit_each,
)
from channels.sms.http_errors import status_error, transport_error
from channels.sms.limits import RateLimiter
from channels.sms.receipts import (
    KANNEL_SECRET_PARAM,
    DeliveryReceipt,
    ReceiptFormatError,
    ReceiptState,
    parse_kannel_dlr,
)
from channels.sms.signing import dlr_secret, verify_dlr_secret

# Kannel fills these in when it calls the dlr-url back (telecom.md §3.3).
DLR_ESCAPES = "type=%d&smsc_reply=%A&ts=%T&msgid=%F"
DEFAULT_DLR_MASK = 1 | 2 | 8 | 16


class KannelConfig(BaseModel):
    """One Kannel smsbox. `receipt_base_url` + `receipt_path` is where Kannel reports back."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    sendsms_url: str
    username: str
    password: SecretStr
    sender: str | None = None
    smsc: str | None = None
    receipt_base_url: str
    receipt_path: str = "/api/v1/receipts/kannel/{gateway}"
    dlr_key: SecretStr
    dlr_mask: int = Field(default=DEFAULT_DLR_MASK, ge=0, le=63)
    validity_minutes: int | None = Field(default=None, gt=0)
    rate_per_second: float | None = Field(default=50.0, gt=0)
    burst: int = Field(default=10, ge=1)
    max_in_flight: int = Field(default=20, ge=1)
    max_segments: int = Field(default=4, ge=1, le=255)
    reference_bits: Literal[8, 16] = 8
    timeout_seconds: float = Field(default=10.0, gt=0)
    status_url: str | None = None
    status_password: SecretStr | None = None


class ReceiptSecretMismatch(ReceiptFormatError):
    """A dlr-url call whose secret does not match its cid: not from our Kannel."""


def parse_verified_kannel_dlr(config: KannelConfig, params: Mapping[str, str]) -> DeliveryReceipt:
    """Check the dlr-url secret against the cid, then parse the report.

    Raises:
        ReceiptSecretMismatch: missing cid or secret, or the secret is wrong.
        ReceiptFormatError: the report cannot be parsed.
    """
    cid, secret = params.get("cid", ""), params.get(KANNEL_SECRET_PARAM, "")
    key = config.dlr_key.get_secret_value().encode()
    if not cid or not secret or not verify_dlr_secret(key, cid, secret):
        raise ReceiptSecretMismatch("Kannel DLR with a missing or wrong secret")
    return parse_kannel_dlr(params)


class KannelGateway:
    """`SmsGateway` over Kannel's sendsms. Shares `client` with the rest of the process."""

    deduplicates = False  # sendsms has no idempotency key: never resend an unknown outcome

    def __init__(self, config: KannelConfig, client: httpx.AsyncClient) -> None:
        self._config = config
        self._client = client
        self._limiter = RateLimiter(config.rate_per_second, burst=config.burst)
        self._in_flight = asyncio.Semaphore(config.max_in_flight)
        self._key = config.dlr_key.get_secret_value().encode()

    @property
    def name(self) -> str:
        return self._config.name

    def dlr_url(self, correlation_id: str, segment: int) -> str:
        """The dlr-url for one segment (Kannel substitutes the %-escapes)."""
        cfg = self._config
        path = cfg.receipt_path.format(gateway=quote(cfg.name))
        secret = dlr_secret(self._key, correlation_id)
        return (
            f"{cfg.receipt_base_url.rstrip('/')}{path}?cid={correlation_id}&seg={segment}"
            f"&{KANNEL_SECRET_PARAM}={secret}&{DLR_ESCAPES}"
        )

    def _query(self, message: OutboundSms, to: str, part: KannelPart, segment: int) -> str:
        cfg = self._config
        params: list[tuple[str, str | bytes]] = [
            ("username", cfg.username),
            ("password", cfg.password.get_secret_value()),
            ("to", to),
            ("text", part.text),
            ("charset", "UTF-8"),
            ("coding", str(part.coding)),
        ]
        sender = message.sender or cfg.sender
        optional: list[tuple[str, str | bytes | None]] = [
            ("from", sender),
            ("smsc", cfg.smsc),
            ("udh", part.udh or None),
            ("validity", str(cfg.validity_minutes) if cfg.validity_minutes else None),
        ]
        params += [(key, value) for key, value in optional if value is not None]
        if cfg.dlr_mask:
            params += [
                ("dlr-mask", str(cfg.dlr_mask)),
                ("dlr-url", self.dlr_url(message.correlation_id, segment)),
            ]
        # urlencode percent-encodes bytes as they are: the UDH is binary, not text.
        return urlencode(params, quote_via=quote)

    async def submit(self, message: OutboundSms) -> SubmitResult:
        """Send every segment of `message` through sendsms, in order.

        Raises:
            InvalidNumber: the recipient is not an international number.
            SegmentLimitExceeded: the text needs more than `max_segments`.
            TransientChannelError: timeout, connection error, 429, 503 or another 5xx.
            PermanentChannelError: another 4xx (bad credentials, rejected number).
        """
        to = normalize_msisdn(message.to)
        encoded = encode_sms(
            message.text,
            reference=reference_for(message.correlation_id, self._config.reference_bits),
            reference_bits=self._config.reference_bits,
            max_segments=self._config.max_segments,
        )
        states: list[ReceiptState] = []
        for number, part in enumerate(kannel_parts(encoded), start=1):
            try:
                states.append(await self._send(self._query(message, to, part, number)))
            except TransientChannelError as exc:
                if not states:
                    raise
                # Earlier segments went: the phone has part of it, resending would repeat them.
                raise OutcomeUnknown(f"{exc} (after {len(states)} segment(s) were taken)") from exc
        queued = ReceiptState.QUEUED in states
        return SubmitResult(
            correlation_id=message.correlation_id,
            gateway=self.name,
            state=ReceiptState.QUEUED if queued else ReceiptState.SUBMITTED,
            segments=encoded.count,
            encoding=encoded.encoding,
        )

    async def _send(self, query: str) -> ReceiptState:
        await self._limiter.acquire()
        async with self._in_flight:
            try:
                response = await self._client.get(
                    f"{self._config.sendsms_url}?{query}", timeout=self._config.timeout_seconds
                )
            except httpx.TransportError as exc:
                raise transport_error(f"Kannel {self.name}", exc) from exc
        return self._outcome(response)

    def _outcome(self, response: httpx.Response) -> ReceiptState:
        """Map sendsms replies: 2xx accepted (3: queued), 429/5xx transient, 4xx permanent."""
        body = response.text.strip()
        if response.is_success:
            return ReceiptState.QUEUED if body.startswith("3:") else ReceiptState.SUBMITTED
        raise status_error(f"Kannel {self.name}", response)

    async def submit_many(
        self, messages: Sequence[OutboundSms]
    ) -> list[SubmitResult | ChannelError]:
        """Concurrent `submit`s; the rate limit and in-flight cap pace them."""
        return await submit_each(self.submit, messages)

    async def check(self) -> LinkStatus:
        """Bearerbox status page when configured (running, SMSC online), else smsbox answering."""
        cfg = self._config
        try:
            if cfg.status_url and cfg.status_password:
                password = cfg.status_password.get_secret_value()
                response = await self._client.get(
                    cfg.status_url, params={"password": password}, timeout=cfg.timeout_seconds
                )
                return status_from_page(response.text, cfg.smsc)
            response = await self._client.get(cfg.sendsms_url, timeout=cfg.timeout_seconds)
        except httpx.HTTPError as exc:
            return LinkStatus(False, f"Kannel {self.name} unreachable: {exc!r}")
        return LinkStatus(True, f"smsbox answers (HTTP {response.status_code})")

    async def close(self) -> None:
        """Nothing to release: the HTTP client belongs to the caller."""


def status_from_page(page: str, smsc: str | None) -> LinkStatus:
    """Read bearerbox's status.txt: `Status: running` and our SMSC's line `(online ...`."""
    if "Status: running" not in page:
        return LinkStatus(False, "bearerbox is not running")
    smsc_lines = [line.strip() for line in page.splitlines() if "(online" in line]
    if smsc is not None:
        smsc_lines = [line for line in smsc_lines if line.startswith(f"{smsc}[")]
    if not smsc_lines:
        return LinkStatus(False, f"no SMSC online{f' with id {smsc}' if smsc else ''}")
    return LinkStatus(True, f"{len(smsc_lines)} SMSC connection(s) online")
