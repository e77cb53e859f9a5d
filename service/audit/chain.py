"""The hash that links one audit event to the one before it."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any


def event_hash(
    *,
    seq: int,
    at: dt.datetime,
    actor: str,
    action: str,
    alert_id: str | None,
    detail: dict[str, Any],
    prev_hash: str,
) -> str:
    """SHA-256 over a canonical JSON form of the event and its predecessor's hash.

    Canonical means sorted keys, no spaces and UTC microsecond timestamps, so
    the same event hashes the same on SQLite and PostgreSQL.
    """
    canonical = json.dumps(
        {
            "seq": seq,
            "at": at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
            "actor": actor,
            "action": action,
            "alert_id": alert_id,
            "detail": detail,
            "prev_hash": prev_hash,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
