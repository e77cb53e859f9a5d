"""Geo benchmark: resolve alert areas against a synthetic national network.

A synthetic 1,000,000-cell network (``--quick``: 100,000) covers south-east
Alaska and British Columbia down to Washington, so the real 212-polygon NWS
alert of the corpus falls on it. Per query class, alert areas are placed at
random (seeded) and resolved with the default ``intersects`` policy; every
timing includes projecting the target, its 161 m buffer, the selection and
all metrics. Classes:

  city     2 km circle centred on a random city cell (range < 900 m)
  town     10 km polygon, 200 vertices, centred on a random town cell
  county   40 km polygon, 1,000 vertices, anywhere in the network
  region   150 km polygon, 5,000 vertices, anywhere in the network
  nws_212  the corpus NWS alert (212 polygons, 93,046 points)

Three figures per class, each said apart (medians for the two once-per-alert
steps):

  prepare_ms  build_alert_area: the shapes, their union and, above the soft
              limit of 250 points, the outward simplification (county,
              region and NWS are simplified; the NWS alert once, not per query)
  area_ms     the geometry all operators' resolutions of one alert share
              (AlertArea.shared): selection target and sender's area in
              equal-area metres, the sender's area grown by 161 m, boundary
              pieces and, above 256 points, both cut into pieces (computed
              once per alert, on the first resolution)
  p50/p99_ms  resolve per operator: selection and every metric (covered,
              under-alert, overshoot, beyond 161 m, against the sender's area)

With TOCSIN_BENCH_POSTGIS_URL set, the same cells and the same first
``--postgis-queries`` areas of each class run in PostGIS (bench/postgis.py
says exactly what is computed there: the same selection geometry, the
metrics against the same sender's area and 161 m buffer); the report gives
its p50/p99, the ratios of Tocsin's p50/p99 to them, Tocsin's p50/p99
over the same placements PostGIS ran (``same_placements_*``), count
mismatches and the largest relative difference between its metrics and
Tocsin's.

    .venv/bin/python bench/geo.py [--quick] [--queries 50] [--postgis-queries 10]

The last line is JSON: {"bench": "geo", "cells", "classes": {name: {"p50_ms", "p99_ms",
"mean_cells", "prepare_ms", "prepare_max_ms", "area_ms", ...}}, "index_build_s", ...}.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geo import (  # noqa: E402
    AlertArea,
    CapArea,
    CellIndex,
    Circle,
    build_alert_area,
    parse_cap_polygon,
    resolve,
    synthesize_table,
)

NWS = (
    ROOT.parent
    / "shared/corpus/cap/real-nonconforming"
    / "noaa-2.49.0.1.840.0.9b5195e635069329b12a7c697fad5934d144784a.001.1.xml"
)
BBOX = (-136.0, 47.0, -120.0, 58.0)  # includes the NWS alert (54.7-57.1 N, 130-134.4 W)
SITES_PER_MILLION = 118_000  # about 8.6 cells per site
KM_PER_DEG = 111.32


def polygon_area(
    lat: float, lon: float, radius_km: float, vertices: int, rng: np.random.Generator
) -> CapArea:
    """A ragged roughly-round CAP polygon ("lat,lon" order), like a drawn warning area."""
    angles = np.linspace(0, 2 * math.pi, vertices, endpoint=False)
    wobble = 1 + 0.08 * np.sin(3 * angles + rng.uniform(0, 6)) + rng.uniform(-0.02, 0.02, vertices)
    dlat = radius_km * wobble * np.sin(angles) / KM_PER_DEG
    dlon = radius_km * wobble * np.cos(angles) / (KM_PER_DEG * math.cos(math.radians(lat)))
    points = [(float(lat + a), float(lon + o)) for a, o in zip(dlat, dlon, strict=True)]
    return CapArea("bench", (tuple(points + points[:1]),))


def nws_areas() -> list[CapArea]:
    ns = {"c": "urn:oasis:names:tc:emergency:cap:1.2"}
    areas = []
    for element in etree.parse(str(NWS)).iterfind(".//c:area", ns):
        name = element.findtext("c:areaDesc", namespaces=ns) or ""
        polygons = tuple(
            parse_cap_polygon(name, p.text or "") for p in element.iterfind("c:polygon", ns)
        )
        areas.append(CapArea(name, polygons))
    return areas


Prepared = tuple[list[AlertArea], list[float], list[float]]


def _prepare(make: Callable[[], list[CapArea]]) -> tuple[AlertArea, float, float]:
    """Build one alert area, timing the two once-per-alert steps apart.

    ``prepare``: ``build_alert_area`` (parsing the shapes, the union, and the
    outward simplification above the soft limits). ``area``: the geometry
    every resolution of that alert shares, whichever operator
    (``AlertArea.shared``): the selection target and the sender's area in
    equal-area metres, the sender's area grown by 161 m, their boundary
    pieces and, for a big outline, both cut into pieces (the service
    computes these on the first operator's resolution and reuses them for
    the others).
    """
    caps = make()
    start = time.perf_counter()
    area = build_alert_area(caps)
    prepare_ms = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    area.shared()
    area_ms = (time.perf_counter() - start) * 1000
    return area, prepare_ms, area_ms


def placements(table: Any, queries: int, seed: int) -> dict[str, Prepared]:
    rng = np.random.default_rng(seed)
    city = np.flatnonzero(table.range_m < 900)
    town = np.flatnonzero((table.range_m >= 1500) & (table.range_m < 4000))

    def at(rows: np.ndarray) -> tuple[float, float]:
        row = int(rng.choice(rows))
        return float(table.lat[row]), float(table.lon[row])

    def anywhere(margin: float) -> tuple[float, float]:
        return float(rng.uniform(BBOX[1] + margin, BBOX[3] - margin)), float(
            rng.uniform(BBOX[0] + 2 * margin, BBOX[2] - 2 * margin)
        )

    def build(make: Callable[[], CapArea]) -> Prepared:
        built = [_prepare(lambda: [make()]) for _ in range(queries)]
        return [b[0] for b in built], [b[1] for b in built], [b[2] for b in built]

    # The NWS alert is one alert: prepared once (it takes seconds), then
    # resolved ``queries`` times as if by that many operators.
    nws, nws_prepare, nws_area = _prepare(nws_areas)
    return {
        "city": build(lambda: CapArea("city", circles=(Circle(*at(city), 2.0),))),
        "town": build(lambda: polygon_area(*at(town), 10.0, 200, rng)),
        "county": build(lambda: polygon_area(*anywhere(0.5), 40.0, 1000, rng)),
        "region": build(lambda: polygon_area(*anywhere(1.5), 150.0, 5000, rng)),
        "nws_212": ([nws] * queries, [nws_prepare], [nws_area]),
    }


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident set size in MB."""
    with open("/proc/self/status") as status:
        current = next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))
    return current / 1024, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) if values else math.nan


