"""`bench/geo.py` runs end to end at a tiny size and prints its last-line JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(600)
CLASSES = {"city", "town", "county", "region", "nws_212"}


def test_tiny_geo_bench_prints_its_json_line() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "geo.py"), "--cells", "3000", "--queries", "3"],
        capture_output=True,
        text=True,
        timeout=580,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin"},  # no TOCSIN_BENCH_POSTGIS_URL: Tocsin only
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["bench"] == "geo"
    assert 0 < figures["cells"] <= 3000
    assert figures["queries"] == 3
    assert set(figures["classes"]) == CLASSES
    for name, entry in figures["classes"].items():
        assert 0 < entry["p50_ms"] <= entry["p99_ms"], name
        assert entry["prepare_ms"] > 0, name
        assert entry["prepare_max_ms"] >= entry["prepare_ms"], name
        assert entry["area_ms"] > 0, name
        assert entry["mean_cells"] >= 0, name
        assert entry["postgis_p99_ms"] is None
    nws = figures["classes"]["nws_212"]
    assert nws["points_before"] > 90_000
    assert nws["points_after"] <= 250  # simplified within the soft limit
    assert figures["classes"]["city"]["points_before"] is None  # not simplified
    for key in ("index_build_s", "index_load_s"):  # rounded to 10 ms: a tiny build may be 0
        assert figures[key] >= 0
    for key in ("rss_mb", "peak_rss_mb"):
        assert figures[key] > 0
