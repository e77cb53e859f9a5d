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


def test_the_whole_corpus_gets_its_verdict_through_the_command(cap_corpus: Path) -> None:
    """One run over every corpus file: the README's verdict per folder, file by file."""
    files = sorted(cap_corpus.glob("*/*.xml"))
    lenient = RUNNER.invoke(cap_app, ["validate", "--json", *map(str, files)])
    strict = RUNNER.invoke(cap_app, ["validate", "--strict", "--json", *map(str, files)])
    assert (lenient.exit_code, strict.exit_code) == (1, 1)  # invalid/ and hostile/ are refused
    reports = {Path(r["file"]): r for r in map(json.loads, lenient.output.splitlines())}
    strict_reports = {Path(r["file"]): r for r in map(json.loads, strict.output.splitlines())}
    assert set(reports) == set(strict_reports) == set(files)
    for file in files:
        report, folder = reports[file], file.parent.name
        accepted = folder in {"real", "real-nonconforming", "signed"}
        assert report["accepted"] is accepted, (file.name, report["errors"])
        if not accepted:
            assert report["errors"], file.name
            assert all(e["path"].startswith("/") for e in report["errors"]), file.name
        if folder == "real-nonconforming":
            assert report["warnings"], file.name  # each deviation named
            assert strict_reports[file]["accepted"] is False, file.name
        if folder == "signed":  # schema-valid; signatures are checked per sender by the API
            assert strict_reports[file]["accepted"] is True, file.name
