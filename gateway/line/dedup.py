"""Remember recently handled webhook event ids so redeliveries are answered once.

`SharedRecentIds` keeps them in Redis (SET NX with a TTL), so a redelivery that reaches another
gateway process is skipped too; `RecentIds` is one process's memory, which stands in while Redis
cannot be reached.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from privacy import masked_logger

log = masked_logger(__name__)

# LINE redelivers an event for up to about an hour after the first try.
DEFAULT_TTL = 3600.0
REDIS_PREFIX = "line:event:"
# webhookEventId is a 26-character ULID; anything much longer is not one and is cut for the key.
MAX_ID_CHARS = 64


class RecentIds:
    """A bounded set with expiry: at most `max_size` ids, each kept for `ttl` seconds."""

    def __init__(
        self, max_size: int = 10_000, ttl: float = DEFAULT_TTL, clock: Callable[[], float] = time.monotonic
    ):
        self._max_size = max_size
        self._ttl = ttl
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def _expire(self, now: float) -> None:
        while self._seen:
            oldest, stamp = next(iter(self._seen.items()))
            if now - stamp < self._ttl and len(self._seen) <= self._max_size:
                break
            del self._seen[oldest]

    def check_and_add(self, event_id: str) -> bool:
        """True when the id was seen within the TTL (a duplicate); otherwise remember it and return False."""
        now = self._clock()
        self._expire(now)
        if event_id in self._seen:
            return True
        self._seen[event_id] = now
        if len(self._seen) > self._max_size:
            self._seen.popitem(last=False)
        return False

    def forget(self, event_id: str) -> None:
        self._seen.pop(event_id, None)


class SharedRecentIds:
    """Event ids handled by any gateway process that shares the Redis."""

    def __init__(self, redis: Redis, ttl: float = DEFAULT_TTL, local: RecentIds | None = None) -> None:
        self._redis = redis
        self._ttl = max(1, int(ttl))
        self._local = local or RecentIds(ttl=ttl)

    async def check_and_add(self, event_id: str) -> bool:
        """True when some process took the id within the TTL (a duplicate); otherwise take it."""
        try:
            taken = await self._redis.set(REDIS_PREFIX + event_id[:MAX_ID_CHARS], b"1", nx=True, ex=self._ttl)
        except RedisError:
            log.warning("Redis unreachable: redeliveries are checked in this process only", exc_info=True)
            return self._local.check_and_add(event_id)
        # Kept here too, so that an outage right after still knows the latest ids.
        self._local.check_and_add(event_id)
        return not taken
