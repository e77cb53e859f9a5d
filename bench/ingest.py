"""Intake benchmark: concurrent posts of corpus alerts to `tocsin serve` on embedded defaults.

Starts a real server process (SQLite + bundled Redis in a temporary data
directory), then
  1. offers a steady open-loop load (default 50 requests/s for 20 s) and
     measures latency — the target is p99 <= 100 ms at 50 requests/s;
  2. saturates it with a closed loop of concurrent clients to find the
     throughput ceiling.
Every request carries a fresh identifier so each is a real intake, not a replay.

    .venv/bin/python bench/ingest.py [--rate 50] [--seconds 20] [--concurrency 16]
    [--no-worker | --workers N] [--database-url postgresql://...]

The last line is JSON: {"bench": "ingest", "requests_per_s", "p50_ms", "p99_ms", ...}.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "cap" / "real"
TOCSIN = str(Path(sys.executable).with_name("tocsin"))
# Typical alerts: a few kB, one or two infos, a polygon or a circle.
TYPICAL = [
    "au-nsw-rfs.xml",
    "us-noaa-multiple-polygons.xml",
    "is-imo.xml",
    "mx-smn-update.xml",
    "ca-naad-alert.xml",
    "ph-pagasa-test.xml",
    "us-wcatwc-tsunami.xml",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def load_documents() -> list[bytes]:
    return [(CORPUS / name).read_bytes() for name in TYPICAL]


def senders(documents: list[bytes]) -> list[str]:
    found = {re.search(rb"<(?:\w+:)?sender>([^<]+)<", d) for d in documents}
    return sorted(m.group(1).decode() for m in found if m)


def fresh(document: bytes, n: int) -> bytes:
    """The document as a new, live alert: a unique identifier, msgType Alert, current times.

    A fresh identifier makes every post a real intake, msgType Alert needs
    no reference, and `sent` now with `expires` hours ahead makes it a live
    warning (the corpus files expired years ago, so each would otherwise be
    expired by the worker's sweep the moment it is planned).
    """
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    stamp = now.isoformat().encode()
    later = (now + dt.timedelta(hours=6)).isoformat().encode()
    document = re.sub(
        rb"(<(?:\w+:)?identifier>)([^<]+)(<)", rb"\g<1>bench-%d-\2\3" % n, document, count=1
    )
    document = re.sub(rb"(<(?:\w+:)?msgType>)\w+(<)", rb"\1Alert\2", document, count=1)
    document = re.sub(
        rb"(<(?:\w+:)?(?:sent|effective|onset)>)[^<]+(<)", rb"\g<1>" + stamp + rb"\2", document
    )
    document = re.sub(rb"(<(?:\w+:)?expires>)[^<]+(<)", rb"\g<1>" + later + rb"\2", document)
    return re.sub(rb"<(?:\w+:)?references>[^<]*</(?:\w+:)?references>", b"", document)


def provision(env: dict[str, str], sender_list: list[str]) -> str:
    subprocess.run([TOCSIN, "db", "upgrade"], env=env, check=True, capture_output=True)
    args = [TOCSIN, "agencies", "create", "--name", "bench"]
    for sender in sender_list:
        args += ["--sender", sender]
    subprocess.run(args, env=env, check=True, capture_output=True)
    key = subprocess.run(
        [TOCSIN, "keys", "create", "--role", "agency", "--name", "bench", "--agency", "bench"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return key.stdout.strip()


def start_server(env: dict[str, str], *, worker: bool) -> subprocess.Popen[bytes]:
    return subprocess.Popen([TOCSIN, "serve", *([] if worker else ["--no-worker"])], env=env)


async def wait_ready(base: str) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(200):
            try:
                if (await client.get(f"{base}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the server did not start")


async def post_one(client: httpx.AsyncClient, body: bytes, latencies: list[float]) -> None:
    started = time.perf_counter()
    response = await client.post("/api/v1/alerts", content=body)
    latencies.append((time.perf_counter() - started) * 1000)
    if response.status_code != 201:
        raise RuntimeError(f"unexpected {response.status_code}: {response.text[:300]}")


async def open_loop(
    client: httpx.AsyncClient, docs: list[bytes], rate: float, seconds: float, first: int
) -> tuple[list[float], float]:
    latencies: list[float] = []
    tasks, total = [], int(rate * seconds)
    start = time.perf_counter()
    for n in range(total):
        delay = start + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(
            asyncio.create_task(post_one(client, fresh(docs[n % len(docs)], first + n), latencies))
        )
    await asyncio.gather(*tasks)
    return latencies, total / (time.perf_counter() - start)


async def closed_loop(
    client: httpx.AsyncClient, docs: list[bytes], concurrency: int, seconds: float
) -> float:
    latencies: list[float] = []
    counter = iter(range(10_000_000, 20_000_000))
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            n = next(counter)
            await post_one(client, fresh(docs[n % len(docs)], n), latencies)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies) / (time.perf_counter() - start)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far (Linux /proc), for the cost per request."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def worker_children(pid: int) -> list[int]:
    """The `tocsin worker` processes `tocsin serve` started beside its API (Linux /proc)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(c) for c in children if b"worker" in Path(f"/proc/{c}/cmdline").read_bytes()]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(args: argparse.Namespace) -> dict[str, object]:
    docs = load_documents()
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        env = {
            **os.environ,
            "TOCSIN_DATA_DIR": data_dir,
            "TOCSIN_PORT": str(port),
            "TOCSIN_LOG_LEVEL": "WARNING",
        }
        env.pop("TOCSIN_DATABASE_URL", None)
        if args.database_url:  # an empty database of its own (migrated here)
            env["TOCSIN_DATABASE_URL"] = args.database_url
        env.pop("TOCSIN_REDIS_URL", None)
        key = provision(env, senders(docs))
        server = start_server(env, worker=not args.no_worker and not args.workers)
        # Workers apart, as deployed: they plan each accepted alert beside the API.
        workers = [subprocess.Popen([TOCSIN, "worker"], env=env) for _ in range(args.workers)]
        try:
            base = f"http://127.0.0.1:{port}"
            await wait_ready(base)
            headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/cap+xml"}
            # Idle connections are dropped before uvicorn's 5 s keep-alive ends: a
            # request sent on a connection the server is closing fails (ReadError).
            limits = httpx.Limits(
                max_connections=200, max_keepalive_connections=200, keepalive_expiry=2
            )
            async with httpx.AsyncClient(
                base_url=base, headers=headers, limits=limits, timeout=30
            ) as client:
                await open_loop(client, docs, 10, 1, first=1_000_000)  # warm-up
                pids = [server.pid, *(w.pid for w in workers), *worker_children(server.pid)]
                before = [cpu_seconds(pid) for pid in pids]
                latencies, achieved = await open_loop(
                    client, docs, args.rate, args.seconds, first=0
                )
                spent = [cpu_seconds(pid) - b for pid, b in zip(pids, before, strict=True)]
                ceiling = await closed_loop(client, docs, args.concurrency, args.seconds / 2)
        finally:
            for process in [*workers, server]:
                process.terminate()
            for process in [*workers, server]:
                process.wait(timeout=30)
    return {
        "bench": "ingest",
        "requests_per_s": round(achieved, 1),
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "requests": len(latencies),
        # CPU per request during the open loop: the API process, the worker processes.
        "server_cpu_ms": round(spent[0] * 1000 / len(latencies), 1),
        "worker_cpu_ms": round(sum(spent[1:]) * 1000 / len(latencies), 1),
        "max_requests_per_s": round(ceiling, 1),
        "database": "postgresql" if args.database_url else "sqlite (embedded)",
        "worker_beside_api": not args.no_worker and not args.workers,
        "worker_processes": args.workers,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--no-worker", action="store_true", help="API alone (workers elsewhere), as deployed"
    )
    parser.add_argument("--database-url", help="PostgreSQL instead of the embedded SQLite")
    parser.add_argument(
        "--workers", type=int, default=0, help="run the API alone and N `tocsin worker` processes"
    )
    result = asyncio.run(run(parser.parse_args()))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
