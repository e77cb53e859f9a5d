"""The generic signed-JSON CBC adapter over real HTTP against the simulator."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time

import httpx
import pytest
from cbc_support import SECRET, CallbackSink, make_message, updated
from pydantic import SecretStr

from channels.cbc import (
    BroadcastSchedule,
    BroadcastTargets,
    GenericCbcConfig,
    GenericHttpCbc,
    InvalidSignature,
    Submission,
    build_jobs,
    sign,
    signed_request_headers,
    verify,
    verify_request,
)
from channels.cbs import WarningArea, encode_warning_area
from channels.errors import PermanentChannelError, TransientChannelError
from channels.simulators.cbc import CbcSimulator

CELLS = BroadcastTargets(cells=tuple(f"262-01-{i}" for i in range(5)))


def adapter(
    sim: CbcSimulator, client: httpx.AsyncClient, *, secret: str = SECRET, **options: object
) -> GenericHttpCbc:
    config = GenericCbcConfig(base_url=sim.base_url, secret=SecretStr(secret), **options)
    return GenericHttpCbc(config, client)


def test_callback_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    body = b'{"key":"a"}'
    expected = hmac.new(b"k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign("k", 1700000000, body) == "sha256=" + expected
    headers = {"X-Tocsin-Timestamp": "1700000000", "X-Tocsin-Signature": "sha256=" + expected}
    verify("k", headers, body, now=1700000100)
    with pytest.raises(InvalidSignature, match="does not match"):
        verify("k", headers, body + b" ", now=1700000100)
    with pytest.raises(InvalidSignature, match="from now"):
        verify("k", headers, body, now=1700000301)
    with pytest.raises(InvalidSignature, match="required"):
        verify("k", {}, body, now=1700000000)


def test_request_signature_covers_method_target_key_and_body() -> None:
    signed = b"1700000000\nDELETE\n/jobs/a%3Ab\na:b\n"
    expected = "sha256=" + hmac.new(b"k", signed, hashlib.sha256).hexdigest()
    headers = signed_request_headers(
        "k", 1700000000, b"", method="DELETE", target="/jobs/a%3Ab", key="a:b"
    )
    assert headers["X-Tocsin-Signature"] == expected
    assert headers["Idempotency-Key"] == "a:b"
    verify_request("k", headers, b"", method="DELETE", target="/jobs/a%3Ab", now=1700000000)
    for method, target, key in [
        ("GET", "/jobs/a%3Ab", "a:b"),
        ("DELETE", "/jobs/other", "a:b"),
        ("DELETE", "/jobs/a%3Ab?all=1", "a:b"),
        ("DELETE", "/jobs/a%3Ab", "other"),
    ]:
        changed = headers | {"Idempotency-Key": key}
        with pytest.raises(InvalidSignature, match="does not match"):
            verify_request("k", changed, b"", method=method, target=target, now=1700000000)
    # A callback signature is never a valid request signature, and the other way round.
    with pytest.raises(InvalidSignature):
        verify("k", headers, b"", now=1700000000)
    callback = {
        "X-Tocsin-Timestamp": "1700000000",
        "X-Tocsin-Signature": sign("k", 1700000000, b""),
    }
    with pytest.raises(InvalidSignature):
        verify_request("k", callback, b"", method="GET", target="/health", now=1700000000)


async def test_a_captured_bodiless_signature_cannot_kill_a_live_job(
    simulator: CbcSimulator, client: httpx.AsyncClient
) -> None:
    """The replay the old body-only signature allowed: GET /health's headers on DELETE /jobs/k."""
    await adapter(simulator, client).submit(make_message(), targets=CELLS, idempotency_key="k")
    stamp = int(time.time())
    health = signed_request_headers(SECRET, stamp, b"", method="GET", target="/health", key=None)
    assert (await client.get(f"{simulator.base_url}/health", headers=health)).status_code == 200
    other = signed_request_headers(
        SECRET, stamp, b"", method="DELETE", target="/jobs/other", key="other"
    )
    for headers in (
        health,
        health | {"Idempotency-Key": "k"},
        other,
        other | {"Idempotency-Key": "k"},
    ):
        replayed = await client.delete(f"{simulator.base_url}/jobs/k", headers=headers)
        assert replayed.status_code == 401
    assert list(simulator.jobs) == ["k"]
    assert len(simulator.errors) == 4
    simulator.errors.clear()


