"""The consumer's writes and the reconciliation on PostgreSQL: a recorded conversation streamed with
an event repeated and one lost, then reconciled from a tracker store holding the same events."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from events import SENDER, T0, published, recorded
from psycopg.rows import dict_row

from analytics import store
from analytics.config import AnalyticsSettings
from analytics.consumer import Consumer, reconcile
from analytics.tracker import TrackerStore
from analytics.turns import build_turns, conversation_id

pytestmark = pytest.mark.postgres

STAFF_DB = "analytics_test_staff"
TRACKER_DB = "analytics_test_tracker"
# Rasa's `events` table (rasa/core/tracker_store.py SQLTrackerStore.SQLEvent).
EVENTS_TABLE = """CREATE TABLE events (
    id serial PRIMARY KEY, sender_id varchar(255) NOT NULL, type_name varchar(255) NOT NULL,
    timestamp double precision, intent_name varchar(255), action_name varchar(255), data text)"""


def _url(name: str) -> str:
    base = os.environ.get("STAFF_DB_URL") or "postgresql://postgres@127.0.0.1:5432/staff"
    _, rest = base.split("://", 1)
    parts = urlsplit("postgresql://" + rest)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _recreate(name: str) -> None:
    with psycopg.connect(_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


@pytest.fixture
def databases() -> Iterator[tuple[str, str]]:
    _recreate(STAFF_DB)
    _recreate(TRACKER_DB)
    with psycopg.connect(_url(TRACKER_DB), autocommit=True) as conn:
        conn.execute(EVENTS_TABLE)
    yield _url(STAFF_DB), _url(TRACKER_DB)
    with psycopg.connect(_url("postgres"), autocommit=True) as conn:
        for name in (STAFF_DB, TRACKER_DB):
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def intent_of(event: dict[str, Any]) -> str | None:
    return ((event.get("parse_data") or {}).get("intent") or {}).get("name")


def store_events(tracker_url: str, sender: str, events: list[dict[str, Any]]) -> None:
    """As Rasa's tracker store writes them."""
    with psycopg.connect(tracker_url, autocommit=True) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            [(sender, e["event"], e.get("timestamp"), intent_of(e), e.get("name"), json.dumps(e))
             for e in events],
        )


def table(staff_url: str) -> list[dict[str, Any]]:
    with psycopg.connect(staff_url, row_factory=dict_row) as conn:
        rows = conn.execute("SELECT * FROM analytics_turn ORDER BY conversation, user_ts").fetchall()
    for row in rows:
        row.pop("updated_at")
    return rows


def expected(sender: str = SENDER) -> list[dict[str, Any]]:
    return sorted((t.row() for t in build_turns(sender, recorded())), key=lambda r: r["user_ts"])


async def stream(settings: AnalyticsSettings, bodies: list[dict[str, Any]]) -> None:
    consumer = Consumer(settings)
    consumer._pool = await store.open_store(settings.staff_db_url)
    try:
        for body in bodies:
            await consumer.handle(body)
    finally:
        await consumer._tracker.close()
        await consumer._pool.close()


async def reconcile_all(settings: AnalyticsSettings) -> None:
    pool = await store.open_store(settings.staff_db_url)
    tracker = TrackerStore(settings.tracker_db_url)
    try:
        await reconcile(pool, tracker, since=0.0, retention_days=100_000)
    finally:
        await tracker.close()
        await pool.close()


def test_repeated_and_lost_events_change_no_count_after_reconciliation(databases: tuple[str, str]) -> None:
    staff_url, tracker_url = databases
    settings = AnalyticsSettings(staff_db_url=staff_url, tracker_db_url=tracker_url, retention_days=100_000)
    bodies = published(recorded())
    # Every user event and the helpful rating arrive twice; the out-of-scope envelope is lost.
    doubled = [b for body in bodies for b in ([body, body] if body["event"] == "user" else [body])]
    lost = [b for b in doubled if not (b["event"] == "bot" and b["timestamp"] == T0 + 40.25)]
    asyncio.run(stream(settings, lost))
    streamed = table(staff_url)
    want = expected()
    assert len(streamed) == len(want) == 6  # no row twice
    assert [r["kind"] for r in streamed] == [r["kind"] for r in want[:4]] + ["unknown", "handoff"]
    assert [r["feedback"] for r in streamed] == ["unhelpful", None, "helpful", None, None, None]

    store_events(tracker_url, SENDER, recorded())
    asyncio.run(reconcile_all(settings))
    rows = table(staff_url)
    assert [{k: v for k, v in r.items() if k != "at"} for r in rows] == [
        {k: v for k, v in r.items() if k != "at"} for r in want
    ]
    assert [r["at"] for r in rows] == [r["at"] for r in want]
    # Reconciling again, or the whole stream coming again, changes nothing.
    asyncio.run(reconcile_all(settings))
    asyncio.run(stream(settings, bodies))
    assert table(staff_url) == rows


def test_reconciliation_removes_rows_the_tracker_store_does_not_have(databases: tuple[str, str]) -> None:
    staff_url, tracker_url = databases
    settings = AnalyticsSettings(staff_db_url=staff_url, tracker_db_url=tracker_url, retention_days=100_000)
    events = recorded()
    store_events(tracker_url, SENDER, events)
    stray = {"sender_id": SENDER, **events[4], "timestamp": T0 + 5, "text": "ไม่มีในที่เก็บ"}
    later = {"sender_id": SENDER, **events[4], "timestamp": T0 + 500, "text": "ยังไม่ได้บันทึก"}
    asyncio.run(stream(settings, [stray, later]))
    asyncio.run(reconcile_all(settings))
    stamps = [r["user_ts"] for r in table(staff_url)]
    # The stray turn inside what the tracker store holds is gone; the one after its last event is
    # left for the next reconciliation (Rasa publishes a turn as it saves it).
    assert T0 + 5 not in stamps and T0 + 500 in stamps
    assert len(stamps) == 7


def test_retention_clears_old_texts_and_their_embeddings(databases: tuple[str, str]) -> None:
    staff_url, tracker_url = databases
    settings = AnalyticsSettings(staff_db_url=staff_url, tracker_db_url=tracker_url, retention_days=100_000)
    store_events(tracker_url, SENDER, recorded())
    asyncio.run(reconcile_all(settings))

    async def embed_and_purge() -> int:
        from analytics.consumer import embed_missing

        pool = await store.open_store(staff_url)
        try:
            assert await embed_missing(pool) == 3  # the three unanswered questions
            async with pool.connection() as conn:
                cutoff = dt.datetime.fromtimestamp(T0 + 45, dt.UTC)
                return await store.purge(conn, cutoff)
        finally:
            await pool.close()

    assert asyncio.run(embed_and_purge()) == 5
    rows = table(staff_url)
    assert [r["text"] is None for r in rows] == [True] * 5 + [False]
    with psycopg.connect(staff_url) as conn:
        kept = conn.execute("SELECT count(*) FROM analytics_embedding").fetchone()[0]
    assert kept == 1  # only the handoff's question, still within the period
    assert all(r["conversation"] == conversation_id(SENDER) for r in rows)
