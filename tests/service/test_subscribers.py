"""Subscriber registry: CSV import by the CLI, selection for an alert, language choice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from shapely.geometry import MultiPolygon, Polygon, box
from sqlmodel import select
from typer.testing import CliRunner

from service.cli import app
from service.context import AppContext
from service.db import transaction
from service.recipients.models import Subscriber
from service.recipients.service import choose_language, import_subscribers, select_subscribers
from service.settings import Settings
from tests.service.sms_service_fixtures import add_operator

runner = CliRunner()
HEADER = "msisdn,operator,language,lon,lat,cell_id,test\n"


def env_for(settings: Settings) -> dict[str, str]:
    return {
        "TOCSIN_DATABASE_URL": str(settings.database_url),
        "TOCSIN_DATA_DIR": str(settings.data_dir),
    }


def _operator(settings: Settings, operator_id: str = "op1") -> None:
    result = runner.invoke(
        app,
        [
            "operators",
            "create",
            "--id",
            operator_id,
            "--name",
            "Op",
            "--mcc",
            "639",
            "--mnc",
            "02",
            "--country",
            "KE",
        ],
        env=env_for(settings),
    )
    assert result.exit_code == 0, result.output


def test_import_reports_bad_rows_by_line_and_upserts(settings: Settings, tmp_path: Path) -> None:
    _operator(settings)
    csv_file = tmp_path / "subs.csv"
    csv_file.write_text(
        HEADER
        + "+254 700 000001,op1,sw,36.8,-1.28,,\n"  # line 2: fine (spaces in the number)
        + "0700000002,op1,en,,,C1,\n"  # line 3: national format, not E.164
        + "254700000003,nope,en,,,C1,\n"  # line 4: unknown operator
        + "254700000004,op1,en,,,,\n"  # line 5: neither location nor cell
        + "\n"  # blank: skipped, but line numbers still count
        + "254700000005,op1,en,200,1,,\n"  # line 7: lon out of range
        + "254700000006,op1,en,,,C1,maybe\n"  # line 8: test flag
        + "00254700000007,op1,,,,C2,yes\n"  # line 9: fine, default language
        + "254700000008,op1,en,1\n"  # line 10: short row
    )
    env = env_for(settings)
    result = runner.invoke(app, ["subscribers", "import", str(csv_file), "--json"], env=env)
    assert result.exit_code == 2, result.output
    report = json.loads(result.stdout)
    assert (report["read"], report["inserted"], report["updated"], report["rejected"]) == (
        8,
        2,
        0,
        6,
    )
    lines = [error.split(":")[0] for error in report["errors"]]
    assert lines == ["line 3", "line 4", "line 5", "line 7", "line 8", "line 10"]
    assert "E.164" in report["errors"][0]
    csv_file.write_text(HEADER + "254700000001,op1,en,,,C9,1\n+254700000009,op1,fr,,,C9,0\n")
    result = runner.invoke(app, ["subscribers", "import", str(csv_file)], env=env)
    assert result.exit_code == 0, result.output
    assert "1 inserted, 1 updated, 0 rejected" in result.stdout


def test_import_refuses_a_file_without_the_columns(settings: Settings, tmp_path: Path) -> None:
    csv_file = tmp_path / "subs.csv"
    csv_file.write_text("number,network\n254700000001,op1\n")
    result = runner.invoke(app, ["subscribers", "import", str(csv_file)], env=env_for(settings))
    assert result.exit_code == 1
    assert "msisdn, operator" in result.output


async def test_import_streams_chunks_and_last_row_wins(context: AppContext) -> None:
    await add_operator(context)
    rows = (f"2547{n % 12000:08d},op1,en,,,C{n % 7},{n % 2}" for n in range(15000))
    report = await import_subscribers(context.sessions, iter([HEADER, *rows]))
    assert (report.read, report.inserted, report.updated, report.rejected) == (
        15000,
        12000,
        3000,
        0,
    )
    async with transaction(context.readers) as session:
        last = (
            await session.exec(select(Subscriber).where(Subscriber.msisdn == "+254700000005"))
        ).one()
    assert (last.cell_id, last.test) == (f"C{12005 % 7}", bool(12005 % 2))


async def _subscribers(context: AppContext, rows: list[Subscriber]) -> None:
    async with transaction(context.sessions) as session:
        session.add_all(rows)


async def test_selection_by_cell_or_area_once_each(context: AppContext) -> None:
    await add_operator(context)
    await add_operator(context, "op2")
    await _subscribers(
        context,
        [
            Subscriber(msisdn="+1", operator_id="op1", cell_id="A"),  # targeted cell
            Subscriber(msisdn="+2", operator_id="op1", lon=36.88, lat=-1.22),  # inside
            Subscriber(msisdn="+3", operator_id="op1", lon=36.85, lat=-1.25, cell_id="A"),  # both
            Subscriber(msisdn="+4", operator_id="op1", lon=36.95, lat=-1.25, cell_id="Z"),  # out
            Subscriber(msisdn="+5", operator_id="op1", lon=36.9, lat=-1.25),  # on the boundary
            Subscriber(msisdn="+6", operator_id="op2", cell_id="A"),  # other operator
            Subscriber(msisdn="+7", operator_id="op1", cell_id="A", test=True),
            Subscriber(
                msisdn="+8", operator_id="op1", lon=36.81, lat=-1.29, test=True
            ),  # bbox, not in
        ],
    )
    area = Polygon([(36.8, -1.2), (36.9, -1.3), (36.9, -1.2)])  # a triangle: bbox is not enough
    async with transaction(context.readers) as session:
        everyone = await select_subscribers(session, "op1", ["A", "B"], area, test_alert=False)
        testers = await select_subscribers(session, "op1", ["A"], area, test_alert=True)
        by_cell = await select_subscribers(session, "op1", ["A"], None, test_alert=False)
        nothing = await select_subscribers(session, "op1", [], None, test_alert=False)
    assert [s.msisdn for s in everyone] == ["+1", "+2", "+3", "+5", "+7"]
    assert [s.msisdn for s in testers] == ["+7"]
    assert [s.msisdn for s in by_cell] == ["+1", "+3", "+7"]
    assert nothing == []


async def test_selection_across_the_antimeridian(context: AppContext) -> None:
    await add_operator(context)
    await _subscribers(
        context,
        [
            Subscriber(msisdn="+10", operator_id="op1", lon=179.5, lat=-17.0),
            Subscriber(msisdn="+11", operator_id="op1", lon=-179.5, lat=-17.0),
            Subscriber(msisdn="+12", operator_id="op1", lon=0.0, lat=-17.0),  # the wrong way round
        ],
    )
    fiji = MultiPolygon([box(179.0, -18.0, 180.0, -16.0), box(-180.0, -18.0, -179.0, -16.0)])
    async with transaction(context.readers) as session:
        chosen = await select_subscribers(session, "op1", [], fiji, test_alert=False)
    assert [s.msisdn for s in chosen] == ["+10", "+11"]


@pytest.mark.parametrize(
    ("subscriber", "alert", "expected"),
    [
        ("fr", ["en", "fr"], "fr"),
        ("FR", ["en", "fr-CA"], "fr-CA"),
        ("sw-KE", ["en", "sw"], "sw"),
        ("en-GB", ["en-US", "en-GB"], "en-GB"),
        ("de", ["en-US", "fr"], "en-US"),
    ],
)
def test_language_choice(subscriber: str, alert: list[str], expected: str) -> None:
    assert choose_language(subscriber, alert) == expected


def test_language_choice_needs_a_language() -> None:
    with pytest.raises(ValueError, match="no info"):
        choose_language("en", [])


def test_sms_encode_json() -> None:
    result = runner.invoke(app, ["sms", "encode", "--text", "hellohello", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "encoding": "gsm7",
        "segments": [{"udh": "", "payload": "E8329BFD4697D9EC37"}],
        "count": 1,
    }
    long = runner.invoke(app, ["sms", "encode", "--text", "€" * 100, "--json"])
    shown = json.loads(long.stdout)
    assert shown["count"] == 2
    assert [s["udh"][-4:] for s in shown["segments"]] == ["0201", "0202"]
    empty = runner.invoke(app, ["sms", "encode", "--text", ""])
    assert empty.exit_code == 1
