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
  nws_212  the corpus NWS alert (212 polygons, 93,040 points), as simplified

With TOCSIN_BENCH_POSTGIS_URL set, the same cells and the same first
``--postgis-queries`` areas of each class run in PostGIS (bench/postgis.py
says exactly what is computed there).

    .venv/bin/python bench/geo.py [--quick] [--queries 50] [--postgis-queries 10]

The last line is JSON: {"bench": "geo", "cells", "classes": {...}, "index_build_s", ...}.
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


def placements(table: Any, queries: int, seed: int) -> dict[str, list[AlertArea]]:
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

    def build(make: Callable[[], CapArea]) -> list[AlertArea]:
        return [build_alert_area([make()]) for _ in range(queries)]

    nws = build_alert_area(nws_areas())
    return {
        "city": build(lambda: CapArea("city", circles=(Circle(*at(city), 2.0),))),
        "town": build(lambda: polygon_area(*at(town), 10.0, 200, rng)),
        "county": build(lambda: polygon_area(*anywhere(0.5), 40.0, 1000, rng)),
        "region": build(lambda: polygon_area(*anywhere(1.5), 150.0, 5000, rng)),
        # A fresh AlertArea per run so no projected target is cached between runs.
        "nws_212": [
            AlertArea(nws.geometry, nws.contributions, nws.simplification) for _ in range(queries)
        ],
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
    resolve(index, AlertArea(areas[0].geometry, areas[0].contributions))  # warm-up
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
        times, mismatches = [], 0
        postgis.resolve(conn, areas[0].equal_area, areas[0].fcc_buffer_equal_area)  # warm-up
        for area in areas[:n]:
            ours = resolve(index, area)
            elapsed, count, _ = postgis.resolve(conn, area.equal_area, area.fcc_buffer_equal_area)
            times.append(elapsed)
            mismatches += count != ours.count
        out[name] = {"times": times, "mismatches": mismatches}
        print(
            f"postgis {name:8s} p50 {percentile(times, 50):9.1f} ms  p99 {percentile(times, 99):9.1f} ms  (n={len(times)}, count mismatches {mismatches})",
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
    args = parser.parse_args()
    cells = 100_000 if args.quick else 1_000_000
    start = time.perf_counter()
    table = synthesize_table(
        math.ceil(SITES_PER_MILLION * cells / 1e6), BBOX, args.seed, "001", "01", max_cells=cells
    )
    print(
        f"network: {len(table):,} cells synthesised in {time.perf_counter() - start:.1f} s",
        flush=True,
    )
    classes = placements(table, args.queries, args.seed)
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
    for name, areas in classes.items():
        times, counts = run_tocsin(index, areas)
        report[name] = {
            "p50_ms": round(percentile(times, 50), 2),
            "p99_ms": round(percentile(times, 99), 2),
            "mean_cells": round(float(np.mean(counts))),
        }
        print(
            f"tocsin  {name:8s} p50 {percentile(times, 50):9.1f} ms  p99 {percentile(times, 99):9.1f} ms  (n={len(times)}, mean {np.mean(counts):,.0f} cells, max {max(counts):,})",
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
