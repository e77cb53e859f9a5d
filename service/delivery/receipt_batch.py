"""One flush of delivery reports: attribute each to its SMS row, apply the rules, write once.

How a report finds its message (docs/sms.md, "Correlation"):

- `correlation_id` is `str(SmsMessage.id)` for every gateway: the Kannel
  `cid` in the dlr-url, the JSON API's `correlation_id`, the SMPP adapter's
  in-memory match of the SMSC id to the submitted message.
- Otherwise `gateway_message_id` (the JSON gateway's id, the SMSC's id from
  submit_sm_resp), looked up among that gateway's messages, in the other
  base too (hex <-> decimal, as SMSCs do).
- A row sent through another gateway is not matched: a gateway can only
  report on its own messages (a row not yet marked with its gateway, because
  the report overtook the submission result, is accepted).

Everything else is kept once in `unmatched_receipts`. That includes the
reports on an operator's location job (their `correlation_id` is the job's
dispatch id; there are no SMS rows, the operator chose the handsets): they
are kept once per handset message under `<dispatch id>/<gateway message id>`
and do not count in the alert's SMS totals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from channels.sms import DeliveryReceipt
from channels.sms.smpp.correlation import id_variants
from service.db import utcnow
from service.delivery import receipt_repository as repository
from service.delivery.receipt_rules import SmsRow, apply_receipt

MAX_ROW_ID = 2**63 - 1
_REFERENCE_LIMIT = 200
_RAW_LIMIT = 4000


@dataclass(frozen=True, slots=True)
class IncomingReceipt:
    """A parsed, authenticated report and the configured gateway it came through."""

    gateway: str
    receipt: DeliveryReceipt


class Verdict(StrEnum):
    """What one report did."""

    APPLIED = "applied"  # the row changed
    UNCHANGED = "unchanged"  # duplicate, late, or older news than the row has
    UNMATCHED = "unmatched"  # no message of ours (kept in unmatched_receipts)


def row_id(correlation_id: str | None) -> int | None:
    """The SmsMessage id a correlation id names, or None if it names none."""
    if correlation_id and correlation_id.isascii() and correlation_id.isdigit():
        value = int(correlation_id)
        return value if 0 < value <= MAX_ROW_ID else None
    return None


def id_candidates(message_id: str) -> set[str]:
    """Spellings a gateway message id may be stored under: as given, other base, padded."""
    candidates = {message_id, message_id.lower(), message_id.upper()}
    for variant in id_variants(message_id):
        for form in (variant, variant.upper()):
            candidates.update({form, form.zfill(8), form.zfill(10), form.zfill(16)})
    return candidates


async def _rows_by_message_id(
    session: AsyncSession, items: Sequence[IncomingReceipt]
) -> dict[tuple[str, str], int]:
    """(gateway, reported id) -> row id, for reports that carry only the gateway's id."""
    wanted: dict[str, dict[str, set[str]]] = {}
    for item in items:
        message_id = item.receipt.gateway_message_id
        if row_id(item.receipt.correlation_id) is None and message_id:
            wanted.setdefault(item.gateway, {})[message_id] = id_candidates(message_id)
    found: dict[tuple[str, str], int] = {}
    for gateway, by_id in wanted.items():
        spellings = set().union(*by_id.values())
        stored = await repository.ids_by_gateway_message_id(session, gateway, spellings)
        for message_id, candidates in by_id.items():
            hit = next((stored[c] for c in sorted(candidates) if c in stored), None)
            if hit is not None:
                found[(gateway, message_id)] = hit
    return found


def unmatched_reference(receipt: DeliveryReceipt) -> str:
    """The key an unmatched report is kept under (once per gateway and key).

    A report naming something that is not one of our SMS rows (an operator
    location job's dispatch id) together with the gateway's own message id is
    kept per handset message, `<correlation id>/<message id>`, not once per job.
    """
    cid, message_id = receipt.correlation_id, receipt.gateway_message_id
    if cid and message_id and row_id(cid) is None:
        return f"{cid}/{message_id}"
    return cid or f"msgid:{message_id}"


def _unmatched(item: IncomingReceipt) -> dict[str, Any]:
    receipt = item.receipt
    reference = unmatched_reference(receipt)
    return {
        "gateway": item.gateway,
        "reference": reference[:_REFERENCE_LIMIT],
        "raw": (receipt.raw or repr(receipt))[:_RAW_LIMIT],
        "received_at": utcnow(),
    }


async def apply_receipts(session: AsyncSession, items: Sequence[IncomingReceipt]) -> list[Verdict]:
    """Apply reports in arrival order within the caller's transaction; one verdict each."""
    by_message_id = await _rows_by_message_id(session, items)
    targets: list[int | None] = []
    for item in items:
        target = row_id(item.receipt.correlation_id)
        if target is None and item.receipt.gateway_message_id:
            target = by_message_id.get((item.gateway, item.receipt.gateway_message_id))
        targets.append(target)
    rows = await repository.lock_rows(session, (t for t in targets if t is not None))
    now = utcnow()
    verdicts: list[Verdict] = []
    changed: dict[int, SmsRow] = {}
    unmatched: dict[tuple[str, str], dict[str, Any]] = {}
    for item, target in zip(items, targets, strict=True):
        found = rows.get(target) if target is not None else None
        if found is None or found[1] not in (None, item.gateway):
            record = _unmatched(item)
            unmatched.setdefault((record["gateway"], record["reference"]), record)
            verdicts.append(Verdict.UNMATCHED)
            continue
        row = found[0]
        if apply_receipt(row, item.receipt, now):
            changed[row.id] = row
            verdicts.append(Verdict.APPLIED)
        else:
            verdicts.append(Verdict.UNCHANGED)
    await repository.update_rows(session, [changed[key] for key in sorted(changed)])
    await repository.store_unmatched(session, list(unmatched.values()))
    return verdicts
