"""API key format: ``tocsin_<id>_<secret>``; only SHA-256 of the secret is kept.

The secret has 256 bits of entropy, so a fast hash is enough (no password
stretching needed), and the id lets us find the row without scanning.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

PREFIX = "tocsin"


@dataclass(frozen=True)
class MintedKey:
    key_id: str
    secret_sha256: str
    plaintext: str  # shown once to whoever created it, never stored


def mint_key() -> MintedKey:
    """A fresh random key."""
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return MintedKey(key_id, hash_secret(secret), f"{PREFIX}_{key_id}_{secret}")


def hash_secret(secret: str) -> str:
    """The stored form of a key's secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def split_key(plaintext: str) -> tuple[str, str] | None:
    """(key id, secret) of a presented key, or None when it is not shaped like one."""
    parts = plaintext.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def secret_matches(secret: str, stored_sha256: str) -> bool:
    """Constant-time comparison of a presented secret with the stored hash."""
    return hmac.compare_digest(hash_secret(secret), stored_sha256)
