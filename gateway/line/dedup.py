"""Remember recently handled webhook event ids so redeliveries are answered once."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class RecentIds:
    """A bounded set with expiry: at most `max_size` ids, each kept for `ttl` seconds."""

    def __init__(
        self, max_size: int = 10_000, ttl: float = 3600.0, clock: Callable[[], float] = time.monotonic
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
