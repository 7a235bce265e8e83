"""Reading Rasa's tracker store (its `events` table, bot/tracker_store.py) for reconciliation."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg.rows import dict_row


def tracker_db_url(env: Mapping[str, str] | None = None) -> str:
    """The tracker store's database from the variables endpoints.yml reads (scripts/stack sets them)."""
    env = os.environ if env is None else env
    user = quote(env.get("TRACKER_DB_USER") or "postgres", safe="")
    password = env.get("TRACKER_DB_PASSWORD") or ""
    auth = f"{user}:{quote(password, safe='')}" if password else user
    host = env.get("TRACKER_DB_HOST") or "127.0.0.1"
    port = env.get("TRACKER_DB_PORT") or "5432"
    name = env.get("TRACKER_DB_NAME") or "rasa"
    return f"postgresql://{auth}@{host}:{port}/{quote(name, safe='')}"


class TrackerStore:
    """One connection to the tracker database, opened when first needed (Rasa creates the
    table at its start, so it may not be there yet)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._conn: psycopg.AsyncConnection | None = None

    async def _connection(self) -> psycopg.AsyncConnection:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(
                self._url, autocommit=True, row_factory=dict_row
            )
            # Finding the conversations of a period reads events by time; Rasa indexes only the
            # sender. An index changes nothing Rasa reads or writes, and CONCURRENTLY does not
            # hold Rasa's writes up while it is built.
            # No table yet, or another process builds it: the reads work without.
            with contextlib.suppress(psycopg.Error):
                await self._conn.execute(
                    "CREATE INDEX CONCURRENTLY IF NOT EXISTS analytics_events_timestamp ON events (timestamp)"
                )
        return self._conn

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def senders_since(self, since: float) -> list[str]:
        """Conversations with any event at or after `since` (seconds since 1970)."""
        conn = await self._connection()
        try:
            cur = await conn.execute("SELECT DISTINCT sender_id FROM events WHERE timestamp >= %s", (since,))
        except psycopg.errors.UndefinedTable:
            return []
        return [row["sender_id"] for row in await cur.fetchall()]

    async def events(self, sender: str) -> list[dict[str, Any]]:
        """Every event of one conversation, every session, in the order Rasa stored them."""
        conn = await self._connection()
        cur = await conn.execute("SELECT data FROM events WHERE sender_id = %s ORDER BY id", (sender,))
        return [json.loads(row["data"]) for row in await cur.fetchall() if row["data"]]

    async def session_at(self, sender: str, at: float) -> float | None:
        """The start of the conversation's session that `at` falls in, if one was stored."""
        conn = await self._connection()
        try:
            cur = await conn.execute(
                "SELECT max(timestamp) AS start FROM events "
                "WHERE sender_id = %s AND type_name = 'session_started' AND timestamp <= %s",
                (sender, at),
            )
        except psycopg.errors.UndefinedTable:
            return None
        row = await cur.fetchone()
        return row["start"] if row else None

    async def iter_conversations(self, since: float) -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
        for sender in await self.senders_since(since):
            yield sender, await self.events(sender)
