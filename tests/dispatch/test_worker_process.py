"""End to end through a real `tocsin worker` process: Alert, Update, Cancel, then SIGTERM.

The API is served on a real port (the SMS simulator's delivery reports and
the CBC's status callbacks come back to it over HTTP); the worker is a
separate process on the same database and Redis, as in production.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from channels.cbc import GenericCbcConfig
from channels.simulators.cbc import CbcSimulator
from channels.simulators.sms_http import SmsHttpSettings, running_sms_http, serving
from channels.sms import HttpJsonConfig
from service.app import create_app
from service.context import AppContext
from service.db import transaction
from service.network.channels import ChannelsConfig
from service.recipients.models import Subscriber
from service.settings import Settings
from tests.dispatch.conftest import SIM_SECRET, make_network, start_worker
from tests.dispatch.test_dispatch_e2e import (
    FAR,
    NAIROBI_POLYGON,
    _a_targeted_cell,
    _state,
    delivery,
    eventually,
    post,
)
from tests.service.capdocs import cap_alert, reference_to
from tests.service.conftest import Keys

pytestmark = pytest.mark.timeout(180)
SUBSCRIBERS = ["254711000001", "254711000002", "254711000003"]


def _channels(cbc_url: str, sms_url: str, api_url: str) -> ChannelsConfig:
    cbc = GenericCbcConfig(base_url=cbc_url, secret=SIM_SECRET, timeout_s=2.0)
    gateway = HttpJsonConfig(
        name="simsms",
        base_url=sms_url,
        secret=SIM_SECRET,
        callback_url=f"{api_url}/api/v1/receipts/http/simsms",
    )
    return ChannelsConfig.model_validate(
        {
            "cell_broadcast": {
                "profile": {"profile": "eu-alert"},
                "endpoints": [{"kind": "generic-http", "name": "cbc1", "config": cbc}],
            },
            "sms": {"gateways": [{"kind": "http-json", "config": gateway}]},
        }
    )


async def _all_delivered(api: httpx.AsyncClient, keys: Keys, alert_id: str) -> dict[str, Any]:
    summary = await delivery(api, keys, alert_id)
    sms = summary["sms"]
    done = summary["state"] == "active" and sms["total"] and sms["delivered"] == sms["total"]
    return summary if done else {}


async def test_a_worker_process_carries_an_alert_its_update_and_its_cancel(
    app_context: AppContext,
    keys: Keys,
    settings: Settings,
    redis_url: str,
    tmp_path: Path,
    worker_process: list[subprocess.Popen[bytes]],
    cbc_sim: CbcSimulator,
) -> None:
    app = create_app(context=app_context)
    app.state.context = app_context
    sms_settings = SmsHttpSettings(secret=SIM_SECRET, report_delay=0.1)
    async with (
        serving(app) as port,
        running_sms_http(sms_settings) as (simulator, sms_url),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as api,
    ):
        api_url = f"http://127.0.0.1:{port}"
        await make_network(app_context, "proc", _channels(cbc_sim.base_url, sms_url, api_url))
        cell = await _a_targeted_cell(app_context, api, keys, "proc")
        async with transaction(app_context.sessions) as session:
            for msisdn in SUBSCRIBERS:
                session.add(Subscriber(msisdn=msisdn, operator_id="proc", cell_id=cell))
        log = tmp_path / "worker.log"
        worker = start_worker(
            settings, str(redis_url), log, worker_process, TOCSIN_PUBLIC_URL=api_url
        )

        alert = await post(api, keys, cap_alert("wp-1", expires=FAR, polygon=NAIROBI_POLYGON))
        (live,) = await eventually(lambda: list(cbc_sim.jobs.values()), timeout=60)
        first = live.job
        assert first.message_identifier == 4375  # EU-Alert Severe/Immediate/Observed
        summary = await eventually(lambda: _all_delivered(api, keys, alert["id"]), timeout=60)
        assert summary["sms"]["total"] == len(SUBSCRIBERS)
        (broadcast,) = [d for d in summary["dispatches"] if d["channel"] == "cbs"]
        assert broadcast["endpoint"] == "cbc1"
        # Acknowledged once the CBC's per-cell status callback has reached the API.
        assert broadcast["state"] in {"submitted", "acknowledged"}
        assert sorted(m.to for m in simulator.messages) == [f"+{n}" for n in SUBSCRIBERS]

        update = cap_alert(
            "wp-2",
            msg_type="Update",
            sent="2026-11-22T10:05:00+00:00",
            references=reference_to("wp-1"),
            headline="Flood warning extended",
            expires=FAR,
            polygon=NAIROBI_POLYGON,
        )
        updated = await post(api, keys, update)
        (replaced,) = await eventually(
            lambda: [j for j in cbc_sim.jobs.values() if "extended" in j.text], timeout=60
        )
        assert len(cbc_sim.jobs) == 1  # replaced in place, not a second broadcast beside it
        assert replaced.job.message_identifier == first.message_identifier
        assert replaced.job.serial_number >> 4 == first.serial_number >> 4  # same message code
        assert replaced.job.serial_number & 0xF == (first.serial_number & 0xF) + 1
        await eventually(lambda: _all_delivered(api, keys, updated["id"]), timeout=60)

        cancel = cap_alert(
            "wp-3",
            msg_type="Cancel",
            sent="2026-11-22T10:10:00+00:00",
            references=f"{reference_to('wp-1')} "
            f"{reference_to('wp-2', '2026-11-22T10:05:00+00:00')}",
            expires=FAR,
        )
        cancelled = await post(api, keys, cancel)
        await eventually(lambda: not cbc_sim.jobs, timeout=60)
        final = await eventually(
            lambda: _state(api, keys, cancelled["id"], "completed"), timeout=60
        )
        kills = [d for d in final["dispatches"] if d["action"] == "kill"]
        assert [(k["state"], k["endpoint"]) for k in kills] == [("delivered", "cbc1")]

        assert worker.poll() is None, log.read_text()
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0, log.read_text()
    assert "worker stopped" in log.read_text()
