"""The operators, cells, geocodes and jurisdictions CLI on a real database; offline `resolve`."""

from __future__ import annotations

import json
import math
from pathlib import Path

from typer.testing import CliRunner

from service.cli import app
from service.settings import Settings
from tests.service.capdocs import cap_alert
from tests.service.geo_fixtures import SELECTED, cells_csv

runner = CliRunner()


def env_for(settings: Settings) -> dict[str, str]:
    return {
        "TOCSIN_DATABASE_URL": str(settings.database_url),
        "TOCSIN_DATA_DIR": str(settings.data_dir),
    }


def create_operator(env: dict[str, str]) -> None:
    created = runner.invoke(
        app,
        [
            "operators",
            "create",
            "--id",
            "safaricom",
            "--name",
            "Safaricom",
            "--mcc",
            "639",
            "--mnc",
            "02",
            "--country",
            "KE",
        ],
        env=env,
    )
    assert created.exit_code == 0, created.output
    assert created.output.strip() == "safaricom"


def test_operators_and_cell_imports(settings: Settings, tmp_path: Path) -> None:
    env = env_for(settings)
    create_operator(env)
    bad = runner.invoke(
        app,
        [
            "operators",
            "create",
            "--id",
            "X Y",
            "--name",
            "x",
            "--mcc",
            "1",
            "--mnc",
            "02",
            "--country",
            "KE",
        ],
        env=env,
    )
    assert bad.exit_code == 1
    assert "/id" in bad.output
    file = tmp_path / "cells.csv"
    file.write_bytes(cells_csv(extra="broken,4G,1\n"))
    imported = runner.invoke(
        app, ["cells", "import", str(file), "--operator", "safaricom"], env=env
    )
    assert imported.exit_code == 0, imported.output
    assert "inventory v1: 5 cells" in imported.output
    assert "line 7: expected 8 fields, got 3" in imported.output
    strict = runner.invoke(
        app, ["cells", "import", str(file), "--operator", "safaricom", "--strict"], env=env
    )
    assert strict.exit_code == 1
    listed = runner.invoke(app, ["operators", "list"], env=env)
    assert "safaricom  Safaricom  639-02  KE  inventory v1" in listed.output


def test_synthetic_network_is_imported_or_written(settings: Settings, tmp_path: Path) -> None:
    env = env_for(settings)
    create_operator(env)
    args = [
        "cells",
        "synth",
        "--operator",
        "safaricom",
        "--sites",
        "200",
        "--seed",
        "3",
        "--bbox",
        "36.5,-1.6,37.2,-1.0",
    ]
    imported = runner.invoke(app, args, env=env)
    assert imported.exit_code == 0, imported.output
    assert "inventory v1:" in imported.output
    out = tmp_path / "synth.csv"
    written = runner.invoke(app, [*args, "--output", str(out)], env=env)
    assert written.exit_code == 0, written.output
    lines = out.read_text().splitlines()
    assert lines[0].startswith("cell_id,technology,lon,lat")
    assert all(line.startswith("639-02-") for line in lines[1:])
    bad = runner.invoke(app, [*args[:-1], "37,-1,36,-2"], env=env)
    assert bad.exit_code == 2


def test_geocodes_and_jurisdictions(settings: Settings, tmp_path: Path) -> None:
    env = env_for(settings)
    shapes = tmp_path / "counties.geojson"
    shapes.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"code": "047"},
                        "geometry": {
                            "type": "Polygon",
                            "coordinates": [
                                [[36.8, -1.3], [36.9, -1.3], [36.9, -1.2], [36.8, -1.3]]
                            ],
                        },
                    }
                ],
            }
        )
    )
    imported = runner.invoke(app, ["geocodes", "import", str(shapes), "--scheme", "KE"], env=env)
    assert imported.exit_code == 0, imported.output
    assert "1 KE geocodes imported" in imported.output
    agency = runner.invoke(
        app, ["agencies", "create", "--name", "KMD", "--sender", "kmd@example.org"], env=env
    )
    assert agency.exit_code == 0
    border = runner.invoke(app, ["jurisdictions", "set", "--agency", "KMD", str(shapes)], env=env)
    assert border.exit_code == 0, border.output
    assert "tolerance 1000 m" in border.output
    cleared = runner.invoke(app, ["jurisdictions", "clear", "--agency", "KMD"], env=env)
    assert cleared.exit_code == 0


def test_offline_resolve_prints_exactly_cells_and_metrics(tmp_path: Path) -> None:
    cap = tmp_path / "alert.xml"
    cap.write_bytes(cap_alert("offline-1"))
    cells = tmp_path / "cells.csv"
    cells.write_bytes(cells_csv())
    # No database settings at all: the command must not need one.
    result = runner.invoke(
        app,
        ["resolve", str(cap), "--cells", str(cells), "--json"],
        env={"TOCSIN_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"},
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert set(body) == {"cells", "metrics"}
    assert set(body["cells"]) == SELECTED
    assert set(body["metrics"]) == {
        "target_km2",
        "covered_km2",
        "under_alert_km2",
        "overshoot_km2",
        "overshoot_ratio",
    }
    strict = runner.invoke(
        app, ["resolve", str(cap), "--cells", str(cells), "--policy", "min_overlap=0.9", "--json"]
    )
    assert set(json.loads(strict.stdout)["cells"]) == SELECTED  # both lie wholly inside
    human = runner.invoke(app, ["resolve", str(cap), "--cells", str(cells)])
    assert "2 cells; target" in human.stdout
    bad = runner.invoke(app, ["resolve", str(cap), "--cells", str(cells), "--policy", "best"])
    assert bad.exit_code == 2
    assert "unknown policy" in bad.output


def test_offline_resolve_warns_with_unknown_geocodes_bad_areas_and_simplification(
    tmp_path: Path,
) -> None:
    ring = " ".join(
        f"{-1.25 + 0.04 * math.sin(2 * math.pi * k / 300):.6f},"
        f"{36.85 + 0.04 * math.cos(2 * math.pi * k / 300):.6f}"
        for k in [*range(300), 0]
    )  # 301 points: above the 250-point soft limit, so simplified outward
    extra = (
        "<area><areaDesc>Unknown</areaDesc>"
        "<geocode><valueName>KE-COUNTY</valueName><value>999</value></geocode></area>"
        "<area><areaDesc>Huge</areaDesc><circle>-1.25,36.85 6000</circle></area>"
    )
    cap = tmp_path / "alert.xml"
    cap.write_bytes(
        cap_alert("offline-2", polygon=ring).replace(b"</area>", b"</area>" + extra.encode(), 1)
    )
    cells = tmp_path / "cells.csv"
    cells.write_bytes(cells_csv())
    result = runner.invoke(app, ["resolve", str(cap), "--cells", str(cells), "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert set(body) == {"cells", "metrics"}
    assert set(body["cells"]) >= SELECTED
    errors = result.stderr
    assert "/alert/info[1]/area[2]: area 'Unknown' cannot be targeted" in errors
    assert "unknown geocodes: KE-COUNTY=999" in errors
    assert "/alert/info[1]/area[3]: area 'Huge' cannot be targeted" in errors
    assert "radius must be in (0, 5000] km" in errors
    assert "simplified from 1 polygons / 301 points" in errors
