"""Never twice, whatever retries: an unknown outcome is resent only where it is recognised."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlmodel import select

from channels.errors import ChannelError, TransientChannelError
from channels.sms import OutboundSms, OutcomeUnknown, SubmitResult
from channels.sms.receipts import ReceiptState
from service.context import AppContext
from service.db import transaction
from service.delivery.models import SmsMessage, SmsState
from service.dispatch import jobs
from service.dispatch.models import Dispatch, DispatchState
from service.dispatch.outcomes import RetryLater, Sent
from service.dispatch.sms_send import _claim, run_sms_batch
from service.recipients.models import Subscriber
from tests.dispatch.conftest import channels_for, make_network, plan_now
from tests.dispatch.test_dispatch_e2e import FAR, NAIROBI_POLYGON, _a_targeted_cell, post
from tests.service.capdocs import cap_alert
from tests.service.conftest import Keys


@dataclass
class FakeGateway:
    name: str
    deduplicates: bool
    failures: list[ChannelError] = field(default_factory=list)  # one per call, then success
    calls: list[list[str]] = field(default_factory=list)

    async def submit_many(
        self, messages: Sequence[OutboundSms]
    ) -> list[SubmitResult | ChannelError]:
        self.calls.append([m.correlation_id for m in messages])
        if self.failures:
            error = self.failures.pop(0)
            return [error for _ in messages]
        return [
            SubmitResult(m.correlation_id, self.name, ReceiptState.SUBMITTED, 1, "gsm7", ("x",))
            for m in messages
        ]


@dataclass
class FakeRegistry:
    fakes: list[FakeGateway]

    def gateways(self, operator_id: str, stored: dict[str, Any]) -> list[Any]:
        return list(self.fakes)


async def _planned_batch(ctx: AppContext, api: httpx.AsyncClient, keys: Keys) -> str:
    await make_network(ctx, "amb", channels_for([], "http://127.0.0.1:9"))
    cell = await _a_targeted_cell(ctx, api, keys, "amb")
    async with transaction(ctx.sessions) as session:
        for n in range(4):
            session.add(Subscriber(msisdn=f"25474000000{n}", operator_id="amb", cell_id=cell))
    alert = await post(api, keys, cap_alert("amb-1", expires=FAR, polygon=NAIROBI_POLYGON))
    await plan_now(ctx, alert["id"])
    async with transaction(ctx.sessions) as session:
        (dispatch,) = (await session.exec(select(Dispatch))).all()
    return dispatch.id


async def _rows(ctx: AppContext) -> list[SmsMessage]:
    async with transaction(ctx.sessions) as session:
        return list((await session.exec(select(SmsMessage))).all())


@pytest.mark.parametrize(
    "error",
    [
        OutcomeUnknown("gateway a: timeout after the request was sent"),
        OutcomeUnknown("SMPP connection lost while waiting"),
    ],
)
async def test_an_unknown_outcome_is_not_resent_through_a_gateway_without_idempotency(
    app_context: AppContext, api: httpx.AsyncClient, keys: Keys, error: ChannelError
) -> None:
    dispatch_id = await _planned_batch(app_context, api, keys)
    first = FakeGateway("a", deduplicates=False, failures=[error])
    second = FakeGateway("b", deduplicates=True)
    registry = FakeRegistry([first, second])
    outcome = await run_sms_batch(app_context, registry, dispatch_id, 1)  # type: ignore[arg-type]
    assert isinstance(outcome, Sent)  # nothing left to retry
    rows = await _rows(app_context)
    assert {r.state for r in rows} == {SmsState.UNKNOWN}
    assert all(r.error and r.error.startswith("outcome unknown, not resent") for r in rows)
    assert len(first.calls) == 1
    assert second.calls == []  # no fail-over of a message the first gateway may have sent


async def test_an_unknown_outcome_is_retried_at_the_same_deduplicating_gateway_only(
    app_context: AppContext, api: httpx.AsyncClient, keys: Keys
) -> None:
    dispatch_id = await _planned_batch(app_context, api, keys)
    first = FakeGateway("a", deduplicates=True, failures=[OutcomeUnknown("a: timeout")])
    second = FakeGateway("b", deduplicates=True)
    registry = FakeRegistry([first, second])
    outcome = await run_sms_batch(app_context, registry, dispatch_id, 1)  # type: ignore[arg-type]
    assert isinstance(outcome, RetryLater)
    assert {(r.state, r.gateway) for r in await _rows(app_context)} == {(SmsState.QUEUED, "a")}
    outcome = await run_sms_batch(app_context, registry, dispatch_id, 2)  # type: ignore[arg-type]
    assert isinstance(outcome, Sent)
    assert second.calls == []  # attempt 2 would fail over to b: the tied recipients stay with a
    assert len(first.calls) == 2
    assert first.calls[0] == first.calls[1]  # the same request again: the same idempotency key
    assert {(r.state, r.gateway) for r in await _rows(app_context)} == {(SmsState.SUBMITTED, "a")}


async def test_a_refusal_before_acceptance_fails_over_to_the_next_gateway(
    app_context: AppContext, api: httpx.AsyncClient, keys: Keys
) -> None:
    dispatch_id = await _planned_batch(app_context, api, keys)
    refused = TransientChannelError("a: HTTP 503 'Temporal failure'")
    first = FakeGateway("a", deduplicates=False, failures=[refused])
    second = FakeGateway("b", deduplicates=False)
    registry = FakeRegistry([first, second])
    assert isinstance(await run_sms_batch(app_context, registry, dispatch_id, 1), RetryLater)  # type: ignore[arg-type]
    assert {(r.state, r.gateway) for r in await _rows(app_context)} == {(SmsState.QUEUED, None)}
    assert isinstance(await run_sms_batch(app_context, registry, dispatch_id, 2), Sent)  # type: ignore[arg-type]
    assert len(second.calls) == 1
    assert {(r.state, r.gateway) for r in await _rows(app_context)} == {(SmsState.SUBMITTED, "b")}


async def test_a_cancel_leaves_tied_recipients_unknown_not_cancelled(
    app_context: AppContext, api: httpx.AsyncClient, keys: Keys
) -> None:
    from service.dispatch.sms_plan import stop_queued_sms

    dispatch_id = await _planned_batch(app_context, api, keys)
    first = FakeGateway("a", deduplicates=True, failures=[OutcomeUnknown("a: timeout")])
    await run_sms_batch(app_context, FakeRegistry([first]), dispatch_id, 1)  # type: ignore[arg-type]
    async with transaction(app_context.sessions) as session:
        await stop_queued_sms(session, dispatch_id)
    assert {r.state for r in await _rows(app_context)} == {SmsState.UNKNOWN}


async def _dispatch(ctx: AppContext, dispatch_id: str) -> Dispatch:
    async with transaction(ctx.sessions) as session:
        dispatch = await session.get(Dispatch, dispatch_id)
        assert dispatch is not None
        return dispatch


async def test_a_batch_that_gave_up_has_no_submitted_at(
    app_context: AppContext, api: httpx.AsyncClient, keys: Keys
) -> None:
    from service.dispatch.outcomes import MAX_ATTEMPTS

    dispatch_id = await _planned_batch(app_context, api, keys)
    down = TransientChannelError("a: HTTP 503")
    gateway = FakeGateway("a", deduplicates=False, failures=[down] * MAX_ATTEMPTS)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        await run_sms_batch(app_context, FakeRegistry([gateway]), dispatch_id, attempt)  # type: ignore[arg-type]
    dispatch = await _dispatch(app_context, dispatch_id)
    assert dispatch.state == "failed"
    assert dispatch.submitted_at is None  # gave up: nothing was submitted
    assert dispatch.finished_at is not None


@pytest.mark.parametrize("accepted", [False, True])
async def test_submitted_at_only_when_a_gateway_took_something(
    app_context: AppContext, api: httpx.AsyncClient, keys: Keys, accepted: bool
) -> None:
    from channels.errors import PermanentChannelError

    dispatch_id = await _planned_batch(app_context, api, keys)
    failures: list[ChannelError] = [] if accepted else [PermanentChannelError("no")]
    gateway = FakeGateway("a", deduplicates=False, failures=failures)
    await run_sms_batch(app_context, FakeRegistry([gateway]), dispatch_id, 1)  # type: ignore[arg-type]
    submitted_at = (await _dispatch(app_context, dispatch_id)).submitted_at
    assert (submitted_at is not None) is accepted


async def _claimed_by_a_run_that_died(ctx: AppContext, dispatch_id: str, in_flight: int) -> None:
    """Attempt 1 claimed and `in_flight` recipients taken for sending, then nothing more."""
    assert await _claim(ctx, dispatch_id, 1) is not None
    async with transaction(ctx.sessions) as session:
        rows = (await session.exec(select(SmsMessage).order_by(SmsMessage.id))).all()
        for row in rows[:in_flight]:
            row.state = SmsState.SENDING
            session.add(row)


async def test_a_resumed_attempt_finishes_the_batch_its_first_run_claimed(
    app_context: AppContext, api: httpx.AsyncClient, keys: Keys
) -> None:
    # The first run lost a deadlock (or its worker died) after claiming attempt 1,
    # with one recipient's window in flight.
    dispatch_id = await _planned_batch(app_context, api, keys)
    await _claimed_by_a_run_that_died(app_context, dispatch_id, in_flight=1)
    gateway = FakeGateway("a", deduplicates=True)
    registry = FakeRegistry([gateway])
    stale = await run_sms_batch(app_context, registry, dispatch_id, 1)  # type: ignore[arg-type]
    assert isinstance(stale, Sent)
    assert gateway.calls == []  # a duplicate still does nothing
    resumed = await run_sms_batch(app_context, registry, dispatch_id, 1, resumed=True)  # type: ignore[arg-type]
    assert isinstance(resumed, Sent)
    rows = sorted(await _rows(app_context), key=lambda r: r.id or 0)
    assert [r.state for r in rows] == [SmsState.UNKNOWN] + [SmsState.SUBMITTED] * 3
    assert rows[0].error == "worker stopped while sending; not resent"
    assert gateway.calls == [[str(r.id) for r in rows[1:]]]  # never the one in flight
    async with transaction(app_context.sessions) as session:
        dispatch = await session.get(Dispatch, dispatch_id)
        assert dispatch is not None
        assert dispatch.state != DispatchState.QUEUED
        assert dispatch.attempts == 1


async def test_the_queue_running_a_job_again_resumes_its_attempt(
    app_context: AppContext, api: httpx.AsyncClient, keys: Keys
) -> None:
    dispatch_id = await _planned_batch(app_context, api, keys)
    await _claimed_by_a_run_that_died(app_context, dispatch_id, in_flight=0)
    gateway = FakeGateway("a", deduplicates=True)
    ctx = {"app": app_context, "registry": FakeRegistry([gateway]), "job_try": 2}
    assert await jobs.run_sms_batch(ctx, dispatch_id, 1) == "done"
    assert {r.state for r in await _rows(app_context)} == {SmsState.SUBMITTED}
    assert len(gateway.calls) == 1