def save_and_load(holder: list[CellIndex]) -> tuple[CellIndex, float]:
    """Save the built index, drop it, time loading it back (the service after a restart)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cells.index"
        holder[0].save(path)
        holder.clear()  # measure the service's state: one index in memory, loaded from disk
        start = time.perf_counter()
        loaded = CellIndex.load(path)
        load_s = time.perf_counter() - start
    return loaded, load_s


def run_tocsin(index: CellIndex, areas: list[AlertArea]) -> tuple[list[float], list[int]]:
    resolve(index, areas[0])  # warm-up
    times, counts = [], []
    for area in areas:
        start = time.perf_counter()
        result = resolve(index, area)
        times.append((time.perf_counter() - start) * 1000)
        counts.append(result.count)
    return times, counts


def run_postgis(
    url: str, index: CellIndex, classes: dict[str, list[AlertArea]], n: int, signature: str
) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "bench"))
    import postgis

    conn = postgis.connect(url)
    load_s = postgis.load(conn, index.ids, index.coverage, signature)
    print(f"postgis: cells loaded in {load_s:.1f} s (0 = already loaded)", flush=True)
    out: dict[str, Any] = {}
    for name, areas in classes.items():
        times, mismatches, worst = [], 0, 0.0

        def query(area: AlertArea) -> tuple[float, int, tuple[float, ...]]:
            return postgis.resolve(  # type: ignore[no-any-return]
                conn, area.equal_area, area.sender_equal_area, area.fcc_buffer_equal_area
            )

        query(areas[0])  # warm-up
        for area in areas[:n]:
            ours = resolve(index, area)
            elapsed, count, theirs = query(area)
            times.append(elapsed)
            mismatches += count != ours.count
            m = ours.metrics
            mine = (m.target_km2, m.covered_km2, m.under_alert_km2, m.overshoot_km2,
                    m.overshoot_beyond_161m_km2)  # fmt: skip
            worst = max(  # relative to the figure (or to 1 km² when smaller)
                worst, *(abs(a - b) / max(abs(b), 1.0) for a, b in zip(mine, theirs, strict=True))
            )
        out[name] = {"times": times, "mismatches": mismatches, "max_metric_rel_diff": worst}
        print(
            f"postgis {name:8s} p50 {percentile(times, 50):9.1f} ms  p99 {percentile(times, 99):9.1f} ms  (n={len(times)}, count mismatches {mismatches}, largest relative metric difference {worst:.1e})",
            flush=True,
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="100,000 cells instead of 1,000,000")
    parser.add_argument("--queries", type=int, default=50, help="random placements per class")
    parser.add_argument(
        "--postgis-queries", type=int, default=10, help="of those, how many also run in PostGIS"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cells", type=int, default=None, help="network size (for tests)")
    args = parser.parse_args()
    cells = args.cells or (100_000 if args.quick else 1_000_000)
    start = time.perf_counter()
    table = synthesize_table(
        math.ceil(SITES_PER_MILLION * cells / 1e6), BBOX, args.seed, "001", "01", max_cells=cells
    )
    print(
        f"network: {len(table):,} cells synthesised in {time.perf_counter() - start:.1f} s",
        flush=True,
    )
    prepared = placements(table, args.queries, args.seed)
    classes = {name: areas for name, (areas, _, _) in prepared.items()}
    start = time.perf_counter()
    holder = [CellIndex.build(table, version="bench")]
    build_s = time.perf_counter() - start
    del table  # the service drops the decoded inventory once the index is built
    index, load_s = save_and_load(holder)
    current, peak = rss_mb()
    print(
        f"index: build {build_s:.2f} s, load {load_s:.2f} s, RSS {current:.0f} MB (peak {peak:.0f} MB)",
        flush=True,
    )
    report: dict[str, Any] = {}
    tocsin_times: dict[str, list[float]] = {}
    for name, areas in classes.items():
        times, counts = run_tocsin(index, areas)
        tocsin_times[name] = times
        _, prepare_times, area_times = prepared[name]
        report[name] = {
            "p50_ms": round(percentile(times, 50), 2),
            "p99_ms": round(percentile(times, 99), 2),
            "mean_cells": round(float(np.mean(counts))),
            "prepare_ms": round(percentile(prepare_times, 50), 2),
            "prepare_max_ms": round(max(prepare_times), 2),
            "area_ms": round(percentile(area_times, 50), 2),
            "points_before": areas[0].simplification.points_before
            if areas[0].simplification
            else None,
            "points_after": areas[0].simplification.points_after
            if areas[0].simplification
            else None,
        }
        print(
            f"tocsin  {name:8s} p50 {percentile(times, 50):9.1f} ms  p99 {percentile(times, 99):9.1f} ms  (n={len(times)}, mean {np.mean(counts):,.0f} cells, max {max(counts):,}); "
            f"prepare {report[name]['prepare_ms']:.1f} ms (max {report[name]['prepare_max_ms']:.1f}), area {report[name]['area_ms']:.1f} ms",
            flush=True,
        )
    url = os.environ.get("TOCSIN_BENCH_POSTGIS_URL")
    postgis = {}
    if url:
        signature = hashlib.sha256(f"{cells}:{args.seed}:{index.ids[-1]}".encode()).hexdigest()
        postgis = run_postgis(url, index, classes, args.postgis_queries, signature)
    for name, entry in report.items():
        pg = postgis.get(name)
        entry["postgis_p99_ms"] = round(percentile(pg["times"], 99), 2) if pg else None
        entry["postgis_p50_ms"] = round(percentile(pg["times"], 50), 2) if pg else None
        entry["ratio_vs_postgis"] = (
            round(entry["p99_ms"] / entry["postgis_p99_ms"], 3) if pg else None
        )
        entry["postgis_count_mismatches"] = pg["mismatches"] if pg else None
        entry["postgis_max_metric_rel_diff"] = pg["max_metric_rel_diff"] if pg else None
        entry["ratio_vs_postgis_p50"] = (
            round(entry["p50_ms"] / entry["postgis_p50_ms"], 3) if pg else None
        )
        # Like for like: Tocsin's figures over the same placements PostGIS ran.
        same = tocsin_times[name][: len(pg["times"])] if pg else []
        entry["same_placements_p50_ms"] = round(percentile(same, 50), 2) if pg else None
        entry["same_placements_p99_ms"] = round(percentile(same, 99), 2) if pg else None
    current, peak = rss_mb()
    summary = {
        "bench": "geo",
        "cells": len(index),
        "queries": args.queries,
        "postgis_queries": args.postgis_queries if url else None,
        "classes": report,
        "index_build_s": round(build_s, 2),
        "index_load_s": round(load_s, 2),
        "rss_mb": round(current),
        "peak_rss_mb": round(peak),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
