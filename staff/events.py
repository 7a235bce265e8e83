"""Live events for the staff's and citizens' pages, fanned out through Redis pub/sub.

Whichever gateway process stores a message publishes it; every process relays it to the
pages connected to it (Server-Sent Events). Pub/sub keeps nothing: what a page misses while
disconnected it reads again from PostgreSQL (`GET /api/agent/queue`, `GET /web/updates`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from sse_starlette.sse import EventSourceResponse, ServerSentEvent

QUEUE_CHANNEL = "staff:queue"
# Comments keep idle connections open through proxies that cut silent ones.
PING_SECONDS = 15


def _sse(event: dict[str, Any]) -> ServerSentEvent:
    return ServerSentEvent(data=json.dumps(event, ensure_ascii=False, default=str))


def citizen_channel(sender: str) -> str:
    return f"citizen:{sender}"


class EventBus:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def publish(self, channel: str, event: dict[str, Any]) -> None:
        await self._redis.publish(channel, json.dumps(event, ensure_ascii=False, default=str))

    def stream(
        self, *channels: str, first: Callable[[], Awaitable[list[dict[str, Any]]]] | None = None
    ) -> EventSourceResponse:
        """An SSE response relaying the channels' events, after those `first` returns.

        `first` (what is stored already) runs once the subscription is in place, so nothing
        published between the two is missed; a page may see an event twice, never lose one.
        """

        async def events() -> AsyncIterator[ServerSentEvent]:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            await pubsub.subscribe(*channels)
            try:
                for event in await first() if first else []:
                    yield _sse(event)
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        yield _sse(json.loads(message["data"]))
            finally:
                await pubsub.unsubscribe()
                await pubsub.aclose()

        return EventSourceResponse(
            events(), ping=PING_SECONDS, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )
