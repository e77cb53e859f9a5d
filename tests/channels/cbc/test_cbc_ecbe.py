"""The osmo-cbc ECBE adapter over real HTTP against the simulator, telecom.md §2 quirks included."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

import httpx
import pytest
from cbc_support import make_message, updated

from channels.cbc import BroadcastSchedule, BroadcastTargets, EcbeCbc, EcbeConfig, ecbe_message
from channels.cbs import CbsPage, EtwsWarning, EtwsWarningType
from channels.errors import PermanentChannelError, TransientChannelError
from channels.simulators.cbc import CbcSimulator

PLMN = BroadcastTargets()
HELLO = make_message("Hello").pages[0].content
ZERO_FILLED = HELLO[:5] + bytes(77)  # "Hello" is 5 septets in 5 octets
MIXED_LANGUAGES = {  # DCS 0x10: every page says its language, and these two disagree
    "dcs": 0x10,
    "pages": [
        make_message("Salut", language="ro").pages[0].content.hex(),
        make_message("Moien", language="lb").pages[0].content.hex(),
    ],
}


def adapter(sim: CbcSimulator, client: httpx.AsyncClient, **options: object) -> EcbeCbc:
    return EcbeCbc(EcbeConfig(base_url=sim.base_url, **options), client)


def test_body_has_the_shape_osmo_cbc_parses() -> None:
    message = make_message("a" * 100)
    schedule = BroadcastSchedule(repetition_period_s=30, num_broadcasts=5, warning_period_s=600)
    body = ecbe_message(message, schedule, EcbeConfig(base_url="http://x", cbe_name="tocsin-test"))
    assert body["cbe_name"] == "tocsin-test"
    assert (body["repetition_period"], body["num_of_bcast"], body["warning_period_sec"]) == (
        30,
        5,
        600,
    )
    assert body["scope"] == {"scope_plmn": {}}
    smscb = body["smscb_message"]
    assert smscb["message_id"] == 4371
    assert smscb["serial_nr"] == {
        "serial_nr_decoded": {"geo_scope": "plmn_wide", "msg_code": 100, "update_nr": 0}
    }
    encoded = smscb["payload"]["payload_encoded"]
    assert encoded["dcs"] == 0x01
    assert [len(page) for page in encoded["pages"]] == [164, 164]


def test_etws_uses_the_encoded_warning_type_never_the_misspelt_name() -> None:
    warning = EtwsWarning(EtwsWarningType.EARTHQUAKE_AND_TSUNAMI, popup=False)
    message = replace(make_message(identifier=4354), etws=warning)
    body = ecbe_message(message, BroadcastSchedule(), EcbeConfig(base_url="http://x"))
    etws = body["smscb_message"]["payload"]["payload_etws"]
    assert etws == {
        "warning_type": {"warning_type_encoded": 2},
        "emergency_user_alert": True,
        "popup_on_display": False,
    }
    assert "tsuna" not in json.dumps(body)


async def test_submit_is_decoded_page_by_page_by_the_cbc(
    simulator: CbcSimulator, client: httpx.AsyncClient
) -> None:
    message = make_message("Evacuate " * 30)
    submission = await adapter(simulator, client).submit(
        message, targets=PLMN, idempotency_key="k1"
    )
    assert (submission.remote_ids, submission.plmn_wide, submission.already_active) == (
        ("4371",),
        True,
        False,
    )
    stored = simulator.messages[4371]
    assert "".join(stored.texts) == message.text
    assert (stored.serial_number, stored.language) == (message.serial_number.encode(), "en")


async def test_duplicate_post_is_409_and_read_as_already_there(
    simulator: CbcSimulator, client: httpx.AsyncClient
) -> None:
    cbc = adapter(simulator, client)
    await cbc.submit(make_message(), targets=PLMN, idempotency_key="k1")
    again = await cbc.submit(make_message(), targets=PLMN, idempotency_key="k1")
    assert again.already_active
    assert simulator.requests.count("POST /api/ecbe/v1/message") == 2


async def test_lost_response_is_retried_and_409_means_it_landed(
    simulator: CbcSimulator, client: httpx.AsyncClient
) -> None:
    simulator.drop_next(1, when="after")  # processed by the CBC, response never arrives
    submission = await adapter(simulator, client).submit(
        make_message(), targets=PLMN, idempotency_key="k"
    )
    assert submission.already_active
    assert list(simulator.messages) == [4371]


async def test_timeout_is_transient_and_a_later_retry_succeeds(
    simulator: CbcSimulator, client: httpx.AsyncClient
) -> None:
    simulator.set_latency(0.6)
    cbc = adapter(simulator, client, timeout_s=0.2, post_attempts=1)
    with pytest.raises(TransientChannelError, match=r"no answer within 0\.2 s"):
        await cbc.submit(make_message(), targets=PLMN, idempotency_key="k")
    await asyncio.sleep(0.6)  # the hung POST completes inside the CBC, as in osmo-cbc's race
    simulator.set_latency(0)
    assert (await cbc.submit(make_message(), targets=PLMN, idempotency_key="k")).already_active


async def test_no_peers_is_transient_with_a_clear_message(
    simulator: CbcSimulator, client: httpx.AsyncClient
) -> None:
    simulator.no_peers = True
    with pytest.raises(TransientChannelError, match="no connected BSC/MME/AMF peer"):
        await adapter(simulator, client).submit(make_message(), targets=PLMN, idempotency_key="k")


async def test_no_peers_then_a_retry_creates_the_message_afresh_not_already_there(
    simulator: CbcSimulator, client: httpx.AsyncClient
) -> None:
    """osmo-cbc keeps a no-peers message stored: left there, the retry's 409 would read as
    "submitted" with nothing on the air."""
    cbc = adapter(simulator, client)
    simulator.no_peers = True
    with pytest.raises(TransientChannelError, match="no connected BSC/MME/AMF peer"):
        await cbc.submit(make_message(), targets=PLMN, idempotency_key="k")
    assert simulator.messages == {}  # deleted before the error was raised
    assert simulator.requests[-2:] == [
        "POST /api/ecbe/v1/message",
        "DELETE /api/ecbe/v1/message/4371",
    ]
    simulator.no_peers = False
    retried = await cbc.submit(make_message(), targets=PLMN, idempotency_key="k")
    assert not retried.already_active
    assert list(simulator.messages) == [4371]


async def test_no_peers_whose_clean_up_fails_is_not_trusted_on_the_next_409(
    simulator: CbcSimulator, client: httpx.AsyncClient
) -> None:
    cbc = adapter(simulator, client)
    simulator.no_peers = True
    simulator.fail_next(1, 503, skip=1)  # the POST answers "no peers", its DELETE gets 503
    with pytest.raises(TransientChannelError, match="deleting the stored message failed"):
        await cbc.submit(make_message(), targets=PLMN, idempotency_key="k")
    assert list(simulator.messages) == [4371]  # still stored, nothing on the air
    simulator.no_peers = False
    retried = await cbc.submit(make_message(), targets=PLMN, idempotency_key="k")
    assert not retried.already_active  # the 409 led to DELETE + POST, not to "submitted"
    assert simulator.requests[-3:] == [
        "POST /api/ecbe/v1/message",
        "DELETE /api/ecbe/v1/message/4371",
        "POST /api/ecbe/v1/message",
    ]


async def test_a_409_not_preceded_by_our_own_post_is_resolved_by_recreating(
    simulator: CbcSimulator, client: httpx.AsyncClient
) -> None:
    """A POST made before a restart (another adapter): its state is unknown, ECBE has no GET."""
    await adapter(simulator, client).submit(make_message(), targets=PLMN, idempotency_key="k")
    again = await adapter(simulator, client).submit(
        make_message(), targets=PLMN, idempotency_key="k"
    )
    assert not again.already_active
    assert list(simulator.messages) == [4371]
    assert simulator.requests[-2:] == [
        "DELETE /api/ecbe/v1/message/4371",
        "POST /api/ecbe/v1/message",
    ]


async def test_a_409_that_survives_the_delete_is_transient(
    simulator: CbcSimulator, client: httpx.AsyncClient
) -> None:
    other = replace(make_message(), serial_number=make_message().serial_number.next_update())
    await adapter(simulator, client).submit(other, targets=PLMN, idempotency_key="x")
    simulator.fail_next(1, 409, skip=2)  # first POST 409, DELETE 200, second POST 409
    with pytest.raises(TransientChannelError, match="409 again"):
        await adapter(simulator, client).submit(make_message(), targets=PLMN, idempotency_key="k")


async def test_cancel_with_no_peers_is_accepted(
    simulator: CbcSimulator, client: httpx.AsyncClient
) -> None:
    cbc = adapter(simulator, client)
    submission = await cbc.submit(make_message(), targets=PLMN, idempotency_key="k")
    simulator.no_peers = True  # DELETE: 200 with an empty body after the timer
    await cbc.cancel(submission)
    assert simulator.messages == {}
    assert simulator.requests[-1] == "DELETE /api/ecbe/v1/message/4371"


async def test_ucs2_message_over_ecbe_reads_back_page_by_page(
    simulator: CbcSimulator, client: httpx.AsyncClient
) -> None:
    text = "Zażółć gęślą jaźń. Ewakuacja: opuść budynek natychmiast! " * 2
    message = make_message(text, language="pl")
    assert (message.dcs, len(message.pages) > 1) == (0x11, True)
    await adapter(simulator, client).submit(message, targets=PLMN, idempotency_key="k")
    stored = simulator.messages[4371]
    assert stored.dcs == message.dcs
    assert "".join(stored.texts) == message.text
    body = ecbe_message(message, BroadcastSchedule(), EcbeConfig(base_url="http://x"))
    assert "payload_decoded" not in json.dumps(body)  # osmo-cbc's UCS2 path is broken


async def test_non_json_body_and_long_repetition_period(
    simulator: CbcSimulator, client: httpx.AsyncClient
) -> None:
    response = await client.post(f"{simulator.base_url}/api/ecbe/v1/message", content=b"x")
    assert (response.status_code, response.text) == (400, "REST: No JSON Body")
    simulator.errors.clear()
    with pytest.raises(PermanentChannelError, match="4095"):
        ecbe_message(
            make_message(), BroadcastSchedule(repetition_period_s=4096), EcbeConfig(base_url="x")
        )
    long = BroadcastSchedule(warning_period_s=100_000)
    assert ecbe_message(make_message(), long, EcbeConfig(base_url="x"))["warning_period_sec"] == (
        65535
    )


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_are_transient(
    simulator: CbcSimulator, client: httpx.AsyncClient, status: int
) -> None:
    simulator.fail_next(1, status)
    with pytest.raises(TransientChannelError, match=str(status)):
        await adapter(simulator, client).submit(make_message(), targets=PLMN, idempotency_key="k")
    assert simulator.messages == {}


async def test_bad_page_is_a_permanent_400_recorded_by_the_cbc(
    simulator: CbcSimulator, client: httpx.AsyncClient
) -> None:
    broken = CbsPage(content="ł".encode("utf-16-be") * 40 + b"\xd8\x3d", useful_length=82)
    message = replace(make_message("ł", language=None), pages=(broken,))
    with pytest.raises(PermanentChannelError, match="surrogate"):
        await adapter(simulator, client).submit(message, targets=PLMN, idempotency_key="k")
    assert len(simulator.errors) == 1
    simulator.errors.clear()


async def test_cbc_that_is_down_or_drops_mid_request(
    simulator: CbcSimulator, client: httpx.AsyncClient
) -> None:
    cbc = adapter(simulator, client, post_attempts=1)
    await simulator.go_down()
    with pytest.raises(TransientChannelError, match="connection failed"):
        await cbc.submit(make_message(), targets=PLMN, idempotency_key="k")
    assert not (await cbc.check()).reachable
    await simulator.come_back()
    simulator.drop_next(1, when="before")
    with pytest.raises(TransientChannelError):
        await cbc.submit(make_message(), targets=PLMN, idempotency_key="k")
    assert simulator.messages == {}
    assert (
        await cbc.submit(make_message(), targets=PLMN, idempotency_key="k")
    ).already_active is False


async def test_outage_while_a_request_is_in_flight(
    simulator: CbcSimulator, client: httpx.AsyncClient
) -> None:
    simulator.set_latency(0.5)
    cbc = adapter(simulator, client, post_attempts=1)
    attempt = asyncio.create_task(cbc.submit(make_message(), targets=PLMN, idempotency_key="k"))
    await asyncio.sleep(0.1)
    await simulator.go_down()
    with pytest.raises(TransientChannelError):
        await attempt
    await simulator.come_back()


async def test_cancel_and_404_on_kill(simulator: CbcSimulator, client: httpx.AsyncClient) -> None:
    cbc = adapter(simulator, client)
    submission = await cbc.submit(make_message(), targets=PLMN, idempotency_key="k")
    await cbc.cancel(submission)
    assert simulator.messages == {}
    await cbc.cancel(submission)  # already gone: 404, not an error
    simulator.fail_next(1, 500)
    with pytest.raises(TransientChannelError):
        await cbc.cancel(submission)


async def test_replace_is_delete_then_post_with_the_next_update_number(
    simulator: CbcSimulator, client: httpx.AsyncClient
) -> None:
    cbc = adapter(simulator, client)
    first = make_message("Flood warning")
    submission = await cbc.submit(first, targets=PLMN, idempotency_key="k")
    second = updated(first, "Flood warning extended to the east bank")
    replaced = await cbc.replace(submission, second, targets=PLMN)
    stored = simulator.messages[4371]
    assert stored.serial_number & 0xF == 1
    assert "".join(stored.texts) == "Flood warning extended to the east bank"
    assert replaced.serial_number == second.serial_number.encode()
    assert simulator.requests[-2:] == [
        "DELETE /api/ecbe/v1/message/4371",
        "POST /api/ecbe/v1/message",
    ]
    with pytest.raises(ValueError, match="update number"):
        await cbc.replace(replaced, second, targets=PLMN)


async def test_cell_targets_go_plmn_wide_or_are_refused(
    simulator: CbcSimulator, client: httpx.AsyncClient
) -> None:
    cells = BroadcastTargets(cells=("262-01-1234-5678",))
    wide = await adapter(simulator, client).submit(
        make_message(), targets=cells, idempotency_key="k"
    )
    assert wide.plmn_wide
    strict = adapter(simulator, client, plmn_wide_for_cell_targets=False)
    with pytest.raises(PermanentChannelError, match="PLMN-wide"):
        await strict.submit(make_message(code=5), targets=cells, idempotency_key="k2")


async def test_etws_over_http(simulator: CbcSimulator, client: httpx.AsyncClient) -> None:
    message = replace(make_message(identifier=4352), etws=EtwsWarning(EtwsWarningType.EARTHQUAKE))
    await adapter(simulator, client).submit(message, targets=PLMN, idempotency_key="k")
    assert simulator.messages[4352].warning_type == 0


async def test_simulator_takes_a_full_page_and_a_cr_padded_at_sign(
    simulator: CbcSimulator, client: httpx.AsyncClient
) -> None:
    """The zero-fill check does not catch text that ends in '@' followed by CR padding."""
    message = make_message("Write to alerts@@")
    await adapter(simulator, client).submit(message, targets=PLMN, idempotency_key="k")
    assert simulator.messages[4371].texts == ("Write to alerts@@",)


async def test_link_check(simulator: CbcSimulator, client: httpx.AsyncClient) -> None:
    status = await adapter(simulator, client).check()
    assert status.reachable
    assert "404" in status.detail


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda b: b.pop("repetition_period"), "'repetiton_period' is mandatory"),
        (lambda b: b.update(scope={"scope_cell_list": []}), "only 'scope_plmn' supported"),
        (lambda b: b["smscb_message"].update(serial_nr=12288), "'serial_nr' must be present"),
        (
            lambda b: b["smscb_message"].update(
                payload={
                    "payload_etws": {
                        "warning_type": {"warning_type_decoded": "earthquake_and_tsunami"}
                    }
                }
            ),
            "'warning_type_decoded' is invalid",
        ),
        (
            lambda b: b["smscb_message"]["payload"]["payload_encoded"].update(pages=["C576597E"]),
            "page 1 is 4 octets",
        ),
        (  # "Hello" padded with 0x00 octets: osmo-cbc's own fill, "Hello@@@..." on phones
            lambda b: b["smscb_message"]["payload"]["payload_encoded"].update(
                pages=[(ZERO_FILLED).hex()]
            ),
            "page 1 ends in 0x00 fill",
        ),
        (
            lambda b: b["smscb_message"]["payload"].update(
                payload_encoded={
                    "dcs": 0x48,
                    "pages": [("Hi".encode("utf-16-be") + bytes(78)).hex()],
                }
            ),
            "page 1 ends in 0x00 fill",
        ),
        (
            lambda b: b["smscb_message"]["payload"].update(payload_encoded=MIXED_LANGUAGES),
            "pages carry different languages ['ro', 'lb']",
        ),
        (
            lambda b: b["smscb_message"].update(
                payload={"payload_etws": {"warning_type": {"warning_type_encoded": 128}}}
            ),
            "'warning_type_encoded' out of range",
        ),
    ],
)
async def test_simulator_refuses_like_osmo_cbc(
    simulator: CbcSimulator, client: httpx.AsyncClient, mutate: object, reason: str
) -> None:
    body = ecbe_message(make_message(), BroadcastSchedule(), EcbeConfig(base_url="http://x"))
    mutate(body)  # type: ignore[operator]
    response = await client.post(f"{simulator.base_url}/api/ecbe/v1/message", json=body)
    assert response.status_code == 400
    assert reason in response.text
    simulator.errors.clear()


async def test_simulator_accepts_the_misspelt_name_and_unknown_verbs_are_404(
    simulator: CbcSimulator, client: httpx.AsyncClient
) -> None:
    body = ecbe_message(make_message(), BroadcastSchedule(), EcbeConfig(base_url="http://x"))
    body["smscb_message"]["payload"] = {
        "payload_etws": {"warning_type": {"warning_type_decoded": "earthquake_and_tsuname"}}
    }
    response = await client.post(f"{simulator.base_url}/api/ecbe/v1/message", json=body)
    assert (response.status_code, response.text) == (201, "Created")
    assert (await client.get(f"{simulator.base_url}/api/ecbe/v1/message")).status_code == 404
    unknown = await client.delete(f"{simulator.base_url}/api/ecbe/v1/message/abc")
    assert (unknown.status_code, unknown.text) == (404, "Unknown message ID")
