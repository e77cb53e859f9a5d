"""The group-commit receipt writer, on both databases: batching, failures, closing, concurrency."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from channels.sms import DeliveryReceipt, ReceiptState
from service.context import AppContext
from service.delivery import receipt_writer
from service.delivery.models import SmsState
from service.delivery.receipt_batch import IncomingReceipt, Verdict, apply_receipts
from service.delivery.receipt_writer import ReceiptWriter, WriterUnavailable
from tests.service.sms_service_fixtures import add_messages, add_operator, message, unmatched


def report(
    row_id: int | str, state: ReceiptState = ReceiptState.DELIVERED, **extra: object
) -> IncomingReceipt:
    receipt = DeliveryReceipt(state=state, correlation_id=str(row_id), raw=f"r{row_id}", **extra)  # type: ignore[arg-type]
    return IncomingReceipt("k1", receipt)


@pytest.fixture
async def ready(context: AppContext) -> AppContext:
    await add_operator(context)
    return context


async def states(context: AppContext, ids: Sequence[int]) -> list[str]:
    return [(await message(context, i)).state for i in ids]


async def test_concurrent_writes_share_flushes(ready: AppContext) -> None:
    ids = await add_messages(ready, 200)
    writer = ReceiptWriter(ready.sessions, linger=0.02)
    try:
        answers = await asyncio.gather(
            *(writer.write([report(i) for i in ids[n : n + 10]]) for n in range(0, 200, 10))
        )
    finally:
        await writer.close()
    assert [set(a) for a in answers] == [{Verdict.APPLIED}] * 20
    assert writer.stats.rows == 200
    assert writer.stats.flushes < 20  # requests waiting together went in one transaction
    assert set(await states(ready, ids)) == {SmsState.DELIVERED}


async def test_a_failed_flush_fails_its_callers_and_stores_nothing(
    ready: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The flush applies its changes, then fails: all of it rolls back; the next flush works."""
    ids = await add_messages(ready, 4)
    calls = 0

    async def fail_once(session: AsyncSession, items: Sequence[IncomingReceipt]) -> list[Verdict]:
        nonlocal calls
        calls += 1
        verdicts = await apply_receipts(session, items)
        if calls == 1:
            raise RuntimeError("the database went away")
        return verdicts

    monkeypatch.setattr(receipt_writer, "apply_receipts", fail_once)
    writer = ReceiptWriter(ready.sessions, linger=0.0)
    try:
        with pytest.raises(RuntimeError, match="went away"):
            await writer.write([report(i) for i in ids[:2]])
        assert await states(ready, ids[:2]) == [SmsState.SUBMITTED] * 2
        assert await writer.write([report(i) for i in ids]) == [Verdict.APPLIED] * 4
    finally:
        await writer.close()
    assert writer.stats.failed_flushes == 1
    assert await states(ready, ids) == [SmsState.DELIVERED] * 4


async def test_background_reports_are_retried_then_dropped(
    ready: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SMPP reports have no caller to tell: a failed flush is tried again, three times in all."""
    ids = await add_messages(ready, 2)
    failures = {"left": 2}

    async def flaky(session: AsyncSession, items: Sequence[IncomingReceipt]) -> list[Verdict]:
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("lock timeout")
        return await apply_receipts(session, items)

    monkeypatch.setattr(receipt_writer, "apply_receipts", flaky)
    writer = ReceiptWriter(ready.sessions, linger=0.0)
    writer.enqueue([report(ids[0])])
    await writer.close()
    assert await states(ready, ids[:1]) == [SmsState.DELIVERED]
    assert (writer.stats.failed_flushes, writer.stats.dropped) == (2, 0)

    failures["left"] = 10
    writer = ReceiptWriter(ready.sessions, linger=0.0)
    writer.enqueue([report(ids[1])])
    await writer.close()
    assert await states(ready, ids[1:]) == [SmsState.SUBMITTED]
    assert (writer.stats.failed_flushes, writer.stats.dropped) == (3, 1)


async def test_full_queue_and_closed_writer_refuse(ready: AppContext) -> None:
    ids = await add_messages(ready, 3)
    writer = ReceiptWriter(ready.sessions, max_pending=2, linger=0.05)
    writer.enqueue([report(ids[0]), report(ids[1])])
    with pytest.raises(WriterUnavailable, match="waiting"):
        writer.enqueue([report(ids[2])])
    await writer.close()  # flushes what was accepted
    assert await states(ready, ids) == [SmsState.DELIVERED, SmsState.DELIVERED, SmsState.SUBMITTED]
    with pytest.raises(WriterUnavailable, match="closing"):
        await writer.write([report(ids[2])])


async def test_concurrent_flushes_on_the_same_rows(ready: AppContext) -> None:
    """Two flushes at once (PostgreSQL's setting) touching the same rows, in opposite orders.

    Segment reports of one message in both: the second waits for the first's
    row locks and adds to what it wrote. Unknown references in opposite
    orders in both: neither waits for the other crosswise (no deadlock).
    """
    ids = await add_messages(ready, 50, segments=2)
    writer = ReceiptWriter(ready.sessions, linger=0.0, max_rows=100, concurrency=2)
    first = [report(i, segment=1) for i in ids] + [report(f"x{n}") for n in range(20)]
    second = [report(i, segment=2) for i in reversed(ids)]
    second += [report(f"x{n}") for n in reversed(range(20))]
    try:
        await asyncio.wait_for(asyncio.gather(writer.write(first), writer.write(second)), 60)
    finally:
        await writer.close()
    assert writer.stats.flushes == 2
    assert set(await states(ready, ids)) == {SmsState.DELIVERED}
    assert len(await unmatched(ready)) == 20


async def test_concurrent_flushes_keep_unknown_references_once(ready: AppContext) -> None:
    """Two flushes at once storing the same unknown references, listed in opposite orders.

    Each waits for the other's conflicting insert; in the same key order that
    is a queue, in opposite orders it would be a deadlock (PostgreSQL).
    """
    references = [f"x{n:04d}" for n in range(2000)]
    writer = ReceiptWriter(ready.sessions, linger=0.0, max_rows=2000, concurrency=2)
    try:
        answers = await asyncio.wait_for(
            asyncio.gather(
                writer.write([report(r) for r in references]),
                writer.write([report(r) for r in reversed(references)]),
            ),
            60,
        )
    finally:
        await writer.close()
    assert writer.stats.flushes == 2
    assert [set(a) for a in answers] == [{Verdict.UNMATCHED}] * 2
    assert len(await unmatched(ready)) == 2000