async def test_a_base_url_with_a_path_is_signed_with_that_path(
    simulator: CbcSimulator, client: httpx.AsyncClient
) -> None:
    seen: list[httpx.Request] = []

    async def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    config = GenericCbcConfig(base_url="http://gw.example/tocsin/", secret=SecretStr("k"))
    async with httpx.AsyncClient(transport=httpx.MockTransport(record)) as mock:
        cbc = GenericHttpCbc(config, mock, clock=lambda: 1700000000)
        await cbc.cancel(Submission("generic-http", "a b", 4371, 0, remote_ids=("a b",)))
    (request,) = seen
    assert request.url.raw_path == b"/tocsin/jobs/a%20b"
    verify_request(
        "k", request.headers, b"", method="DELETE", target="/tocsin/jobs/a%20b", now=1700000000
    )


async def test_submit_is_checked_and_decoded_by_the_cbc(
    simulator: CbcSimulator, client: httpx.AsyncClient
) -> None:
    wac = encode_warning_area(WarningArea(circles=((52.37, 4.89, 2.5),)))
    targets = BroadcastTargets(cells=("c1", "c2"), tracking_areas=("ta1",), warning_area=wac)
    message = make_message("Gas leak. Stay indoors, close windows." * 5)
    submission = await adapter(simulator, client).submit(
        message, targets=targets, idempotency_key="alert-1:op-a:en"
    )
    assert submission.remote_ids == ("alert-1:op-a:en",)
    live = simulator.jobs["alert-1:op-a:en"]
    assert live.text == message.text
    assert (live.job.cells, live.job.tracking_areas) == (["c1", "c2"], ["ta1"])
    assert live.job.warning_area_coordinates == wac.hex().upper()
    assert (live.job.purpose, live.job.language, live.job.dcs) == ("public", "en", 1)


async def test_replayed_submit_is_idempotent_and_a_reused_key_is_refused(
    simulator: CbcSimulator, client: httpx.AsyncClient
) -> None:
    cbc = adapter(simulator, client)
    await cbc.submit(make_message(), targets=CELLS, idempotency_key="k")
    await cbc.submit(make_message(), targets=CELLS, idempotency_key="k")
    assert list(simulator.jobs) == ["k"]
    with pytest.raises(PermanentChannelError, match="different job"):
        await cbc.submit(make_message("Other text"), targets=CELLS, idempotency_key="k")


async def test_wrong_secret_is_permanent_and_shows_in_the_link_test(
    simulator: CbcSimulator, client: httpx.AsyncClient
) -> None:
    cbc = adapter(simulator, client, secret="wrong")
    with pytest.raises(PermanentChannelError, match="401"):
        await cbc.submit(make_message(), targets=CELLS, idempotency_key="k")
    status = await cbc.check()
    assert not status.reachable
    assert "401" in status.detail
    assert len(simulator.errors) == 2
    simulator.errors.clear()
    assert (await adapter(simulator, client).check()).reachable


async def test_more_than_65535_cells_are_split_into_keyed_requests(
    simulator: CbcSimulator, client: httpx.AsyncClient
) -> None:
    cells = BroadcastTargets(cells=tuple(f"cell-{i}" for i in range(65535 + 10)))
    submission = await adapter(simulator, client).submit(
        make_message(), targets=cells, idempotency_key="big"
    )
    assert submission.remote_ids == ("big", "big-2")
    first, second = simulator.jobs["big"].job, simulator.jobs["big-2"].job
    assert (len(first.cells), len(second.cells)) == (65535, 10)
    assert (first.part.index, second.part.index, second.part.count) == (1, 2, 2)
    assert second.part.group_key == "big"


def test_split_parts_share_the_warning_area_but_not_the_tracking_areas() -> None:
    wac = encode_warning_area(WarningArea(circles=((52.37, 4.89, 2.5),)))
    targets = BroadcastTargets(cells=("c1", "c2", "c3"), tracking_areas=("ta",), warning_area=wac)
    jobs = build_jobs(
        make_message(), targets, BroadcastSchedule(), key="k", callback_url=None, max_cells=2
    )
    assert [job.key for job in jobs] == ["k", "k-2"]
    assert [job.cells for job in jobs] == [["c1", "c2"], ["c3"]]
    assert [job.tracking_areas for job in jobs] == [["ta"], []]
    assert {job.warning_area_coordinates for job in jobs} == {wac.hex().upper()}


