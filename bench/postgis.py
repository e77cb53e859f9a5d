"""PostGIS side of the geo benchmark: the same cells, the same query, in SQL.

The cells' coverage polygons are loaded exactly as Tocsin's index holds them
(equal-area metres, SRID 6933, sent as WKB hex through COPY) with a GiST index.
One query per alert computes what ``geo.resolve`` computes with the
``intersects`` policy, with the same target semantics: cells are selected
with the selection geometry (the outward simplification when the sender's
area is above the soft limits; ``ST_Intersects`` on the GiST index), and
every metric is measured against the sender's own area: ``ST_Union`` of the
selected cells' coverage, and the areas of the sender's area, the union, the
sender's area outside the union (under-alert), the union outside the
sender's area (overshoot) and outside its 161 m buffer. The three geometries
are made by Tocsin's code and passed in as WKB, so PostGIS does not pay for
them (Tocsin computes them once per alert too: ``area_ms`` in bench/geo.py,
not inside its per-operator timings either).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import psycopg
import shapely

TABLE = "bench_cells"

QUERY = f"""
WITH t AS (SELECT ST_GeomFromWKB(%(selection)s, 6933) AS s, ST_GeomFromWKB(%(target)s, 6933) AS g,
                  ST_GeomFromWKB(%(buffered)s, 6933) AS b),
sel AS (SELECT c.cell_id, c.geom FROM {TABLE} c, t WHERE ST_Intersects(c.geom, t.s)),
u AS (SELECT ST_Union(geom) AS g, count(*) AS n, array_agg(cell_id) AS ids FROM sel)
SELECT u.n, u.ids,
       ST_Area(t.g) / 1e6,
       ST_Area(u.g) / 1e6,
       ST_Area(ST_Difference(t.g, u.g)) / 1e6,
       ST_Area(ST_Difference(u.g, t.g)) / 1e6,
       ST_Area(ST_Difference(u.g, t.b)) / 1e6
FROM t, u
"""


def connect(url: str) -> psycopg.Connection[Any]:
    conn = psycopg.connect(url, autocommit=True)
    conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    return conn


def _loaded(conn: psycopg.Connection[Any], signature: str) -> bool:
    conn.execute("CREATE TABLE IF NOT EXISTS bench_meta (name text PRIMARY KEY, signature text)")
    row = conn.execute("SELECT signature FROM bench_meta WHERE name = %s", (TABLE,)).fetchone()
    return row is not None and row[0] == signature


def load(
    conn: psycopg.Connection[Any], ids: np.ndarray, coverage: np.ndarray, signature: str
) -> float:
    """(Re)load the cells unless the same network is already there; returns seconds spent."""
    if _loaded(conn, signature):
        return 0.0
    start = time.perf_counter()
    conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
    conn.execute(f"CREATE TABLE {TABLE} (cell_id text PRIMARY KEY, geom geometry(Geometry, 6933))")
    chunk = 100_000
    with conn.cursor() as cur, cur.copy(f"COPY {TABLE} (cell_id, geom) FROM STDIN") as copy:
        for begin in range(0, len(ids), chunk):
            hexes = shapely.to_wkb(coverage[begin : begin + chunk], hex=True)
            lines = "".join(
                f"{i}\tSRID=6933;{h}\n"
                for i, h in zip(ids[begin : begin + chunk].tolist(), hexes, strict=True)
            )
            copy.write(lines)
    conn.execute(f"CREATE INDEX {TABLE}_gix ON {TABLE} USING gist (geom)")
    conn.execute(f"ANALYZE {TABLE}")
    conn.execute(
        "INSERT INTO bench_meta VALUES (%s, %s) ON CONFLICT (name) DO UPDATE SET signature = excluded.signature",
        (TABLE, signature),
    )
    return time.perf_counter() - start


def resolve(
    conn: psycopg.Connection[Any], selection: Any, target: Any, buffered: Any
) -> tuple[float, int, tuple[float, ...]]:
    """Run the query once: (milliseconds, cell count, (target, covered, under, overshoot, beyond) km²).

    ``selection`` selects the cells; ``target`` (the sender's area) and
    ``buffered`` (it grown by 161 m) are what the metrics measure against.
    """
    params = {
        "selection": shapely.to_wkb(selection),
        "target": shapely.to_wkb(target),
        "buffered": shapely.to_wkb(buffered),
    }
    start = time.perf_counter()
    row = conn.execute(QUERY, params).fetchone()
    elapsed = (time.perf_counter() - start) * 1000
    assert row is not None
    areas = tuple(float(v) if v is not None else 0.0 for v in row[2:])
    return elapsed, int(row[0]), areas
