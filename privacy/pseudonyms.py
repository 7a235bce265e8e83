"""Keyed hashes of identifiers that must not be stored (a LINE user id): stable for one key, so a
conversation stays together, and useless to anyone without the key, unlike a plain digest of an
id from a small, known space.

The key (PII_KEY) is a secret of the deployment: scripts/stack makes one per run folder when it
is not set. Each use derives its own subkey from it by purpose, so one hash cannot be matched
against another use's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def subkey(key: str | bytes, purpose: str) -> bytes:
    """A 32-byte key for one purpose, derived from the deployment's secret."""
    secret = key.encode() if isinstance(key, str) else key
    if not secret:
        raise ValueError("an empty key would make the hashes anyone's to recompute")
    return hmac.new(secret, b"eservice-pii:" + purpose.encode(), hashlib.sha256).digest()


def keyed_hash(value: str, key: str | bytes, purpose: str) -> str:
    """HMAC-SHA256 of `value`, in lowercase base32: letters and the digits 2-7 only, so it never
    reads as a phone number or an ID to the masking."""
    digest = hmac.new(subkey(key, purpose), value.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode().rstrip("=").lower()
