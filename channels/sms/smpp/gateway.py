"""SMPP 3.4 adapter: a transceiver bind kept alive, a window, throttling, receipts.

Why our own session rather than aiosmpplib: see docs/sms.md ("SMPP"). In
short, its queue-and-hook design gives no awaitable result per submit_sm,
it re-splits messages that already carry our UDH, and its receipt parser
raises on 12-digit dates inside the receive loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from channels.errors import ChannelError, PermanentChannelError, TransientChannelError
from channels.sms.encoding import encode_sms, reference_for
from channels.sms.forms import smpp_short_messages
from channels.sms.gateway import (
    InvalidNumber,
    LinkStatus,
    OutboundSms,
    OutcomeUnknown,
    ReceiptHandler,
    SubmitResult,
    normalize_msisdn,
    submit_each,
)
from channels.sms.limits import RateLimiter
from channels.sms.receipts import ReceiptState
from channels.sms.smpp.correlation import MessageIdIndex, SubmittedSegment
from channels.sms.smpp.deliveries import ReceiptPump
from channels.sms.smpp.pdu import (
    BindBody,
    Command,
    MessageBody,
    Pdu,
    PduError,
    Status,
    decode_id_body,
)
from channels.sms.smpp.session import BindRefused, SessionSettings, SmppSession
from channels.tasks import cancel_until_done

log = logging.getLogger(__name__)

THROTTLING = frozenset({Status.THROTTLED, Status.MESSAGE_QUEUE_FULL})
# Statuses after which the same submit_sm may well succeed later.
TRANSIENT = frozenset({Status.SYSTEM_ERROR, Status.SUBMIT_FAILED, 0x64})


class SmppConfig(BaseModel):
    """One SMSC account. Times are seconds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    host: str
    port: int = Field(ge=1, le=65535)
    # SMPP 3.4 §5.2: C-Octet Strings of at most 16, 9 and 13 octets with the NUL.
    system_id: str = Field(max_length=15)
    password: SecretStr = Field(max_length=8)
    system_type: str = Field(default="", max_length=12)
    source_addr: str
    source_addr_ton: int | None = None
    source_addr_npi: int | None = None
    service_type: str = ""
    registered_delivery: int = Field(default=1, ge=0, le=0x1F)
    window: int = Field(default=10, ge=1)
    rate_per_second: float | None = Field(default=100.0, gt=0)
    burst: int = Field(default=10, ge=1)
    enquire_link_interval: float = Field(default=30.0, gt=0)
    response_timeout: float = Field(default=10.0, gt=0)
    connect_timeout: float = Field(default=10.0, gt=0)
    bind_wait: float = Field(default=5.0, ge=0)
    rebind_initial_delay: float = Field(default=1.0, gt=0)
    rebind_max_delay: float = Field(default=60.0, gt=0)
    throttle_initial_delay: float = Field(default=1.0, gt=0)
    throttle_max_delay: float = Field(default=30.0, gt=0)
    max_throttle_retries: int = Field(default=5, ge=0)
    max_segments: int = Field(default=4, ge=1, le=255)
    reference_bits: Literal[8, 16] = 8
    packed_gsm7: bool = False
    receipt_id_match: Literal["auto", "exact"] = "auto"


def source_ton_npi(address: str, config: SmppConfig) -> tuple[int, int]:
    """Configured TON/NPI, else: alphanumeric 5/0, `+digits` 1/1, other digits 0/1."""
    if config.source_addr_ton is not None:
        return config.source_addr_ton, config.source_addr_npi or 0
    if address.startswith("+") and address[1:].isdigit():
        return 1, 1
    return (0, 1) if address.isdigit() else (5, 0)


def _validity(message: OutboundSms) -> str:
    """SMPP absolute time `YYMMDDhhmmss000+` in UTC, or empty for the SMSC default."""
    if message.expires_at is None:
        return ""
    return message.expires_at.astimezone(UTC).strftime("%y%m%d%H%M%S") + "000+"


