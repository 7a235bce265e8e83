"""Rasa's RabbitMQ event broker without its per-event deep copy.

``PikaEventBroker._publish`` deep-copies every event (``remove_parse_data``) only to put a
copy without the NLU result in a debug log line, whether or not debug is logged. A user
event carries the whole parse result (every ranking of every classifier), and a turn
publishes about ten events: the copies were about 5 % of a Rasa worker's busy time under
load (py-spy, docs/benchmarks.md). This broker publishes the same message, keeps Rasa's
handling of a failed publish, and logs the event's type only: the event itself is in the
tracker store and the queue.

endpoints.yml names it as the broker's ``type`` (Rasa loads a broker class by its module
path); its settings are PikaEventBroker's.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.core.brokers.pika import PikaEventBroker

logger = logging.getLogger(__name__)


class LeanPikaEventBroker(PikaEventBroker):
    async def _publish(self, event: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        if self._exchange is None:
            return
        try:
            await self._exchange.publish(self._message(event, headers), "")
        except Exception:
            # Not the conversation id: a web conversation's id is the secret that reads its replies.
            logger.error("publishing a %s event to RabbitMQ failed", event.get("event"))
            if self.should_keep_unpublished_messages:
                self._unpublished_events.append(event)
            if self.raise_on_failure:
                self.close()  # type: ignore[unused-coroutine]
                raise
