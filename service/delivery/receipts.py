"""Delivery reports in: authenticate by the gateway's secret, parse, hand to the writer.

Three doors, one path: Kannel's dlr-url (GET or POST), the JSON gateway's
signed callback, and SMPP deliver_sm receipts in the worker. Refusals are
cheap and quiet (a typed error the API turns into a 4xx problem, no stack
trace, nothing stored), so a misconfigured or hostile sender cannot cause
an error storm; reports that authenticate but name no message of ours are
stored once (`unmatched_receipts`) and answered 200, so gateways do not
retry them forever.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from channels.sms import (
    DeliveryReceipt,
    HttpJsonConfig,
    KannelConfig,
    ReceiptFormatError,
    ReceiptHandler,
    parse_http_receipts,
    parse_kannel_dlr,
)
from channels.sms.receipts import KANNEL_SECRET_PARAM
from channels.sms.signing import verify_body, verify_dlr_secret
from service.context import AppContext
from service.delivery.receipt_batch import IncomingReceipt, Verdict
from service.delivery.receipt_gateways import ConfiguredGateway
from service.delivery.receipt_writer import ReceiptWriter, WriterUnavailable

log = logging.getLogger(__name__)


class ReceiptRefused(Exception):
    """Base of refused reports; `kind` names the problem type, `status` the HTTP status."""

    kind = "invalid-receipt"
    status = 400
    title = "Invalid delivery report"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class UnknownGateway(ReceiptRefused):
    kind, status, title = "unknown-gateway", 404, "Unknown gateway"


class ReceiptUnauthenticated(ReceiptRefused):
    kind, status, title = "receipt-unauthenticated", 401, "Delivery report not authenticated"


class ReceiptForbidden(ReceiptRefused):
    kind, status, title = "receipt-forbidden", 403, "Delivery report refused"


class ReceiptsBusy(ReceiptRefused):
    kind, status, title = "receipts-busy", 503, "Delivery reports are queued; retry shortly"


@dataclass(frozen=True)
class ReceiptSummary:
    """What a request's reports did (the answer body)."""

    received: int
    applied: int
    unchanged: int
    unmatched: int

    @classmethod
    def of(cls, verdicts: Sequence[Verdict]) -> ReceiptSummary:
        return cls(
            received=len(verdicts),
            applied=verdicts.count(Verdict.APPLIED),
            unchanged=verdicts.count(Verdict.UNCHANGED),
            unmatched=verdicts.count(Verdict.UNMATCHED),
        )


def _writer(ctx: AppContext) -> ReceiptWriter:
    assert ctx.receipts is not None, "open_context builds the receipt writer"
    return ctx.receipts


async def _gateways(ctx: AppContext, name: str, kind: str) -> list[ConfiguredGateway]:
    found = [g for g in await ctx.receipt_gateways.find(ctx.readers, name) if g.kind == kind]
    if not found:
        raise UnknownGateway(f"no {kind} SMS gateway named {name!r} is configured")
    return found


async def _write(ctx: AppContext, items: Sequence[IncomingReceipt]) -> ReceiptSummary:
    try:
        return ReceiptSummary.of(await _writer(ctx).write(items))
    except WriterUnavailable as exc:
        raise ReceiptsBusy(str(exc)) from exc
    except SQLAlchemyError as exc:  # the flush rolled back: nothing of it is stored
        log.warning("delivery reports from a gateway not stored: %r", exc)
        raise ReceiptsBusy("the reports could not be stored just now; send them again") from exc


async def ingest_kannel(ctx: AppContext, gateway: str, params: Mapping[str, str]) -> ReceiptSummary:
    """One dlr-url call: `secret` must be HMAC(dlr_key, cid) for a Kannel gateway so named.

    Raises:
        UnknownGateway, ReceiptUnauthenticated (no cid or secret),
        ReceiptForbidden (wrong secret), ReceiptRefused (unparseable), ReceiptsBusy.
    """
    candidates = await _gateways(ctx, gateway, "kannel")
    cid, secret = params.get("cid", ""), params.get(KANNEL_SECRET_PARAM, "")
    if not cid or not secret:
        raise ReceiptUnauthenticated("the dlr-url carries no cid or no secret")
    if not any(_kannel_secret_ok(g.config, cid, secret) for g in candidates):
        raise ReceiptForbidden(f"the secret does not match cid {cid!r} for gateway {gateway!r}")
    try:
        receipt = parse_kannel_dlr(params)
    except ReceiptFormatError as exc:
        raise ReceiptRefused(str(exc)) from exc
    return await _write(ctx, [IncomingReceipt(gateway, receipt)])


def _kannel_secret_ok(config: object, cid: str, secret: str) -> bool:
    assert isinstance(config, KannelConfig)
    return verify_dlr_secret(config.dlr_key.get_secret_value().encode(), cid, secret)


async def ingest_http(
    ctx: AppContext,
    gateway: str,
    body: bytes,
    *,
    timestamp: str | None,
    signature: str | None,
    clock: Callable[[], float] = time.time,
) -> ReceiptSummary:
    """A JSON gateway's receipt callback, signed with the gateway's secret (docs/sms.md).

    Raises:
        UnknownGateway, ReceiptUnauthenticated (no signature headers),
        ReceiptForbidden (bad or stale signature), ReceiptRefused (not a receipt list),
        ReceiptsBusy.
    """
    candidates = await _gateways(ctx, gateway, "http-json")
    if not timestamp or not signature:
        raise ReceiptUnauthenticated("X-Tocsin-Timestamp and X-Tocsin-Signature are required")
    now = clock()
    if not any(_signature_ok(g.config, body, timestamp, signature, now) for g in candidates):
        raise ReceiptForbidden(f"bad or expired signature for gateway {gateway!r}")
    try:
        receipts = parse_http_receipts(body)
    except ReceiptFormatError as exc:
        raise ReceiptRefused(str(exc)) from exc
    return await _write(ctx, [IncomingReceipt(gateway, r) for r in receipts])


def _signature_ok(config: object, body: bytes, timestamp: str, signature: str, now: float) -> bool:
    assert isinstance(config, HttpJsonConfig)
    return verify_body(
        config.secret.get_secret_value().encode(),
        timestamp=timestamp,
        signature=signature,
        body=body,
        now=now,
        tolerance=config.receipt_tolerance_seconds,
    )


def ingest_smpp_receipt(writer: ReceiptWriter, gateway: str, receipt: DeliveryReceipt) -> None:
    """Queue one SMPP receipt for the next flush, without waiting for it.

    The SMPP session acknowledged the deliver_sm on arrival already (an SMSC
    stalls otherwise), so waiting for the commit would only slow the bind
    down; the writer retries a failed flush and `close()` flushes the rest.
    A full queue drops the report with a warning rather than stall the bind.
    """
    try:
        writer.enqueue([IncomingReceipt(gateway, receipt)])
    except WriterUnavailable as exc:
        log.warning("SMPP receipt from %s dropped: %s", gateway, exc)


def smpp_receipt_handler(writer: ReceiptWriter, gateway: str) -> ReceiptHandler:
    """The `on_receipt` for `SmppGateway(config, on_receipt=...)` of gateway `gateway`."""

    async def handle(receipt: DeliveryReceipt) -> None:
        ingest_smpp_receipt(writer, gateway, receipt)

    return handle
