"""Generic HTTP JSON gateway adapter: signed batches, receipts by callback.

The API is ours (docs/sms.md): POST /v1/messages with up to `max_batch`
messages per request, HMAC-signed, with an Idempotency-Key. Single `submit`
calls are coalesced into batches for a few milliseconds, so callers can
think per message while the wire carries one request per hundreds of them:
that is what makes thousands of submissions per second cheap.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from channels.errors import ChannelError, PermanentChannelError, TransientChannelError
from channels.sms.batching import Coalescer
from channels.sms.encoding import measure_sms
from channels.sms.gateway import (
    InvalidNumber,
    LinkStatus,
    OutboundSms,
    OutcomeUnknown,
    SubmitResult,
    normalize_msisdn,
)
from channels.sms.http_errors import status_error, transport_error
from channels.sms.limits import RateLimiter
from channels.sms.location import LocationSms, location_job_body
from channels.sms.receipts import ReceiptState
from channels.sms.signing import IDEMPOTENCY_HEADER, signed_headers, verify_body
from channels.sms.wire import (
    INVALID_NUMBER_CODE,
    BatchResponse,
    LocationJobAccepted,
    MessageBatch,
    WireMessage,
    WireResult,
)


class HttpJsonConfig(BaseModel):
    """One gateway speaking the generic JSON API. `secret` signs both directions."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    base_url: str
    secret: SecretStr
    callback_url: str | None = None
    sender: str | None = None
    messages_path: str = "/v1/messages"
    location_jobs_path: str = "/v1/location-jobs"
    health_path: str = "/v1/health"
    max_batch: int = Field(default=500, ge=1, le=10_000)
    linger_seconds: float = Field(default=0.005, ge=0)
    rate_per_second: float | None = Field(default=1000.0, gt=0)
    burst: int = Field(default=500, ge=1)
    max_in_flight: int = Field(default=8, ge=1)
    max_segments: int = Field(default=4, ge=1, le=255)
    reference_bits: Literal[8, 16] = 8
    timeout_seconds: float = Field(default=10.0, gt=0)
    receipt_tolerance_seconds: float = Field(default=300.0, gt=0)


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A message checked and encoded, ready to join a batch."""

    wire: WireMessage
    segments: int
    encoding: Literal["gsm7", "ucs2"]


def batch_idempotency_key(correlation_ids: Sequence[str]) -> str:
    """Same messages, same key: a retried batch is recognised by the gateway."""
    return hashlib.sha256("\n".join(correlation_ids).encode("utf-8")).hexdigest()[:40]


class HttpJsonGateway:
    """`SmsGateway` over the generic JSON API, plus location-based SMS jobs."""

    # A `submit_many` of the same messages sends the same requests with the same
    # Idempotency-Key: the gateway recognises a retry after an unknown outcome.
    deduplicates = True

    def __init__(
        self,
        config: HttpJsonConfig,
        client: httpx.AsyncClient,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._client = client
        self._clock = clock
        self._secret = config.secret.get_secret_value().encode()
        self._limiter = RateLimiter(config.rate_per_second, burst=config.burst)
        self._in_flight = asyncio.Semaphore(config.max_in_flight)
        self._coalescer: Coalescer[_Prepared, SubmitResult] = Coalescer(
            self._send_batch, max_batch=config.max_batch, linger=config.linger_seconds
        )

    @property
    def name(self) -> str:
        return self._config.name

    def _prepare(self, message: OutboundSms) -> _Prepared:
        cfg = self._config
        encoding, count = measure_sms(
            message.text, reference_bits=cfg.reference_bits, max_segments=cfg.max_segments
        )
        wire = WireMessage(
            correlation_id=message.correlation_id,
            to="+" + normalize_msisdn(message.to),
            sender=message.sender or cfg.sender,
            text=message.text,
            encoding=encoding,
            segments=count,
            callback_url=cfg.callback_url,
            expires_at=message.expires_at,
        )
        return _Prepared(wire, count, encoding)

    async def submit(self, message: OutboundSms) -> SubmitResult:
        """Send one message; it travels in a batch with its concurrent neighbours.

        Raises:
            InvalidNumber: the recipient is not an international number.
            SegmentLimitExceeded: the text needs more than `max_segments`.
            TransientChannelError: timeout, connection error, 429, 5xx, or the
                gateway said the message may be retried.
            PermanentChannelError: 4xx for the batch, or the gateway rejected the message.
        """
        return await self._coalescer.submit(self._prepare(message))

    async def submit_many(
        self, messages: Sequence[OutboundSms]
    ) -> list[SubmitResult | ChannelError]:
        """One outcome per message; requests of up to `max_batch` of them, in order.

        Not coalesced with other callers: the same messages always make the
        same requests, hence the same Idempotency-Keys, so a retry after an
        unknown outcome is recognised by the gateway.
        """
        prepared: list[_Prepared | ChannelError] = []
        for message in messages:
            try:
                prepared.append(self._prepare(message))
            except ChannelError as exc:
                prepared.append(exc)
        ready = [item for item in prepared if isinstance(item, _Prepared)]
        size = self._config.max_batch
        chunks = [ready[start : start + size] for start in range(0, len(ready), size)]
        answers = await asyncio.gather(
            *(self._send_batch(chunk) for chunk in chunks), return_exceptions=True
        )
        by_id: dict[str, SubmitResult | ChannelError] = {}
        for chunk, answer in zip(chunks, answers, strict=True):
            if isinstance(answer, ChannelError):
                by_id.update((item.wire.correlation_id, answer) for item in chunk)
            elif isinstance(answer, BaseException):
                raise answer
            else:
                by_id.update(zip((i.wire.correlation_id for i in chunk), answer, strict=True))
        return [
            by_id[item.wire.correlation_id] if isinstance(item, _Prepared) else item
            for item in prepared
        ]

    async def _post(self, path: str, body: bytes, idempotency_key: str) -> httpx.Response:
        """POST a signed body; transport failures and non-2xx become channel errors."""
        headers = {
            "Content-Type": "application/json",
            IDEMPOTENCY_HEADER: idempotency_key,
            **signed_headers(self._secret, int(self._clock()), body),
        }
        url = self._config.base_url.rstrip("/") + path
        try:
            response = await self._client.post(
                url, content=body, headers=headers, timeout=self._config.timeout_seconds
            )
        except httpx.TransportError as exc:
            raise transport_error(f"gateway {self.name}", exc) from exc
        if not response.is_success:
            raise status_error(f"gateway {self.name}", response)
        return response

    async def _send_batch(self, batch: Sequence[_Prepared]) -> list[SubmitResult | ChannelError]:
        """POST one batch and map each result back to its message (by correlation id)."""
        body = MessageBatch(messages=[item.wire for item in batch]).model_dump_json(
            by_alias=True, exclude_none=True
        )
        key = batch_idempotency_key([item.wire.correlation_id for item in batch])
        await self._limiter.acquire(len(batch))
        async with self._in_flight:
            response = await self._post(self._config.messages_path, body.encode(), key)
        try:
            results = BatchResponse.model_validate_json(response.content).results
        except ValidationError as exc:  # a 2xx: the gateway may well have taken them
            raise OutcomeUnknown(f"gateway {self.name}: unreadable answer: {exc}") from exc
        by_id = {result.correlation_id: result for result in results}
        return [self._outcome(item, by_id.get(item.wire.correlation_id)) for item in batch]

    def _outcome(self, item: _Prepared, result: WireResult | None) -> SubmitResult | ChannelError:
        cid = item.wire.correlation_id
        if result is None:  # it answered the request and did not say: it may have it
            return OutcomeUnknown(f"gateway {self.name}: no result for {cid}")
        if result.status == "rejected":
            error = result.error
            detail = f"gateway {self.name} rejected {cid}: {error.code if error else '?'}"
            detail += f" {error.message}" if error and error.message else ""
            if error is not None and not error.permanent:
                return TransientChannelError(detail)
            if error is not None and error.code == INVALID_NUMBER_CODE:
                return InvalidNumber(detail)
            return PermanentChannelError(detail)
        ids = (result.gateway_message_id,) if result.gateway_message_id else ()
        return SubmitResult(
            cid, self.name, ReceiptState.SUBMITTED, item.segments, item.encoding, ids
        )

    async def submit_location_job(self, job: LocationSms) -> str:
        """Ask the operator to send `job`'s texts to every handset in its cells; the job id.

        The Idempotency-Key is the job's correlation id: a retried job is not sent twice.

        Raises:
            SegmentLimitExceeded: a language's text needs more than `max_segments`.
            PermanentChannelError: no cells, no text for the default language, or a 4xx.
            TransientChannelError: timeout, connection error, 429 or 5xx.
        """
        body = location_job_body(
            job,
            sender=job.sender or self._config.sender,
            callback_url=self._config.callback_url,
            max_segments=self._config.max_segments,
        )
        await self._limiter.acquire()
        async with self._in_flight:
            response = await self._post(self._config.location_jobs_path, body, job.correlation_id)
        try:
            return LocationJobAccepted.model_validate_json(response.content).job_id
        except ValidationError as exc:
            raise OutcomeUnknown(f"gateway {self.name}: unreadable answer: {exc}") from exc

    async def cancel_location_job(self, job_id: str) -> None:
        """Stop a location job (alert cancelled or expired). Unknown job ids are already stopped.

        Raises:
            TransientChannelError: timeout, connection error, 429 or 5xx.
            PermanentChannelError: another 4xx than 404.
        """
        url = f"{self._config.base_url.rstrip('/')}{self._config.location_jobs_path}/{job_id}"
        headers = signed_headers(self._secret, int(self._clock()), b"")
        try:
            response = await self._client.delete(
                url, headers=headers, timeout=self._config.timeout_seconds
            )
        except httpx.TransportError as exc:
            raise transport_error(f"gateway {self.name}", exc) from exc
        if not response.is_success and response.status_code != 404:
            raise status_error(f"gateway {self.name}", response)

    def verify_receipt_callback(
        self, *, timestamp: str | None, signature: str | None, body: bytes
    ) -> bool:
        """Whether a receipt callback is signed by this gateway and recent enough."""
        return verify_body(
            self._secret,
            timestamp=timestamp,
            signature=signature,
            body=body,
            now=self._clock(),
            tolerance=self._config.receipt_tolerance_seconds,
        )

    async def check(self) -> LinkStatus:
        """GET the health path: any 2xx is up."""
        url = self._config.base_url.rstrip("/") + self._config.health_path
        try:
            response = await self._client.get(url, timeout=self._config.timeout_seconds)
        except httpx.HTTPError as exc:
            return LinkStatus(False, f"gateway {self.name} unreachable: {exc!r}")
        return LinkStatus(response.is_success, f"HTTP {response.status_code}")

    async def close(self) -> None:
        """Send what is still waiting in the coalescer and wait for requests in flight."""
        await self._coalescer.drain()
