"""Operators' channels: the API (secrets masked), the CLI, link tests to live and dead ends."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from channels.simulators.cbc import CbcSimulator
from channels.simulators.sms_http import SmsHttpSimulator
from service.cli import app as cli
from service.context import AppContext
from service.db import transaction
from service.network import service as network
from service.network.models import Operator
from service.settings import Settings
from tests.dispatch.conftest import SIM_SECRET
from tests.service.conftest import Keys

pytestmark = pytest.mark.timeout(60)
CBC_SECRET = "cbc-secret-do-not-show"
SMS_SECRET = "sms-secret-do-not-show"


def dead_url() -> str:
    """A local port nothing listens on: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def config(cbc_urls: list[str], sms_urls: list[str], secret: str = SIM_SECRET) -> dict[str, Any]:
    """The JSON an admin would PUT: generic CBCs and HTTP JSON gateways, in order."""
    endpoints = [
        {
            "kind": "generic-http",
            "name": f"cbc{n}",
            "config": {"base_url": url, "secret": secret, "timeout_s": 2.0},
        }
        for n, url in enumerate(cbc_urls, start=1)
    ]
    gateways = [
        {
            "kind": "http-json",
            "config": {"name": f"sms{n}", "base_url": url, "secret": secret},
        }
        for n, url in enumerate(sms_urls, start=1)
    ]
    return {
        "cell_broadcast": {"profile": {"profile": "eu-alert"}, "endpoints": endpoints},
        "sms": {"gateways": gateways},
    }


async def make_operator(ctx: AppContext, operator_id: str) -> None:
    async with transaction(ctx.sessions) as session:
        await network.create_operator(
            session, operator_id=operator_id, name=operator_id, mcc="639", mnc="02", country="KE"
        )


async def test_put_stores_the_channels_and_get_masks_the_secrets(
    app_context: AppContext, api: httpx.AsyncClient, keys: Keys
) -> None:
    await make_operator(app_context, "op-api")
    body = config(["http://cbc.example:1"], ["http://sms.example:2"])
    body["cell_broadcast"]["endpoints"][0]["config"]["secret"] = CBC_SECRET
    body["sms"]["gateways"][0]["config"]["secret"] = SMS_SECRET
    async with transaction(app_context.sessions) as session:
        operator = await session.get(Operator, "op-api")
        assert operator is not None
        operator.last_good_cbc = "cbc9"
        session.add(operator)

    url = "/api/v1/operators/op-api/channels"
    put = await api.put(url, json=body, headers=keys.admin)
    assert put.status_code == 200, put.text
    got = await api.get(url, headers=keys.admin)
    assert got.status_code == 200, got.text
    for response in (put, got):
        assert CBC_SECRET not in response.text
        assert SMS_SECRET not in response.text
    view = got.json()
    cbc = view["cell_broadcast"]["endpoints"][0]
    assert (cbc["name"], cbc["config"]["base_url"]) == ("cbc1", "http://cbc.example:1")
    assert cbc["config"]["secret"] == "**********"
    assert view["sms"]["gateways"][0]["config"]["secret"] == "**********"
    assert view["cell_broadcast"]["max_test_broadcast_hours"] == 4  # defaults filled in
    async with transaction(app_context.readers) as session:
        stored = await session.get(Operator, "op-api")
    assert stored is not None
    # Kept in full for the workers; the remembered CBC is forgotten with the old list.
    assert stored.channels["cell_broadcast"]["endpoints"][0]["config"]["secret"] == CBC_SECRET
    assert stored.channels["sms"]["gateways"][0]["config"]["secret"] == SMS_SECRET
    assert stored.last_good_cbc is None


async def test_channels_api_refuses_non_admins_unknown_operators_and_bad_configs(
    app_context: AppContext, api: httpx.AsyncClient, keys: Keys
) -> None:
    await make_operator(app_context, "op-refuse")
    url = "/api/v1/operators/op-refuse/channels"
    body = config(["http://cbc.example:1"], [])
    del body["sms"]
    for role in (keys.sender, keys.manager):
        assert (await api.put(url, json=body, headers=role)).status_code == 403
        assert (await api.get(url, headers=role)).status_code == 403
        assert (await api.post(f"{url}/check", headers=role)).status_code == 403
    missing = "/api/v1/operators/nobody/channels"
    assert (await api.put(missing, json=body, headers=keys.admin)).status_code == 404
    assert (await api.get(missing, headers=keys.admin)).status_code == 404
    assert (await api.post(f"{missing}/check", headers=keys.admin)).status_code == 404
    body["cell_broadcast"]["endpoints"] = []  # at least one CBC
    assert (await api.put(url, json=body, headers=keys.admin)).status_code == 422


