"""How one delivery report changes one SMS row: monotonic, idempotent, segment-aware.

Pure rules, no I/O, so the writer can apply a whole batch in memory before
one UPDATE. States only move forward (queued < sending < unknown <
submitted < final); a final state is never left, so duplicate, late or
contradicting reports after the outcome are no-ops.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from channels.sms import DeliveryReceipt, ReceiptState
from service.delivery.models import FINAL_SMS_STATES, SmsState

# Forward order of the non-final states. `unknown` (the worker died while
# sending, or the SMSC said so) ranks below `submitted`: a report that the
# gateway has the message is news, an `unknown` report after submission is not.
_RANK = {
    SmsState.QUEUED: 0,
    SmsState.SENDING: 1,
    SmsState.UNKNOWN: 2,
    SmsState.SUBMITTED: 3,
}
_FINAL_RANK = 4

# What a gateway's word means for our row. The gateway "queued" a message it
# has accepted (ACCEPTD, ENROUTE): for us that is submitted.
_TARGET = {
    ReceiptState.QUEUED: SmsState.SUBMITTED,
    ReceiptState.SUBMITTED: SmsState.SUBMITTED,
    ReceiptState.UNKNOWN: SmsState.UNKNOWN,
    ReceiptState.DELIVERED: SmsState.DELIVERED,
    ReceiptState.FAILED: SmsState.FAILED,
    ReceiptState.EXPIRED: SmsState.EXPIRED,
}
# Beyond 62 segments a bit mask in a signed 64-bit column no longer fits;
# such messages (never configured in practice) count as delivered on any segment.
MAX_TRACKED_SEGMENTS = 62
RAW_LIMIT = 2000
ERROR_LIMIT = 500


def rank(state: str) -> int:
    """Position of `state` in the forward order (final states share the top)."""
    if state in FINAL_SMS_STATES:
        return _FINAL_RANK
    return _RANK.get(SmsState(state), 0)


@dataclass(slots=True)
class SmsRow:
    """The columns of one `SmsMessage` a report may change (mutable: rules apply in place)."""

    id: int
    state: str
    segments: int
    delivered_segments: int
    raw_report: str | None
    error: str | None
    final_at: dt.datetime | None


def _all_segments(row: SmsRow) -> int:
    return (1 << max(row.segments, 1)) - 1


def _delivered(row: SmsRow, segment: int | None) -> SmsState:
    """DELIVERED once every segment is; else the row stays (at least) submitted."""
    if segment is None or row.segments <= 1 or row.segments > MAX_TRACKED_SEGMENTS:
        return SmsState.DELIVERED
    if 1 <= segment <= MAX_TRACKED_SEGMENTS:
        row.delivered_segments |= 1 << (segment - 1)
    full = _all_segments(row)
    if row.delivered_segments & full == full:
        return SmsState.DELIVERED
    return SmsState.SUBMITTED


def apply_receipt(row: SmsRow, receipt: DeliveryReceipt, now: dt.datetime) -> bool:
    """Apply `receipt` to `row`; whether anything changed (False: a no-op, e.g. a duplicate).

    A segment's failure fails the whole message: the phone cannot show it.
    """
    if row.state in FINAL_SMS_STATES:
        return False
    mask_before = row.delivered_segments
    target = _TARGET[receipt.state]
    if target == SmsState.DELIVERED:
        target = _delivered(row, receipt.segment)
    moves = rank(target) > rank(row.state)
    if not moves and row.delivered_segments == mask_before:
        return False
    if moves:
        row.state = target.value
    row.raw_report = receipt.raw[:RAW_LIMIT] or row.raw_report
    if receipt.error_code:
        row.error = f"gateway error {receipt.error_code}"[:ERROR_LIMIT]
    if row.state in FINAL_SMS_STATES:
        # When we learnt it, not the gateway's clock: SMSC dates are local, often
        # to the minute, and would skew submit-to-delivered latency (`raw` keeps them).
        row.final_at = now
    return True
