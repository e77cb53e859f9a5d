"""Additional-language identifiers: a second info in the primary language keeps the base one."""

from __future__ import annotations

import httpx
from sqlmodel import col, select

from channels.cbs.profiles import EuAlertProfile
from service.context import AppContext
from service.db import transaction
from service.dispatch import repository
from service.dispatch.content import compose_broadcast, load_cap
from service.dispatch.models import Channel, Dispatch
from service.dispatch.service import process_alert
from tests.dispatch.conftest import channels_for, make_network
from tests.dispatch.test_dispatch_e2e import post
from tests.service.conftest import Keys

WEST = "-1.2,36.8 -1.2,36.85 -1.3,36.85 -1.3,36.8 -1.2,36.8"
EAST = "-1.2,36.85 -1.2,36.9 -1.3,36.9 -1.3,36.85 -1.2,36.85"
BASE, ADDITIONAL = 4375, 4375 + 13  # EU-Alert Severe/Immediate/Observed and its twin


def _info(language: str, headline: str, polygon: str) -> str:
    return f"""<info>
    <language>{language}</language>
    <category>Met</category>
    <event>Flood</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Observed</certainty>
    <expires>2030-01-01T00:00:00+00:00</expires>
    <headline>{headline}</headline>
    <area><areaDesc>{headline}</areaDesc><polygon>{polygon}</polygon></area>
  </info>"""


def _two_english_one_swahili() -> bytes:
    infos = (
        _info("en-KE", "Flood west", WEST),
        _info("en-KE", "Flood east", EAST),
        _info("sw-KE", "Mafuriko", WEST),
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>lang-1</identifier>
  <sender>test@tocsin.dev</sender>
  <sent>2026-11-22T10:00:00+00:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  {"".join(infos)}
</alert>
""".encode()


async def test_two_infos_in_the_primary_language_both_keep_the_base_identifier(
    app_context: AppContext, api: httpx.AsyncClient, keys: Keys
) -> None:
    await make_network(app_context, "langs", channels_for(["http://127.0.0.1:9"], None))
    alert_id = (await post(api, keys, _two_english_one_swahili()))["id"]
    await process_alert(app_context, alert_id)  # what the plan job does, without a worker
    async with transaction(app_context.readers) as session:
        query = select(Dispatch).where(
            Dispatch.alert_id == alert_id, Dispatch.channel == Channel.CELL_BROADCAST
        )
        planned = (await session.exec(query.order_by(col(Dispatch.info_index)))).all()
        cap = await load_cap(session, alert_id)
    assert [(d.info_index, d.message_identifier) for d in planned] == [
        (0, BASE),
        (1, BASE),
        (2, ADDITIONAL),
    ]
    # Same identifier, so the codes must differ: phones drop a repeated (identifier, serial).
    assert planned[0].message_code != planned[1].message_code
    async with transaction(app_context.readers) as session:
        in_use, _last = await repository.live_codes(session, "langs")
    assert {d.message_code for d in planned} <= in_use  # the first block's code stays protected
    for dispatch in planned:  # the worker composes the same identifier the planner chose
        message = compose_broadcast(
            cap,
            dispatch.info_index or 0,
            EuAlertProfile(),
            message_code=dispatch.message_code or 0,
            update_number=0,
        )
        assert message.message_identifier == dispatch.message_identifier