async def test_a_retry_completes_a_partly_submitted_split_job(
    simulator: CbcSimulator, client: httpx.AsyncClient
) -> None:
    cbc = adapter(simulator, client, max_cells_per_request=2)
    simulator.fail_next(1, 503, skip=1)  # part 1 lands, part 2 fails
    with pytest.raises(TransientChannelError, match="503"):
        await cbc.submit(make_message(), targets=CELLS, idempotency_key="k")
    assert list(simulator.jobs) == ["k"]
    submission = await cbc.submit(make_message(), targets=CELLS, idempotency_key="k")
    assert submission.remote_ids == ("k", "k-2", "k-3")
    assert sorted(simulator.jobs) == ["k", "k-2", "k-3"]


async def test_lost_responses_are_transient_and_the_retry_finds_the_work_done(
    simulator: CbcSimulator, client: httpx.AsyncClient, sink: CallbackSink
) -> None:
    """The CBC processed each request but the connection dropped before its answer."""
    cbc = adapter(simulator, client, callback_url=sink.url)
    first = make_message("Flood warning")
    simulator.drop_next(1, when="after")
    with pytest.raises(TransientChannelError, match="connection failed"):
        await cbc.submit(first, targets=CELLS, idempotency_key="k")
    assert list(simulator.jobs) == ["k"]  # it landed
    submission = await cbc.submit(first, targets=CELLS, idempotency_key="k")  # 200 "exists"
    assert submission.remote_ids == ("k",)
    assert list(simulator.jobs) == ["k"]
    assert simulator.requests.count("POST /jobs") == 2

    second = updated(first, "Flood warning extended")
    simulator.drop_next(1, when="after")
    with pytest.raises(TransientChannelError):
        await cbc.replace(submission, second, targets=CELLS)
    replaced = await cbc.replace(submission, second, targets=CELLS)  # the same PUT again
    assert simulator.jobs["k"].text == second.text
    assert simulator.jobs["k"].job.serial_number == replaced.serial_number

    simulator.drop_next(1, when="after")
    with pytest.raises(TransientChannelError):
        await cbc.cancel(replaced)
    assert simulator.jobs == {}
    await cbc.cancel(replaced)  # 404: already gone, which counts as killed
    # The CBC reports the kill it processed, signed like every callback.
    await sink.wait_for(lambda reports: any(r.statuses[0].status == "stopped" for r in reports))
    assert sink.rejected == 0


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (500, TransientChannelError),
        (503, TransientChannelError),
        (400, PermanentChannelError),
        (422, PermanentChannelError),
    ],
)
async def test_status_mapping(
    simulator: CbcSimulator, client: httpx.AsyncClient, status: int, kind: type[Exception]
) -> None:
    simulator.fail_next(1, status)
    with pytest.raises(kind, match=str(status)):
        await adapter(simulator, client).submit(make_message(), targets=CELLS, idempotency_key="k")


async def test_429_carries_retry_after(client: httpx.AsyncClient) -> None:
    transport = httpx.MockTransport(
        lambda request: httpx.Response(429, headers={"Retry-After": "7"})
    )
    async with httpx.AsyncClient(transport=transport) as mocked:
        config = GenericCbcConfig(base_url="http://cbc.invalid", secret=SecretStr(SECRET))
        with pytest.raises(TransientChannelError) as caught:
            await GenericHttpCbc(config, mocked).submit(
                make_message(), targets=CELLS, idempotency_key="k"
            )
    assert caught.value.retry_after == 7.0


async def test_timeouts_outages_and_dropped_connections_are_transient(
    simulator: CbcSimulator, client: httpx.AsyncClient
) -> None:
    cbc = adapter(simulator, client, timeout_s=0.2)
    simulator.set_latency(0.5)
    with pytest.raises(TransientChannelError, match="no answer"):
        await cbc.submit(make_message(), targets=CELLS, idempotency_key="k")
    simulator.set_latency(0)
    simulator.drop_next(1, when="before")
    with pytest.raises(TransientChannelError, match="connection"):
        await cbc.cancel(await cbc.submit(make_message(), targets=CELLS, idempotency_key="k"))
    await simulator.go_down()
    with pytest.raises(TransientChannelError, match="connection failed"):
        await cbc.submit(make_message(), targets=CELLS, idempotency_key="k")
    await simulator.come_back()
    await cbc.cancel(await cbc.submit(make_message(), targets=CELLS, idempotency_key="k"))
    assert simulator.jobs == {}


