"""The two ways a channel can fail: try again later, or give up.

Adapters never return a bare bool: every failure is one of these, so the
dispatcher can decide between a retry with back-off and a final `failed`.
"""

from __future__ import annotations


class ChannelError(Exception):
    """Base of every failure raised by a channel adapter."""


class TransientChannelError(ChannelError):
    """Worth retrying: timeouts, connection loss, 429, 5xx, throttling.

    `retry_after` is the peer's hint in seconds, when it gave one.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentChannelError(ChannelError):
    """Retrying cannot help: a 4xx, an invalid number, a message the peer refuses."""
