"""`bench/cap.py` and `bench/ingest.py` run end to end on small loads and print their figures.

The figures themselves are read by people (docs/performance.md); these tests
only check that both benchmarks run and print the JSON the foundation issue names.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(240)


def run_bench(*args: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=230, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    figures: dict[str, Any] = json.loads(lines[-1])
    return figures


def test_cap_bench_times_the_typical_and_the_largest_corpus_alerts() -> None:
    figures = run_bench("bench/cap.py", "--repeat", "10")
    assert figures["bench"] == "cap"
    documents = figures["documents"]
    assert isinstance(documents, dict)
    assert set(documents) == {"typical", "nws_212", "signed_41k"}
    for name, row in documents.items():
        assert row["bytes"] > 0
        assert 0 < row["p50_ms"] <= row["p99_ms"], name
    assert documents["nws_212"]["bytes"] > 1_000_000


def test_ingest_bench_posts_for_real_and_prints_latency() -> None:
    figures = run_bench("bench/ingest.py", "--rate", "10", "--seconds", "2", "--concurrency", "2")
    assert {"bench", "requests_per_s", "p50_ms", "p99_ms"} <= set(figures)
    assert figures["bench"] == "ingest"
    assert figures["requests"] == 20  # every post of the open loop answered 201
    assert 0 < figures["p50_ms"] <= figures["p99_ms"]
    assert figures["requests_per_s"] > 0
