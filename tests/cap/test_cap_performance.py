"""Validation is fast enough for the intake path.

Budgets are generous multiples of what we measure (about 1 ms for a
typical alert, 0.2 to 0.45 s for the 93,000-vertex NOAA alert) so that a
slow CI machine passes while a real regression (10x) fails.
"""

from __future__ import annotations

import time
from pathlib import Path

from cap_samples import alert_xml

from service.cap import validate_cap

NOAA_BIG = "noaa-2.49.0.1.840.0.9b5195e635069329b12a7c697fad5934d144784a.001.1.xml"


def _best_of(runs: int, data: bytes) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        result = validate_cap(data)
        best = min(best, time.perf_counter() - start)
        assert result.accepted
    return best


def test_a_typical_alert_validates_well_under_5_ms(cap_corpus: Path) -> None:
    assert _best_of(20, alert_xml()) < 0.005
    assert _best_of(20, (cap_corpus / "real" / "ca-naad-alert.xml").read_bytes()) < 0.005


def test_the_93000_vertex_noaa_alert_validates_well_under_a_second(cap_corpus: Path) -> None:
    data = (cap_corpus / "real-nonconforming" / NOAA_BIG).read_bytes()
    assert data.count(b",") > 90_000
    assert _best_of(3, data) < 0.9