async def test_outage_ordered_through_the_control_api(
    simulator: CbcSimulator, client: httpx.AsyncClient
) -> None:
    cbc = adapter(simulator, client)
    await client.post(
        f"{simulator.base_url}/_control",
        json={"down_for_s": 0.5, "fail": {"count": 1, "status": 502}},
    )
    await asyncio.sleep(0.2)
    with pytest.raises(TransientChannelError, match="connection failed"):
        await cbc.submit(make_message(), targets=CELLS, idempotency_key="k")
    await asyncio.sleep(0.6)
    with pytest.raises(TransientChannelError, match="502"):
        await cbc.submit(make_message(), targets=CELLS, idempotency_key="k")
    await cbc.submit(make_message(), targets=CELLS, idempotency_key="k")
    state = (await client.get(f"{simulator.base_url}/_state")).json()
    assert list(state["jobs"]) == ["k"]
    assert state["jobs"]["k"]["text"] == make_message().text
    assert state["jobs"]["k"]["message_identifier"] == 4371


async def test_callbacks_are_signed_batched_and_report_failures(
    simulator: CbcSimulator, client: httpx.AsyncClient, sink: CallbackSink
) -> None:
    simulator.failing_cells = {"262-01-3"}
    cbc = adapter(simulator, client, callback_url=sink.url)
    submission = await cbc.submit(make_message(), targets=CELLS, idempotency_key="k")

    def states() -> dict[str, list[str]]:
        seen: dict[str, list[str]] = {}
        for report in sink.reports:
            for status in report.statuses:
                seen.setdefault(status.cell_id, []).append(status.status)
        return seen

    await sink.wait_for(lambda reports: len(reports) == 6)  # 5 cells, batches of 2, two states
    assert all(len(report.statuses) <= 2 for report in sink.reports)
    assert states()["262-01-0"] == ["acknowledged", "broadcasting"]
    assert states()["262-01-3"] == ["failed", "failed"]
    await cbc.cancel(submission)
    await sink.wait_for(lambda reports: len(reports) == 9)
    assert states()["262-01-3"][-1] == "stopped"
    assert sink.rejected == 0
    assert {report.key for report in sink.reports} == {"k"}


async def test_replace_puts_new_content_and_adjusts_the_parts(
    simulator: CbcSimulator, client: httpx.AsyncClient
) -> None:
    cbc = adapter(simulator, client, max_cells_per_request=2)
    first = make_message("Storm warning")
    submission = await cbc.submit(first, targets=CELLS, idempotency_key="k")
    assert submission.remote_ids == ("k", "k-2", "k-3")
    second = updated(first, "Storm warning: now also for the coast")
    fewer = BroadcastTargets(cells=CELLS.cells[:3])
    replaced = await cbc.replace(
        submission, second, targets=fewer, schedule=BroadcastSchedule(repetition_period_s=30)
    )
    assert replaced.remote_ids == ("k", "k-2")
    assert sorted(simulator.jobs) == ["k", "k-2"]
    assert simulator.jobs["k"].text == "Storm warning: now also for the coast"
    assert simulator.jobs["k"].job.serial_number == second.serial_number.encode()
    assert simulator.jobs["k"].job.repetition_period_s == 30
    third = updated(second, "Storm warning lifted at noon")
    del simulator.jobs["k-2"]  # the CBC forgot a part: PUT 404 falls back to POST
    again = await cbc.replace(replaced, third, targets=CELLS)
    assert again.remote_ids == ("k", "k-2", "k-3")
    assert {live.text for live in simulator.jobs.values()} == {"Storm warning lifted at noon"}


async def test_job_wire_format(simulator: CbcSimulator, client: httpx.AsyncClient) -> None:
    await adapter(simulator, client).submit(
        make_message("Test"),
        targets=CELLS,
        idempotency_key="k",
        schedule=BroadcastSchedule(num_broadcasts=3),
    )
    job = (await client.get(f"{simulator.base_url}/jobs/k")).json()["job"]
    assert set(job) == {
        "key",
        "message_identifier",
        "serial_number",
        "dcs",
        "language",
        "purpose",
        "pages",
        "page_lengths",
        "etws",
        "cells",
        "tracking_areas",
        "warning_area_coordinates",
        "repetition_period_s",
        "num_broadcasts",
        "expires_at",
        "callback_url",
        "part",
    }
    assert job["page_lengths"] == [4]
    assert json.loads(json.dumps(job))["num_broadcasts"] == 3
