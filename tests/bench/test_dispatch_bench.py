"""`bench/dispatch.py --quick` runs end to end and prints the figures the issue names."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(900)


def test_quick_dispatch_bench_prints_its_json_line() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "dispatch.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=880,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["bench"] == "dispatch"
    assert figures["cells"] == 100_000
    for latency in (figures["accept_to_cbc_ms"], figures["cancel_to_kill_ms"]):
        assert 0 < latency["p50"] <= latency["p99"]
    fanout = figures["fanout"]
    assert fanout["recipients"] == 20_000
    assert fanout["submits_per_s"] > 0
    assert 0 < fanout["redis_peak_mb"] < 1024
    assert fanout["worker_rss_mb"] > 0
    assert figures["receipts_rows_per_s"] > 0
