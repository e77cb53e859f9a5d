"""HMAC signatures for the generic HTTP gateway, both directions.

`X-Tocsin-Signature: sha256=<hex>` over `<timestamp>.<body>` with the
shared secret, and `X-Tocsin-Timestamp: <unix seconds>`. Signing the
timestamp with the body lets the receiver refuse replays older than a few
minutes; the same scheme signs our requests and the gateway's receipt
callbacks. Also the per-message secret of Kannel dlr-urls.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Tocsin-Signature"
TIMESTAMP_HEADER = "X-Tocsin-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
DEFAULT_TOLERANCE_SECONDS = 300


def sign_body(secret: bytes, timestamp: int, body: bytes) -> str:
    """The signature header value for `body` sent at `timestamp`."""
    digest = hmac.new(secret, str(timestamp).encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def signed_headers(secret: bytes, timestamp: int, body: bytes) -> dict[str, str]:
    """Timestamp and signature headers for a request carrying `body`."""
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign_body(secret, timestamp, body),
    }


def verify_body(
    secret: bytes,
    *,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: float,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """Whether `signature` is ours for `body` and `timestamp` is within `tolerance` of `now`.

    `now` is a parameter so the check stays pure and testable.
    """
    if not timestamp or not signature or not timestamp.isdigit():
        return False
    if abs(now - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(sign_body(secret, int(timestamp), body), signature)


def dlr_secret(key: bytes, correlation_id: str) -> str:
    """The secret we put in a Kannel dlr-url for `correlation_id`.

    Derived rather than stored: the receipt endpoint recomputes it, and a
    leaked receipt URL cannot be replayed for another message.
    """
    return hmac.new(key, correlation_id.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def verify_dlr_secret(key: bytes, correlation_id: str, secret: str) -> bool:
    """Whether a dlr-url's `secret` matches its `cid` (constant-time)."""
    return hmac.compare_digest(dlr_secret(key, correlation_id), secret)
