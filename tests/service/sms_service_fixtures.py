"""An operator with one gateway of each kind, and SMS rows as the dispatcher leaves them."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert
from sqlmodel import select

from channels.sms.signing import signed_headers
from service.context import AppContext
from service.db import transaction, utcnow
from service.delivery.models import SmsMessage, SmsState, UnmatchedReceipt
from service.network.channels import ChannelsConfig
from service.network.models import Operator

KANNEL_KEY = "kannel-dlr-key"
HTTP_SECRET = "json-gateway-secret"


def channels(receipt_base_url: str = "http://testserver", **kannel: Any) -> ChannelsConfig:
    """SMS through a Kannel `k1`, a JSON gateway `j1` and an SMSC `s1`."""
    return ChannelsConfig.model_validate(
        {
            "sms": {
                "gateways": [
                    {
                        "kind": "kannel",
                        "config": {
                            "name": "k1",
                            "sendsms_url": "http://127.0.0.1:9/cgi-bin/sendsms",
                            "username": "u",
                            "password": "p",
                            "receipt_base_url": receipt_base_url,
                            "dlr_key": KANNEL_KEY,
                            **kannel,
                        },
                    },
                    {
                        "kind": "http-json",
                        "config": {
                            "name": "j1",
                            "base_url": "http://127.0.0.1:9",
                            "secret": HTTP_SECRET,
                        },
                    },
                    {
                        "kind": "smpp",
                        "config": {
                            "name": "s1",
                            "host": "127.0.0.1",
                            "port": 2775,
                            "system_id": "x",
                            "password": "y",
                            "source_addr": "ALERT",
                        },
                    },
                ]
            }
        }
    )


async def add_operator(
    context: AppContext, operator_id: str = "op1", config: ChannelsConfig | None = None
) -> None:
    async with transaction(context.sessions) as session:
        session.add(
            Operator(
                id=operator_id,
                name=operator_id,
                mcc="639",
                mnc="02",
                country="KE",
                channels=(config or channels()).stored(),
            )
        )
    context.receipt_gateways.invalidate()


async def add_messages(
    context: AppContext,
    count: int,
    *,
    gateway: str | None = "k1",
    state: SmsState = SmsState.SUBMITTED,
    segments: int = 1,
    message_ids: Sequence[str] | None = None,
    operator_id: str = "op1",
    alert_id: str = "alert1",
) -> list[int]:
    """`count` SMS rows; their ids (the correlation ids) in order."""
    now = utcnow()
    rows = [
        {
            "dispatch_id": "d1",
            "alert_id": alert_id,
            "operator_id": operator_id,
            "msisdn": f"+2547{n:08d}",
            "language": "en",
            "state": state.value,
            "gateway": gateway,
            "gateway_message_id": message_ids[n] if message_ids else None,
            "segments": segments,
            "created_at": now,
            "submitted_at": now,
        }
        for n in range(count)
    ]
    async with transaction(context.sessions) as session:
        await session.exec(insert(SmsMessage), params=rows)
        ids = (
            await session.exec(
                select(SmsMessage.id).where(SmsMessage.alert_id == alert_id).order_by(SmsMessage.id)  # type: ignore[arg-type]
            )
        ).all()
    return [int(i) for i in ids if i is not None][-count:]


async def message(context: AppContext, row_id: int) -> SmsMessage:
    async with transaction(context.readers) as session:
        found = await session.get(SmsMessage, row_id)
    assert found is not None
    return found


async def unmatched(context: AppContext) -> list[UnmatchedReceipt]:
    async with transaction(context.readers) as session:
        return list((await session.exec(select(UnmatchedReceipt))).all())


def signed(
    body: Any, secret: str = HTTP_SECRET, at: float | None = None
) -> tuple[bytes, dict[str, str]]:
    """A JSON callback body and its signature headers."""
    raw = json.dumps(body).encode()
    stamp = int(time.time() if at is None else at)
    return raw, {"Content-Type": "application/json", **signed_headers(secret.encode(), stamp, raw)}
