"""`bench/sms.py` runs end to end on a small N and prints the figures the SMS issue names."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RECIPIENTS = 2_000
pytestmark = pytest.mark.timeout(180)


def test_sms_bench_submits_and_receives_every_recipient() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "sms.py"), "--recipients", str(RECIPIENTS)],
        capture_output=True,
        text=True,
        timeout=170,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    figures = json.loads(lines[-1])
    assert set(figures) == {"bench", "recipients", "submits_per_s", "receipts_rows_per_s", "rss_mb"}
    assert figures["bench"] == "sms"
    assert figures["recipients"] == RECIPIENTS
    assert figures["submits_per_s"] > 0
    assert figures["receipts_rows_per_s"] > 0
    assert 0 < figures["rss_mb"] < 4096
    # The human-readable figures come first, and name the same recipient count.
    text = "\n".join(lines[:-1])
    assert f"submit: {RECIPIENTS:,} messages" in text
    assert f"receipts: {RECIPIENTS:,} rows delivered" in text
