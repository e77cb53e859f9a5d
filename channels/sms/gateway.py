"""What every SMS gateway adapter offers, and the values that cross it.

Adapters (Kannel, SMPP, generic HTTP JSON) take an `OutboundSms`, encode it,
pace themselves and return a `SubmitResult`, or raise
`TransientChannelError` / `PermanentChannelError`: never a bare bool.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from channels.errors import ChannelError, PermanentChannelError, TransientChannelError
from channels.sms.encoding import Encoding
from channels.sms.receipts import DeliveryReceipt, ReceiptState

# Correlation ids travel inside URLs (Kannel dlr-url) and JSON; keeping them to
# URL-safe characters means no escaping layer can mangle them.
_CORRELATION_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_SEPARATORS = re.compile(r"[\s().-]")

ReceiptHandler = Callable[[DeliveryReceipt], Awaitable[None]]


class OutcomeUnknown(TransientChannelError):
    """The request reached (or may have reached) the gateway, and no answer says what it did.

    A timeout after the request was sent, a connection lost while waiting for
    the answer, a 2xx answer we cannot read, a segment refused after earlier
    ones were taken: the phone may have the message. Sending it again can
    duplicate it, except through the same gateway with the same idempotency
    key (`SmsGateway.deduplicates`).
    """


class InvalidNumber(PermanentChannelError):
    """The recipient is not a plausible international number: no gateway will take it."""


def normalize_msisdn(number: str) -> str:
    """International number as digits only (no `+`, no `00`), 7 to 15 digits (E.164).

    Raises:
        InvalidNumber: anything else.
    """
    digits = _SEPARATORS.sub("", number)
    if digits.startswith("+"):
        digits = digits[1:]
    elif digits.startswith("00"):
        digits = digits[2:]
    if not (digits.isascii() and digits.isdigit() and 7 <= len(digits) <= 15):
        raise InvalidNumber(f"not an international number: {number!r}")
    if digits.startswith("0"):
        raise InvalidNumber(f"international numbers do not start with 0: {number!r}")
    return digits


@dataclass(frozen=True, slots=True)
class OutboundSms:
    """One SMS to one recipient.

    `correlation_id` is ours: it comes back in receipts, and it is the
    idempotency key towards gateways that support one.
    """

    correlation_id: str
    to: str
    text: str
    sender: str | None = None
    expires_at: datetime | None = None

    def __post_init__(self) -> None:
        """Raises ValueError for a correlation id that would not survive a URL unescaped."""
        if not _CORRELATION_ID.fullmatch(self.correlation_id):
            raise ValueError(
                f"correlation_id must be 1-128 of [A-Za-z0-9._:-], got {self.correlation_id!r}"
            )


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """The gateway took the message.

    `message_ids` are the gateway's ids, one per segment, when it gives them
    at submission (SMPP, JSON); Kannel gives none (they arrive with the DLRs).
    `state` is `submitted`, or `queued` when the gateway only queued it.
    """

    correlation_id: str
    gateway: str
    state: ReceiptState
    segments: int
    encoding: Encoding
    message_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LinkStatus:
    """Whether the gateway is reachable and bound, with a human-readable reason."""

    up: bool
    detail: str


class SmsGateway(Protocol):
    """An SMS gateway adapter. One instance per configured gateway, shared by all callers.

    Its rate limit and in-flight cap apply across all concurrent callers.
    """

    @property
    def name(self) -> str:
        """The configured gateway name (appears in receipt URLs and results)."""
        ...

    async def submit(self, message: OutboundSms) -> SubmitResult:
        """Send one SMS (all its segments).

        Raises:
            TransientChannelError: try again later (`retry_after` when known).
            PermanentChannelError: this message will never go through this gateway.
        """
        ...

    async def submit_many(
        self, messages: Sequence[OutboundSms]
    ) -> list[SubmitResult | ChannelError]:
        """Send a batch; one outcome per message, in order. Never raises a ChannelError."""
        ...

    async def check(self) -> LinkStatus:
        """Probe the link (reachability, bind state); never raises."""
        ...

    async def close(self) -> None:
        """Release what the adapter owns (connections, tasks); not the shared HTTP client."""
        ...


async def submit_each(
    submit: Callable[[OutboundSms], Awaitable[SubmitResult]],
    messages: Sequence[OutboundSms],
) -> list[SubmitResult | ChannelError]:
    """Submit every message concurrently (the adapter's limits do the pacing).

    Channel errors become results; anything else is a bug and propagates.
    """

    async def one(message: OutboundSms) -> SubmitResult | ChannelError:
        try:
            return await submit(message)
        except ChannelError as exc:
            return exc

    return list(await asyncio.gather(*(one(message) for message in messages)))