async def test_link_check_reports_each_endpoint_live_and_dead(
    app_context: AppContext,
    api: httpx.AsyncClient,
    keys: Keys,
    cbc_sim: CbcSimulator,
    sms_sim: tuple[SmsHttpSimulator, str],
) -> None:
    simulator, sms_url = sms_sim
    await make_operator(app_context, "op-check")
    body = config([cbc_sim.base_url, dead_url()], [sms_url, dead_url()])
    url = "/api/v1/operators/op-check/channels"
    assert (await api.put(url, json=body, headers=keys.admin)).status_code == 200
    response = await api.post(f"{url}/check", headers=keys.admin)
    assert response.status_code == 200, response.text
    reports = {(r["channel"], r["endpoint"]): r for r in response.json()}
    assert {key: r["up"] for key, r in reports.items()} == {
        ("cbc", "cbc1"): True,
        ("cbc", "cbc2"): False,
        ("sms", "sms1"): True,
        ("sms", "sms2"): False,
    }
    assert all(r["operator"] == "op-check" for r in reports.values())
    assert reports[("cbc", "cbc2")]["detail"]  # says why
    assert cbc_sim.jobs == {}  # nothing was broadcast or sent
    assert not simulator.messages

    wrong = config([cbc_sim.base_url], [sms_url], secret="not-the-simulators")
    assert (await api.put(url, json=wrong, headers=keys.admin)).status_code == 200
    (cbc, _sms) = (await api.post(f"{url}/check", headers=keys.admin)).json()
    assert cbc["up"] is False  # a wrong secret shows up here, not during an alert


runner = CliRunner()


def _env(settings: Settings) -> dict[str, str]:
    return {
        "TOCSIN_DATABASE_URL": str(settings.database_url),
        "TOCSIN_DATA_DIR": str(settings.data_dir),
    }


async def _tocsin(settings: Settings, *args: str) -> Result:
    """The CLI in a thread: it runs its own event loop, the simulators run in this one."""
    return await asyncio.to_thread(runner.invoke, cli, list(args), env=_env(settings))


async def test_cli_sets_shows_and_checks_channels(
    app_context: AppContext,
    settings: Settings,
    tmp_path: Path,
    cbc_sim: CbcSimulator,
    sms_sim: tuple[SmsHttpSimulator, str],
) -> None:
    _simulator, sms_url = sms_sim
    await make_operator(app_context, "op-cli")
    await make_operator(app_context, "op-cli-2")
    good = tmp_path / "good.json"
    good.write_text(json.dumps(config([cbc_sim.base_url], [sms_url])))

    result = await _tocsin(settings, "channels", "set", "op-cli", str(good))
    assert result.exit_code == 0, result.output
    assert SIM_SECRET not in result.output
    shown = await _tocsin(settings, "channels", "show", "op-cli")
    assert shown.exit_code == 0, shown.output
    assert SIM_SECRET not in shown.output
    view = json.loads(shown.output)
    assert view["cell_broadcast"]["endpoints"][0]["config"]["base_url"] == cbc_sim.base_url

    checked = await _tocsin(settings, "channels", "check", "op-cli", "--json")
    assert checked.exit_code == 0, checked.output
    assert [(r["channel"], r["endpoint"], r["up"]) for r in json.loads(checked.output)] == [
        ("cbc", "cbc1", True),
        ("sms", "sms1", True),
    ]

    half_dead = tmp_path / "half-dead.json"
    half_dead.write_text(json.dumps(config([dead_url(), cbc_sim.base_url], [sms_url])))
    result = await _tocsin(settings, "channels", "set", "op-cli-2", str(half_dead))
    assert result.exit_code == 0, result.output
    everyone = await _tocsin(settings, "channels", "check", "--json")  # every operator
    assert everyone.exit_code == 1, everyone.output
    reports = json.loads(everyone.output)
    assert {(r["operator"], r["endpoint"]): r["up"] for r in reports} == {
        ("op-cli", "cbc1"): True,
        ("op-cli", "sms1"): True,
        ("op-cli-2", "cbc1"): False,
        ("op-cli-2", "cbc2"): True,
        ("op-cli-2", "sms1"): True,
    }
    table = await _tocsin(settings, "channels", "check", "op-cli-2")
    assert table.exit_code == 1
    assert "NO" in table.output


async def test_cli_refuses_unknown_operators_and_invalid_files(
    app_context: AppContext, settings: Settings, tmp_path: Path
) -> None:
    await make_operator(app_context, "op-cli")
    good = tmp_path / "good.json"
    good.write_text(json.dumps(config(["http://cbc.example:1"], ["http://sms.example:2"])))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"cell_broadcast": {"endpoints": []}}))

    checked = await _tocsin(settings, "channels", "check", "nobody")
    assert checked.exit_code == 2, checked.output
    assert "no operator 'nobody'" in checked.output
    shown = await _tocsin(settings, "channels", "show", "nobody")
    assert shown.exit_code == 2, shown.output
    assert "no operator 'nobody'" in shown.output
    unknown = await _tocsin(settings, "channels", "set", "nobody", str(good))
    assert unknown.exit_code == 1, unknown.output
    assert "no operator 'nobody'" in unknown.output
    invalid = await _tocsin(settings, "channels", "set", "op-cli", str(bad))
    assert invalid.exit_code == 2, invalid.output
    assert "invalid configuration" in invalid.output
