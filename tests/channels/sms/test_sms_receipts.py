"""Receipt parsing: telecom.md §3.2 deviations and §5 vector #9, Kannel DLRs, JSON callbacks."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from channels.sms.receipts import (
    TLV_MESSAGE_STATE,
    TLV_NETWORK_ERROR_CODE,
    TLV_RECEIPTED_MESSAGE_ID,
    ReceiptFormatError,
    ReceiptState,
    parse_http_receipts,
    parse_kannel_dlr,
    parse_smpp_receipt,
)
from channels.sms.smpp.correlation import MessageIdIndex, SubmittedSegment, id_variants

VECTOR_9_NEXMO = (
    "id:0000000012345678 sub:001 dlvrd:001 submit date:1601010100 done date:1601010101 "
    "stat:DELIVRD err:000 text:none"
)
VECTOR_9_SMPPCENTER = (
    "id:0000000012345678 sub:001 dlvrd:001 submit date:190608165232 done date:190608165237 "
    "stat:DELIVRD err:000 text:Hello World"
)


def test_vector_9_ten_digit_dates() -> None:
    receipt = parse_smpp_receipt(VECTOR_9_NEXMO)
    assert receipt.state == ReceiptState.DELIVERED
    assert receipt.gateway_message_id == "0000000012345678"
    assert receipt.at == datetime(2016, 1, 1, 1, 1, tzinfo=UTC)
    assert receipt.error_code == "000"
    assert receipt.raw == VECTOR_9_NEXMO
    assert receipt.final


def test_vector_9_twelve_digit_dates() -> None:
    receipt = parse_smpp_receipt(VECTOR_9_SMPPCENTER)
    assert receipt.state == ReceiptState.DELIVERED
    assert receipt.at == datetime(2019, 6, 8, 16, 52, 37, tzinfo=UTC)


def test_capital_text_key_and_spaces_in_text() -> None:
    text = "id:7 sub:001 dlvrd:000 submit date:2401010000 done date:2401010005 stat:EXPIRED "
    text += "err:027 Text:stat:DELIVRD id:99"
    receipt = parse_smpp_receipt(text)
    assert receipt.state == ReceiptState.EXPIRED  # the text field does not leak into stat
    assert receipt.gateway_message_id == "7"
    assert receipt.error_code == "027"


@pytest.mark.parametrize(
    ("stat", "state"),
    [
        ("DELIVRD", ReceiptState.DELIVERED),
        ("EXPIRED", ReceiptState.EXPIRED),
        ("DELETED", ReceiptState.FAILED),
        ("UNDELIV", ReceiptState.FAILED),
        ("REJECTD", ReceiptState.FAILED),
        ("ACCEPTD", ReceiptState.QUEUED),
        ("ENROUTE", ReceiptState.QUEUED),
        ("UNKNOWN", ReceiptState.UNKNOWN),
        ("delivered", ReceiptState.DELIVERED),
        ("whatever", ReceiptState.UNKNOWN),
    ],
)
def test_stat_words(stat: str, state: ReceiptState) -> None:
    assert parse_smpp_receipt(f"id:1 stat:{stat} err:000").state == state


def test_broken_dates_do_not_raise() -> None:
    receipt = parse_smpp_receipt("id:1 submit date:16130199 done date:9913329999 stat:DELIVRD")
    assert receipt.at is None
    assert receipt.state == ReceiptState.DELIVERED


def test_tlvs_win_over_the_text() -> None:
    tlvs = {
        TLV_RECEIPTED_MESSAGE_ID: b"ABC123\x00",
        TLV_MESSAGE_STATE: bytes((3,)),
        TLV_NETWORK_ERROR_CODE: bytes((3, 0x00, 0x0B)),
    }
    receipt = parse_smpp_receipt("id:999 stat:DELIVRD", tlvs)
    assert receipt.gateway_message_id == "ABC123"
    assert receipt.state == ReceiptState.EXPIRED
    assert receipt.error_code == "3/11"  # no err: in the text, so the TLV's code
    receipt = parse_smpp_receipt("id:999 stat:DELIVRD err:005", tlvs)
    assert receipt.error_code == "005"


def test_receipt_without_any_id_is_refused() -> None:
    with pytest.raises(ReceiptFormatError):
        parse_smpp_receipt("stat:DELIVRD err:000")


def test_hex_and_decimal_ids_match_across_bases() -> None:
    index = MessageIdIndex()
    index.add("0000000A1B2C", SubmittedSegment("cid-hex", 1))
    index.add("123456789", SubmittedSegment("cid-dec", 2))
    assert index.find(str(0xA1B2C)) == SubmittedSegment("cid-hex", 1)  # receipt in decimal
    assert index.find("a1b2c") == SubmittedSegment("cid-hex", 1)  # same base, other case
    assert index.find(format(123456789, "X")) == SubmittedSegment("cid-dec", 2)
    assert index.find("75BCD15", remove=True) == SubmittedSegment("cid-dec", 2)
    assert index.find("123456789") is None
    exact = MessageIdIndex(match="exact")
    exact.add("0000000A1B2C", SubmittedSegment("x", 1))
    assert exact.find(str(0xA1B2C)) is None
    assert id_variants("0042") == ["42", "2a", "66"]


def test_index_is_bounded() -> None:
    index = MessageIdIndex(capacity=2)
    for number in range(3):
        index.add(f"id{number}", SubmittedSegment(f"c{number}", 1))
    assert len(index) == 2
    assert index.find("id0") is None


# --- Kannel -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("dlr_type", "state"),
    [
        ("1", ReceiptState.DELIVERED),
        ("2", ReceiptState.FAILED),
        ("4", ReceiptState.QUEUED),
        ("8", ReceiptState.SUBMITTED),
        ("16", ReceiptState.FAILED),
        ("32", ReceiptState.UNKNOWN),
    ],
)
def test_kannel_dlr_types(dlr_type: str, state: ReceiptState) -> None:
    receipt = parse_kannel_dlr({"cid": "a1", "type": dlr_type, "ts": "1700000000", "msgid": "m"})
    assert receipt.state == state
    assert receipt.correlation_id == "a1"
    assert receipt.gateway_message_id == "m"
    assert receipt.at == datetime.fromtimestamp(1700000000, tz=UTC)


def test_kannel_expired_from_the_smsc_reply() -> None:
    reply = (
        "id:5 sub:001 dlvrd:000 submit date:2401010000 done date:2401020000 stat:EXPIRED err:027"
    )
    receipt = parse_kannel_dlr(
        {"cid": "a1", "seg": "2", "secret": "s3", "type": "2", "smsc_reply": reply}
    )
    assert receipt.state == ReceiptState.EXPIRED
    assert receipt.error_code == "027"
    assert receipt.segment == 2
    assert "s3" not in receipt.raw
    assert "stat:EXPIRED" in receipt.raw


def test_kannel_dlr_needs_a_type_and_an_id() -> None:
    with pytest.raises(ReceiptFormatError):
        parse_kannel_dlr({"cid": "a1"})
    with pytest.raises(ReceiptFormatError):
        parse_kannel_dlr({"type": "1"})


# --- JSON callback ------------------------------------------------------------


def test_http_receipts() -> None:
    body = json.dumps(
        [
            {
                "correlation_id": "c1",
                "gateway_message_id": "g1",
                "state": "delivered",
                "at": "2026-01-02T03:04:05Z",
                "raw": "ok",
            },
            {"gateway_message_id": "g2", "state": "EXPIRED", "error_code": "27"},
            {"correlation_id": "c3", "state": "teleported"},
        ]
    )
    first, second, third = parse_http_receipts(body)
    assert first.state == ReceiptState.DELIVERED
    assert first.at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert first.raw == "ok"
    assert (second.state, second.error_code, second.correlation_id) == (
        ReceiptState.EXPIRED,
        "27",
        None,
    )
    assert third.state == ReceiptState.UNKNOWN


@pytest.mark.parametrize(
    "body",
    [b"not json", b'{"state": "delivered"}', b'[{"state": "delivered"}]', b'[{"cid": 1}]'],
)
def test_http_receipts_refuse_garbage(body: bytes) -> None:
    with pytest.raises(ReceiptFormatError):
        parse_http_receipts(body)
