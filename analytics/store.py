"""The analytics tables (analytics/schema.sql) in the staff database: writing turns, idempotently.

Every write is keyed by the turn's natural key (conversation, user event timestamp), so a
repeated broker event writes the same values again, and a reconciliation replaces a
conversation's rows with those rebuilt from the tracker store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from analytics.turns import Turn
from contract.replies import ANSWER, FEEDBACK_INTENT, FEEDBACK_UNHELPFUL, UNANSWERED_KINDS
from staff.db import open_pool

SCHEMA = Path(__file__).with_name("schema.sql")
# Not staff/db.py's: the two schemas are applied by different processes.
_SCHEMA_LOCK = 7207012
_COLUMNS = (
    "conversation", "user_ts", "at", "session_start", "channel", "kind", "intent", "service_id", "topic",
    "confidence", "handoff", "feedback", "latency_ms", "text", "text_hash", "message_id",
)  # fmt: skip
_ENVELOPE_COLUMNS = ("kind", "service_id", "topic", "confidence", "handoff", "latency_ms")

# The questions the bot could not answer (docs/replies.md, analytics/turns.py is_unanswered),
# in the citizen's own words: not a button's payload.
_KINDS_SQL = ", ".join(f"'{k}'" for k in sorted(UNANSWERED_KINDS))
UNANSWERED_SQL = (
    f"(t.feedback = '{FEEDBACK_UNHELPFUL}' OR (t.kind IN ({_KINDS_SQL})"
    f" AND t.intent IS DISTINCT FROM '{FEEDBACK_INTENT}'))"
    " AND t.text IS NOT NULL AND t.text NOT LIKE '/%%'"
)

_ensured: set[int] = set()


async def ensure_schema(pool: AsyncConnectionPool) -> None:
    """Create the tables once per pool (several processes may at once: one at a time)."""
    if id(pool) in _ensured:
        return
    async with pool.connection() as conn, conn.transaction():
        await conn.execute(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})")
        await conn.execute(SCHEMA.read_text(encoding="utf-8"))
    _ensured.add(id(pool))


async def open_store(url: str, *, max_size: int = 4) -> AsyncConnectionPool:
    """A pool on the staff database (created if missing) with the analytics tables."""
    pool = await open_pool(url, min_size=1, max_size=max_size)
    await ensure_schema(pool)
    return pool


def _placeholders(columns: Sequence[str]) -> str:
    return ", ".join(f"%({c})s" for c in columns)


_CLOSE = (
    f"UPDATE analytics_turn SET {', '.join(f'{c} = %({c})s' for c in _ENVELOPE_COLUMNS)}, updated_at = now()"
    " WHERE conversation = %(conversation)s AND user_ts = %(user_ts)s"
)
_INSERT = f"INSERT INTO analytics_turn ({', '.join(_COLUMNS)}) VALUES ({_placeholders(_COLUMNS)})"
_UPSERT = (
    _INSERT
    + " ON CONFLICT (conversation, user_ts) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in _COLUMNS[2:])
    + ", updated_at = now()"
)


async def open_turn(conn: AsyncConnection, turn: Turn) -> None:
    """A user event's turn; a row already there (a repeated event, or reconciled) is kept as is."""
    await conn.execute(_INSERT + " ON CONFLICT (conversation, user_ts) DO NOTHING", turn.row())


async def close_turn(conn: AsyncConnection, turn: Turn) -> None:
    """The envelope of a turn: what it was. Written again by a repeated event, with the same values."""
    await conn.execute(_CLOSE, turn.row())


async def rate(conn: AsyncConnection, conversation: str, before_ts: float, value: str) -> None:
    """A rating marks the conversation's latest answer before it (as analytics/turns.py does)."""
    await conn.execute(
        """UPDATE analytics_turn SET feedback = %s, updated_at = now()
            WHERE conversation = %s AND user_ts = (
                SELECT max(user_ts) FROM analytics_turn
                 WHERE conversation = %s AND user_ts < %s AND kind = %s)""",
        (value, conversation, conversation, before_ts, ANSWER),
    )


async def replace_conversation(
    conn: AsyncConnection, conversation: str, turns: Iterable[Turn], known_until: float
) -> int:
    """The conversation's rows become `turns` (rebuilt from the tracker store): each written, and
    any other row up to `known_until` (the tracker store's latest event read) deleted. Rows after
    it are left alone: Rasa publishes a turn's events as it saves them, so the broker may be a
    moment ahead of what was read. Returns how many rows were written."""
    rows = [t.row() for t in turns]
    async with conn.transaction():
        if rows:
            async with conn.cursor() as cur:
                await cur.executemany(_UPSERT, rows)
        await conn.execute(
            """DELETE FROM analytics_turn
                WHERE conversation = %s AND user_ts <= %s AND NOT (user_ts = ANY(%s))""",
            (conversation, known_until, [r["user_ts"] for r in rows]),
        )
    return len(rows)


async def purge(conn: AsyncConnection, cutoff: dt.datetime) -> int:
    """The texts of turns before `cutoff` cleared (the counts stay), and their embeddings deleted."""
    cur = await conn.execute(
        "UPDATE analytics_turn SET text = NULL, text_hash = NULL, updated_at = now() "
        "WHERE at < %s AND text IS NOT NULL",
        (cutoff,),
    )
    cleared = cur.rowcount
    await conn.execute(
        """DELETE FROM analytics_embedding e
            WHERE NOT EXISTS (SELECT 1 FROM analytics_turn t WHERE t.text_hash = e.text_hash)"""
    )
    return cleared


async def texts_to_embed(conn: AsyncConnection, limit: int) -> list[dict[str, Any]]:
    """Unanswered questions whose text has no embedding yet, newest first."""
    cur = await conn.execute(
        f"""SELECT DISTINCT ON (t.text_hash) t.text_hash, t.text, t.at FROM analytics_turn t
             WHERE {UNANSWERED_SQL}
               AND NOT EXISTS (SELECT 1 FROM analytics_embedding e WHERE e.text_hash = t.text_hash)
             ORDER BY t.text_hash, t.at DESC""",
    )
    rows = await cur.fetchall()
    rows.sort(key=lambda r: r["at"], reverse=True)
    return rows[:limit]


async def save_embeddings(conn: AsyncConnection, vectors: dict[str, list[float]]) -> None:
    if not vectors:
        return
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO analytics_embedding (text_hash, vector) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            list(vectors.items()),
        )
