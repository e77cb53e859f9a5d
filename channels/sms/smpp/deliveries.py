"""deliver_sm handling: receipts parsed, matched and handed on, off the read path.

The session's reader must answer every deliver_sm at once (an SMSC that
waits for deliver_sm_resp stops sending), so parsing and matching happen
synchronously there, and the possibly slow receipt handler runs in its own
task fed by a queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging

from channels.sms.gateway import ReceiptHandler
from channels.sms.receipts import DeliveryReceipt, ReceiptFormatError, parse_smpp_receipt
from channels.sms.smpp.correlation import MessageIdIndex
from channels.sms.smpp.pdu import MessageBody, Pdu, PduError
from channels.tasks import cancel_until_done

log = logging.getLogger(__name__)

ESM_CLASS_TYPE_MASK = 0x3C
ESM_CLASS_DELIVERY_RECEIPT = 0x04
TLV_MESSAGE_PAYLOAD = 0x0424
DATA_CODING_UCS2 = 0x08


def receipt_text(body: MessageBody) -> str:
    """The receipt text: message_payload when the SMSC used it, else short_message."""
    raw = body.tlv(TLV_MESSAGE_PAYLOAD) or body.short_message
    if body.data_coding == DATA_CODING_UCS2:
        return raw.decode("utf-16-be", errors="replace")
    return raw.decode("latin-1")


def receipt_from_deliver_sm(pdu: Pdu, ids: MessageIdIndex) -> DeliveryReceipt | None:
    """The receipt in a deliver_sm, matched to our correlation id when we know the id.

    None for a mobile-originated message (not a receipt). Final receipts
    remove the id from the index; intermediate ones (ENROUTE) keep it.

    Raises:
        PduError: the body is malformed.
        ReceiptFormatError: a receipt without any message id.
    """
    body = MessageBody.decode(pdu.body)
    if body.esm_class & ESM_CLASS_TYPE_MASK != ESM_CLASS_DELIVERY_RECEIPT:
        return None
    receipt = parse_smpp_receipt(receipt_text(body), dict(body.tlvs))
    assert receipt.gateway_message_id is not None  # the parser guarantees an id
    match = ids.find(receipt.gateway_message_id, remove=receipt.final)
    if match is None:
        return receipt
    return dataclasses.replace(receipt, correlation_id=match.correlation_id, segment=match.segment)


class ReceiptPump:
    """Parses deliver_sm in the reader, delivers receipts to the handler in a task.

    A receipt can overtake its submit_sm_resp (some SMSCs answer late, then
    report at once); an unmatched receipt therefore gets a second chance
    after `late_match` seconds before it is handed on without our id.
    """

    def __init__(
        self, ids: MessageIdIndex, handler: ReceiptHandler | None, *, late_match: float = 0.5
    ) -> None:
        self._ids = ids
        self._handler = handler
        self._late_match = late_match
        self._late_pending = 0
        self._queue: asyncio.Queue[DeliveryReceipt] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None and self._handler is not None:
            self._task = asyncio.create_task(self._run())

    def on_deliver(self, pdu: Pdu) -> None:
        """Called by the session for every deliver_sm; never raises (it is always acked)."""
        try:
            receipt = receipt_from_deliver_sm(pdu, self._ids)
        except (PduError, ReceiptFormatError) as exc:
            log.warning("unusable deliver_sm %s: %s", pdu.body.hex(), exc)
            return
        if receipt is None or self._handler is None:
            return
        if receipt.correlation_id is None and self._late_match > 0:
            self._late_pending += 1
            asyncio.get_running_loop().call_later(self._late_match, self._match_late, receipt)
        else:
            self._queue.put_nowait(receipt)

    def _match_late(self, receipt: DeliveryReceipt) -> None:
        self._late_pending -= 1
        assert receipt.gateway_message_id is not None
        match = self._ids.find(receipt.gateway_message_id, remove=receipt.final)
        if match is not None:
            receipt = dataclasses.replace(
                receipt, correlation_id=match.correlation_id, segment=match.segment
            )
        self._queue.put_nowait(receipt)

    async def _run(self) -> None:
        assert self._handler is not None
        while True:
            receipt = await self._queue.get()
            try:
                await self._handler(receipt)
            except Exception:  # one bad receipt must not stop the others
                log.exception("receipt handler failed for %r", receipt)
            finally:
                self._queue.task_done()

    async def stop(self, grace: float = 2.0) -> None:
        """Deliver what is queued (for up to `grace` seconds), then stop."""
        if self._task is None:
            return
        if self._late_pending:  # receipts waiting for a late match are still to come
            await asyncio.sleep(min(self._late_match, grace))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), grace)
        await cancel_until_done(self._task)
        self._task = None
