"""`tocsin cap validate`, driven through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from service.cap.cli import cap_app

RUNNER = CliRunner()


def test_json_lines_and_exit_code_one_when_any_file_is_rejected(cap_corpus: Path) -> None:
    good = cap_corpus / "real" / "au-bom.xml"
    bad = cap_corpus / "invalid" / "invalid.xml"
    result = RUNNER.invoke(cap_app, ["validate", "--json", str(good), str(bad)])
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert lines[0] == {"file": str(good), "accepted": True, "errors": [], "warnings": []}
    assert lines[1]["accepted"] is False
    assert lines[1]["errors"] == [
        {"path": "/alert/scope", "message": "required element <scope> is missing"}
    ]


def test_exit_code_zero_when_every_file_is_accepted(cap_corpus: Path) -> None:
    file = cap_corpus / "real-nonconforming" / "mow.DE-HE-KS-SE106-20250313-106-001.xml"
    result = RUNNER.invoke(cap_app, ["validate", str(file)])
    assert result.exit_code == 0
    assert "accepted" in result.output
    assert "warning" in result.output
    assert "/alert/info[1]/expires" in result.output


def test_strict_turns_order_warnings_into_errors(cap_corpus: Path) -> None:
    file = cap_corpus / "real-nonconforming" / "mow.DE-HE-KS-SE106-20250313-106-001.xml"
    result = RUNNER.invoke(cap_app, ["validate", "--strict", "--json", str(file)])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["warnings"] == []
    assert any("out of schema order" in error["message"] for error in report["errors"])


def test_human_report_names_paths_and_kind(cap_corpus: Path) -> None:
    result = RUNNER.invoke(cap_app, ["validate", str(cap_corpus / "hostile" / "xee.xml")])
    assert result.exit_code == 1
    assert "rejected (hostile)" in result.output
    assert "DOCTYPE" in result.output


def test_an_unreadable_file_is_reported_not_raised(tmp_path: Path) -> None:
    result = RUNNER.invoke(cap_app, ["validate", "--json", str(tmp_path / "missing.xml")])
    assert result.exit_code == 1
    assert json.loads(result.output)["errors"][0]["message"].startswith("cannot read the file")