class SmppGateway:
    """`SmsGateway` over one SMPP transceiver bind, rebound whenever it drops.

    submit_sm has no idempotency key (`deduplicates` False): a submit whose
    answer was lost is `OutcomeUnknown` and is never resent.

    Receipts (deliver_sm) are parsed leniently, matched to our correlation
    ids and handed to `on_receipt`, one at a time, off the reading path.
    """

    def __init__(self, config: SmppConfig, on_receipt: ReceiptHandler | None = None) -> None:
        self.deduplicates = False
        self._config = config
        self._limiter = RateLimiter(config.rate_per_second, burst=config.burst)
        self._window = asyncio.Semaphore(config.window)
        self._ids = MessageIdIndex(match=config.receipt_id_match)
        self._pump = ReceiptPump(self._ids, on_receipt)
        self._session: SmppSession | None = None
        self._bound = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._last_error = "not started"
        self.binds = 0

    @property
    def name(self) -> str:
        return self._config.name

    async def start(self) -> None:
        """Start binding in the background (submit also starts it on first use)."""
        if self._supervisor is None:
            self._pump.start()
            self._supervisor = asyncio.create_task(self._supervise())

    async def __aenter__(self) -> SmppGateway:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def wait_bound(self, within: float) -> bool:
        """Whether a bind is up within `within` seconds."""
        await self.start()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._bound.wait(), within)
        return self._bound.is_set()

    def _settings(self) -> SessionSettings:
        cfg = self._config
        bind = BindBody(cfg.system_id, cfg.password.get_secret_value(), cfg.system_type)
        return SessionSettings(
            cfg.host,
            cfg.port,
            bind,
            cfg.connect_timeout,
            cfg.response_timeout,
            cfg.enquire_link_interval,
        )

    async def _supervise(self) -> None:
        """Bind, wait for the session to end, rebind with exponential back-off and jitter."""
        cfg = self._config
        delay = cfg.rebind_initial_delay
        while True:
            try:
                session = await SmppSession.open(self._settings(), self._pump.on_deliver)
            except (OSError, TimeoutError, BindRefused, PduError) as exc:
                self._last_error = f"bind failed: {exc!r}"
                log.warning("SMPP %s: %s; retrying in %.1f s", self.name, self._last_error, delay)
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
                delay = min(delay * 2, cfg.rebind_max_delay)
                continue
            self._session, self.binds, delay = session, self.binds + 1, cfg.rebind_initial_delay
            self._bound.set()
            await session.closed.wait()
            self._bound.clear()
            self._session, self._last_error = None, "connection lost"
            await session.close()
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))

    async def _live_session(self) -> SmppSession:
        """The bound session, waiting up to `bind_wait` for one.

        Raises:
            TransientChannelError: no bind within `bind_wait`.
        """
        await self.start()
        session = self._session
        if session is not None and not session.closed.is_set():
            return session
        if await self.wait_bound(self._config.bind_wait) and self._session is not None:
            return self._session
        raise TransientChannelError(
            f"SMPP {self.name} not bound ({self._last_error})",
            retry_after=self._config.rebind_initial_delay,
        )

    def _template(self, message: OutboundSms, to: str) -> MessageBody:
        """The submit_sm fields common to every segment of `message`."""
        cfg = self._config
        source = message.sender or cfg.source_addr
        ton, npi = source_ton_npi(source, cfg)
        template = MessageBody(
            source_addr=source.lstrip("+") if ton == 1 else source,
            destination_addr=to,
            short_message=b"",
            service_type=cfg.service_type,
            source_addr_ton=ton,
            source_addr_npi=npi,
            validity_period=_validity(message),
            registered_delivery=cfg.registered_delivery,
        )
        return template

    async def submit(self, message: OutboundSms) -> SubmitResult:
        """Submit every segment of `message`, in order, within the window and the rate.

        Throttling answers (0x58, 0x14) slow the whole gateway down and the
        segment is resubmitted, up to `max_throttle_retries` times.

        Raises:
            InvalidNumber: bad recipient, or the SMSC answered ESME_RINVDSTADR.
            SegmentLimitExceeded: the text needs more than `max_segments`.
            TransientChannelError: not bound, connection lost, no response,
                still throttled after the retries, or a temporary SMSC error.
            PermanentChannelError: any other error status.
        """
        cfg = self._config
        to = normalize_msisdn(message.to)
        encoded = encode_sms(
            message.text,
            reference=reference_for(message.correlation_id, cfg.reference_bits),
            reference_bits=cfg.reference_bits,
            max_segments=cfg.max_segments,
        )
        template = self._template(message, to)
        ids = []
        parts = smpp_short_messages(encoded, packed_gsm7=cfg.packed_gsm7)
        for number, part in enumerate(parts, start=1):
            body = replace(
                template,
                short_message=part.short_message,
                esm_class=part.esm_class,
                data_coding=part.data_coding,
            )
            try:
                ids.append(
                    await self._submit_segment(body.encode(), message.correlation_id, number)
                )
            except TransientChannelError as exc:
                if not ids:
                    raise
                # Earlier segments went: the phone has part of it, resending would repeat them.
                raise OutcomeUnknown(f"{exc} (after {len(ids)} segment(s) were taken)") from exc
        return SubmitResult(
            correlation_id=message.correlation_id,
            gateway=self.name,
            state=ReceiptState.SUBMITTED,
            segments=encoded.count,
            encoding=encoded.encoding,
            message_ids=tuple(ids),
        )

    async def _submit_segment(self, body: bytes, correlation_id: str, number: int) -> str:
        """One submit_sm, resubmitted while the SMSC throttles us; the SMSC's message id."""
        cfg = self._config
        delay = cfg.throttle_initial_delay
        for _attempt in range(cfg.max_throttle_retries + 1):
            await self._limiter.acquire()
            async with self._window:
                session = await self._live_session()
                resp = await session.request(
                    Command.SUBMIT_SM, body, on_response=self._recorder(correlation_id, number)
                )
            if resp.status not in THROTTLING:
                return self._message_id(resp)
            log.info(
                "SMPP %s throttled (0x%02X), backing off %.2f s", self.name, resp.status, delay
            )
            self._limiter.hold(delay)
            delay = min(delay * 2, cfg.throttle_max_delay)
        raise TransientChannelError(f"SMPP {self.name}: still throttled", retry_after=delay)

    def _recorder(self, correlation_id: str, number: int) -> Callable[[Pdu], None]:
        def record(pdu: Pdu) -> None:
            self._ids.add(decode_id_body(pdu.body), SubmittedSegment(correlation_id, number))

        return record

    def _message_id(self, resp: Pdu) -> str:
        """The message id of an accepted submit_sm_resp, else the matching channel error."""
        status = resp.status
        if status == Status.OK:
            return decode_id_body(resp.body)
        detail = f"SMPP {self.name}: submit_sm refused with status 0x{status:02X}"
        if status == Status.INVALID_DEST_ADDRESS:
            raise InvalidNumber(detail)
        if status in TRANSIENT or resp.command_id == Command.GENERIC_NACK:
            raise TransientChannelError(detail)
        raise PermanentChannelError(detail)

    async def submit_many(
        self, messages: Sequence[OutboundSms]
    ) -> list[SubmitResult | ChannelError]:
        """Concurrent `submit`s; the window and the rate limit pace them."""
        return await submit_each(self.submit, messages)

    async def check(self) -> LinkStatus:
        """Bound or not, and why not."""
        session = self._session
        if self._bound.is_set() and session is not None and not session.closed.is_set():
            cfg = self._config
            return LinkStatus(True, f"bound to {cfg.host}:{cfg.port} ({session.system_id})")
        return LinkStatus(False, f"not bound: {self._last_error}")

    async def close(self) -> None:
        """Unbind, stop rebinding, and hand over the receipts already received."""
        if self._supervisor is not None:
            await cancel_until_done(self._supervisor)
            self._supervisor = None
        if self._session is not None:
            await self._session.close(unbind=True)
            self._session = None
        self._bound.clear()
        self._last_error = "closed"
        await self._pump.stop()
