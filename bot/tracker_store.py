"""Rasa's SQL tracker store with the two hot queries written once, in SQL.

Every turn Rasa reads the conversation's current session and, at the end, appends the
new events. ``SQLTrackerStore`` builds both queries with the SQLAlchemy ORM each time
(a subquery, a count, one ORM object per event), which was about a third of the CPU time
of a turn. This store keeps Rasa's table and rows exactly as they are (Rasa's tools,
``rasa export`` and any SQL reading ``events`` keep working) and runs the same two
queries as plain SQL, one transaction each.

With an event broker (endpoints.yml: RabbitMQ, for analytics/), the events a save adds are
published once they are stored, not before: Rasa's ``stream_events`` reads the whole
conversation back once more to find them, and publishes before the write, so a consumer that
checks the tracker store could find them missing.

Rasa wraps every tracker store in ``FailSafeTrackerStore``, which on an error reads an empty
conversation and saves into a store in memory: a turn during a PostgreSQL restart would be answered
as if the conversation were new and then kept nowhere. For this store errors are errors: the turn
fails (500, bot/channels/rest.py) and the gateway tries it again once the database is back.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import FailSafeTrackerStore, SQLTrackerStore
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from bot.patches import install

install()  # Rasa loads this store: see bot/patches.py

# The events of the latest session: from the last `session_started` on, or all of them.
_CURRENT_SESSION = """
    FROM events
    WHERE sender_id = :sender_id
      AND (timestamp >= (SELECT max(timestamp) FROM events
                         WHERE sender_id = :sender_id AND type_name = :session_started)
           OR NOT EXISTS (SELECT 1 FROM events
                          WHERE sender_id = :sender_id AND type_name = :session_started))
"""
SELECT_CURRENT_SESSION = sa.text(f"SELECT data {_CURRENT_SESSION} ORDER BY id")
COUNT_CURRENT_SESSION = sa.text(f"SELECT count(*) {_CURRENT_SESSION}")


class FastSQLTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` with the per-turn read and write as plain SQL."""

    def _session_params(self, sender_id: str) -> dict[str, Any]:
        return {"sender_id": sender_id, "session_started": SessionStarted.type_name}

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        with self.engine.connect() as connection:
            rows = connection.execute(SELECT_CURRENT_SESSION, self._session_params(sender_id)).fetchall()
        if not self.domain or not rows:
            return None
        events = [json.loads(data) for (data,) in rows]
        return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)

    async def save(self, tracker: DialogueStateTracker) -> None:
        with self.engine.begin() as connection:
            params = self._session_params(tracker.sender_id)
            stored = connection.execute(COUNT_CURRENT_SESSION, params).scalar()
            # The events since the stored session's end: what Rasa's stream_events would publish
            # (TrackerEventDiffEngine takes the same slice of a tracker read back).
            new_events = list(tracker.events)[stored:]
            rows = [self._row(tracker.sender_id, event.type_name, event.as_dict()) for event in new_events]
            if rows:
                connection.execute(self.SQLEvent.__table__.insert(), rows)
        if self.event_broker is not None and new_events:
            await self._stream_new_events(self.event_broker, new_events, tracker.sender_id)

    @staticmethod
    def _row(sender_id: str, type_name: str, data: dict[str, Any]) -> dict[str, Any]:
        # The same columns SQLTrackerStore.save writes.
        return {
            "sender_id": sender_id,
            "type_name": type_name,
            "timestamp": data.get("timestamp"),
            "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
            "action_name": data.get("name"),
            "data": json.dumps(data),
        }


_failsafe_retrieve = FailSafeTrackerStore.retrieve
_failsafe_save = FailSafeTrackerStore.save


async def _retrieve(self: FailSafeTrackerStore, sender_id: str) -> DialogueStateTracker | None:
    if isinstance(self._tracker_store, FastSQLTrackerStore):
        return await self._tracker_store.retrieve(sender_id)
    return await _failsafe_retrieve(self, sender_id)


async def _save(self: FailSafeTrackerStore, tracker: DialogueStateTracker) -> None:
    if isinstance(self._tracker_store, FastSQLTrackerStore):
        await self._tracker_store.save(tracker)
        return
    await _failsafe_save(self, tracker)


FailSafeTrackerStore.retrieve = _retrieve  # type: ignore[method-assign]
FailSafeTrackerStore.save = _save  # type: ignore[method-assign]
