"""Rate limits per sender and per client address, counted in Redis so every gateway process shares them.

The limits are in the `limits` library's notation (`RATE_LIMIT_SENDER`, `RATE_LIMIT_CLIENT`, e.g.
`20/minute` or `20/minute;200/hour`). Who is counted is stored as a digest, never as written: a web
sender is the secret that reads its conversation, a LINE user id and an address are personal data.
When Redis cannot be reached the request is let through (and logged): the limits protect the
assistant, and a chat that stops answering because of them would be worse than a burst let in.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from typing import Literal

from limits import RateLimitItem, parse_many
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string
from redis.asyncio import ConnectionPool as RedisPool

from gateway.config import Settings
from privacy import masked_logger
from privacy.pseudonyms import subkey

log = masked_logger(__name__)

Kind = Literal["sender", "client"]
# Over the limit: the web chat answers 429 with this; LINE users get gateway.line.texts.RATE_LIMITED.
RATE_LIMITED_TH = "ขออภัยค่ะ ส่งข้อความถี่เกินไป กรุณารอสักครู่แล้วลองใหม่อีกครั้งนะคะ"


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    # Seconds until a refused caller may try again (Retry-After); 0 when allowed.
    retry_after: int = 0
    # The limit that refused, whose window the one polite notice lasts for.
    item: RateLimitItem | None = None


ALLOWED = Verdict(True)


def _digest(who: str, key: bytes = b"") -> str:
    return hashlib.blake2b(who.encode("utf-8"), digest_size=16, key=key).hexdigest()


class RateLimiter:
    def __init__(self, redis_url: str, sender: str, client: str, pii_key: str = "") -> None:
        # Keyed with PII_KEY when the gateway has it: a LINE user id is kept only as a keyed hash.
        self._key = subkey(pii_key, "rate-limit") if pii_key else b""
        # parse_many raises ValueError for a limit it cannot read: the gateway does not start then.
        self.limits: dict[Kind, list[RateLimitItem]] = {
            "sender": parse_many(sender),
            "client": parse_many(client),
        }
        self._pool = RedisPool.from_url(redis_url)
        storage = storage_from_string(
            "async+" + redis_url,
            implementation="redispy",
            connection_pool=self._pool,
            key_prefix="gateway",
            wrap_exceptions=True,
        )
        self._limiter = MovingWindowRateLimiter(storage)

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        return cls(
            settings.redis_url, settings.rate_limit_sender, settings.rate_limit_client, settings.pii_key
        )

    def _items(self, kind: Kind, factor: int) -> list[RateLimitItem]:
        if factor == 1:
            return self.limits[kind]
        return [
            type(item)(item.amount * factor, item.multiples, item.namespace) for item in self.limits[kind]
        ]

    async def admit(self, scope: str, kind: Kind, who: str, factor: int = 1) -> Verdict:
        """Count one request of `who` (a sender or an address) on `scope` (web-chat, line, ...),
        against `factor` times the configured limit."""
        key = _digest(who, self._key)
        try:
            for item in self._items(kind, factor):
                if not await self._limiter.hit(item, scope, kind, key):
                    stats = await self._limiter.get_window_stats(item, scope, kind, key)
                    return Verdict(False, max(1, math.ceil(stats.reset_time - time.time())), item)
        except StorageError:
            log.warning("rate limit store unreachable; %s %s let through", scope, kind, exc_info=True)
        return ALLOWED

    async def first_refusal(self, scope: str, who: str, refused_by: RateLimitItem) -> bool:
        """True for the first refusal of `who` within the refusing limit's window, so a user over
        the limit is told once rather than once per message."""
        notice = type(refused_by)(1, refused_by.multiples, namespace="NOTICE")
        try:
            return await self._limiter.hit(notice, scope, "notice", _digest(who, self._key))
        except StorageError:
            log.warning("rate limit store unreachable; no notice for %s", scope, exc_info=True)
            return False

    async def aclose(self) -> None:
        await self._pool.aclose()
