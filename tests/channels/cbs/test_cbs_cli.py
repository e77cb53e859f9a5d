"""`tocsin cbs encode`: the bytes an operator can compare against their CBC, offline."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from channels.cbs.decoder import decode_content
from service.cli import app

CORPUS = Path("/work/shared/corpus/cap")
EMERGENCY_PAGE = "C576597E2EBBC7F950A8" + "D168341A8D46A3" * 10 + "D100"  # telecom.md §5 #3


def _run(*args: str) -> dict[str, list[dict[str, object]]]:
    result = CliRunner().invoke(app, ["cbs", "encode", *args, "--json"])
    assert result.exit_code == 0, result.output
    report: dict[str, list[dict[str, object]]] = json.loads(result.output)
    return report


def test_text_gives_the_published_sib12_page() -> None:
    (message,) = _run("--text", "Emergency!!", "--language", "en")["messages"]
    assert message["dcs"] == 1
    assert message["page_count"] == 1
    assert message["pages"] == [EMERGENCY_PAGE]
    assert message["page_lengths"] == [10]


def test_cmas_text_budget_is_360_characters() -> None:
    (message,) = _run("--text", "word " * 200)["messages"]
    assert len(str(message["text"])) <= 360
    (eu,) = _run("--text", "word " * 200, "--profile", "eu-alert")["messages"]
    assert len(str(eu["text"])) > 360


def test_cap_file_gives_one_message_per_info_with_identifiers() -> None:
    path = CORPUS / "real/il-488abaaf-cad5-4d2b-93b2-703016878453.xml"
    cmas = _run(str(path))["messages"]
    assert [m["language"] for m in cmas] == ["en", "he"]
    assert all("not WEA-eligible" in str(m["refused"]) for m in cmas)
    english, hebrew = _run(str(path), "--profile", "eu-alert")["messages"]
    assert (english["message_identifier"], hebrew["message_identifier"]) == (4378, 4391)
    assert hebrew["dcs"] == 0x11
    pages = [bytes.fromhex(str(p)) for p in hebrew["pages"]]  # type: ignore[attr-defined]
    assert "".join(decode_content(page, 0x11)[1] for page in pages) == hebrew["text"]


def test_drill_gets_a_test_identifier_and_human_output() -> None:
    path = CORPUS / "real/ph-pagasa-test.xml"
    (message,) = _run(str(path))["messages"]
    assert (message["message_identifier"], message["purpose"]) == (4398, "test")
    result = CliRunner().invoke(app, ["cbs", "encode", str(path)])
    assert result.exit_code == 0
    assert "message identifier 4398 (test)" in result.output
    assert "page 1: " in result.output


def test_text_or_file_is_required() -> None:
    result = CliRunner().invoke(app, ["cbs", "encode"])
    assert result.exit_code != 0
