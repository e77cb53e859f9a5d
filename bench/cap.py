"""CAP validation benchmark: how long `validate_cap` takes per document, in process.

The intake path validates every post before it touches the database; this
measures that share alone, on a typical alert and on the corpus's largest
(the 212-polygon, ~93,000-vertex NWS alert; the 41,009-vertex signed one).

    .venv/bin/python bench/cap.py [--repeat 50]

The last line is JSON: {"bench": "cap", "documents": {NAME: {"bytes", "p50_ms", "p99_ms"}}}.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from service.cap import validate_cap

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "cap"
DOCUMENTS = {
    "typical": CORPUS / "real" / "ca-naad-alert.xml",
    "nws_212": CORPUS
    / "real-nonconforming"
    / "noaa-2.49.0.1.840.0.9b5195e635069329b12a7c697fad5934d144784a.001.1.xml",
    "signed_41k": CORPUS / "signed" / "bf-valid.xml",
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(data: bytes, repeat: int) -> dict[str, float]:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = validate_cap(data)
        timings.append((time.perf_counter() - started) * 1000)
        if not result.accepted:
            raise RuntimeError(f"refused: {result.errors[:3]}")
    return {
        "bytes": len(data),
        "p50_ms": round(statistics.median(timings), 2),
        "p99_ms": round(percentile(timings, 0.99), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    documents = {}
    for name, path in DOCUMENTS.items():
        repeat = args.repeat if name == "typical" else max(1, args.repeat // 10)
        documents[name] = figures = measure(path.read_bytes(), repeat)
        print(
            f"{name}: {figures['bytes']:,} bytes, p50 {figures['p50_ms']} ms, "
            f"p99 {figures['p99_ms']} ms over {repeat} runs"
        )
    print(json.dumps({"bench": "cap", "documents": documents}))


if __name__ == "__main__":
    main()
