"""End to end: a dozen questions through the web chat to the real assistant, Rasa's events through
RabbitMQ to the analytics consumer, and the staff API's numbers against the tracker store's own."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import secrets
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row

from analytics.turns import conversation_id
from contract.replies import FEEDBACK_UNHELPFUL, HANDOFF, KIND, UNANSWERED_KINDS, feedback_payload
from privacy import conversation_key
from staff.accounts import save_account
from staff.db import open_pool

pytestmark = pytest.mark.postgres

BANGKOK = dt.timezone(dt.timedelta(hours=7))
# Two ways of asking the same thing the assistant does not cover: they must make one group.
PARAPHRASES = ("ช่วยแนะนำร้านอาหารอร่อยแถวสยามหน่อย", "แถวสยามมีร้านอาหารอร่อยๆ แนะนำไหม")
CONVERSATIONS: dict[str, list[str]] = {
    "passport": ["ทำพาสปอร์ตต้องใช้เอกสารอะไรบ้าง", feedback_payload(FEEDBACK_UNHELPFUL)],
    "vehicle": ["ต่อภาษีรถยนต์ออนไลน์ได้ไหม", "ค่าธรรมเนียมเท่าไหร่", "ต้องใช้เอกสารอะไรบ้าง"],
    "elderly": ["สวัสดีค่ะ", "เบี้ยผู้สูงอายุได้เดือนละเท่าไหร่", "ขอบคุณค่ะ"],
    "food": [PARAPHRASES[0]],
    "restaurant": [PARAPHRASES[1]],
    "licence": ["อยากต่อใบขับขี่", "ขอคุยกับเจ้าหน้าที่"],
}
WAIT_SECONDS = 90


def eventually(check: Callable[[], Any], what: str, seconds: float = WAIT_SECONDS) -> Any:
    """The value of `check` once it is truthy; the consumer works as the events arrive."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            assert value, f"{what} not within {seconds:.0f}s"
            return value
        time.sleep(1)


def tracker_turns(tracker_db: str, start: float, end: float) -> list[dict[str, Any]]:
    """The turns in the tracker store's events, counted here without the analytics code: a user
    event opens a turn, the last envelope before the bot listens again says what it was."""
    with psycopg.connect(tracker_db, row_factory=dict_row) as conn:
        rows = conn.execute(
            """SELECT sender_id, data FROM events WHERE sender_id IN (
                   SELECT DISTINCT sender_id FROM events
                    WHERE type_name = 'user' AND timestamp >= %s AND timestamp < %s)
               ORDER BY id""",
            (start, end),
        ).fetchall()
    turns: list[dict[str, Any]] = []
    state: dict[str, dict[str, Any]] = {}
    for row in rows:
        event, sender = json.loads(row["data"]), row["sender_id"]
        current = state.setdefault(sender, {"session": None, "open": None})
        kind = event.get("event")
        if kind == "session_started":
            current["session"] = event["timestamp"]
        elif kind == "user":
            turn = {"sender": sender, "session": current["session"], "ts": event["timestamp"]}
            turn["kind"] = "unknown"
            current["open"] = turn
            if start <= event["timestamp"] < end:
                turns.append(turn)
        elif kind == "bot" and current["open"] is not None:
            custom = (event.get("data") or {}).get("custom")
            if isinstance(custom, dict) and isinstance(custom.get(KIND), str):
                current["open"]["kind"] = custom[KIND]
        elif kind == "action" and event.get("name") == "action_listen":
            current["open"] = None
    return turns


def numbers(turns: list[dict[str, Any]]) -> dict[str, Any]:
    conversations = {(t["sender"], t["session"]) for t in turns}
    handed_over = {(t["sender"], t["session"]) for t in turns if t["kind"] == HANDOFF}
    return {
        "turns": len(turns),
        "conversations": len(conversations),
        "by_kind": dict(Counter(t["kind"] for t in turns)),
        "handoffs": sum(t["kind"] == HANDOFF for t in turns),
        "containment": round((len(conversations) - len(handed_over)) / len(conversations), 4),
    }


def supervisor_token(gateway: str, analytics_db: str) -> str:
    username, password = f"analytics-{secrets.token_hex(4)}", secrets.token_urlsafe(12)

    async def make() -> None:
        pool = await open_pool(analytics_db, max_size=1)
        try:
            await save_account(pool, username, password, "supervisor", None, "หัวหน้าทดสอบ")
        finally:
            await pool.close()

    asyncio.run(make())
    signed_in = httpx.post(f"{gateway}/api/auth/login", json={"username": username, "password": password})
    assert signed_in.status_code == 200, signed_in.text
    return signed_in.json()["token"]


def test_the_dashboards_numbers_are_the_tracker_stores(
    analytics_gateway: str, analytics_db: str, tracker_db: str
) -> None:
    run = secrets.token_hex(16)  # a web sender id is 32 to 64 characters
    senders = {name: f"an{run}{name}" for name in CONVERSATIONS}
    first_day = dt.datetime.now(BANGKOK).date()
    with httpx.Client(base_url=analytics_gateway, timeout=30) as chat:
        for name, messages in CONVERSATIONS.items():
            for message in messages:
                reply = chat.post("/web/chat", json={"sender": senders[name], "message": message})
                assert reply.status_code == 200, f"{message}: {reply.status_code} {reply.text}"
    last_day = dt.datetime.now(BANGKOK).date()
    start = dt.datetime.combine(first_day, dt.time(), BANGKOK).timestamp()
    end = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(), BANGKOK).timestamp()
    keys = {name: conversation_key(f"web:{sender}") for name, sender in senders.items()}

    # This test's conversations: the consumer's rows are the tracker store's turns, kind for kind.
    ours = [t for t in tracker_turns(tracker_db, start, end) if t["sender"] in keys.values()]
    assert len(ours) == sum(len(m) for m in CONVERSATIONS.values()) == 12

    def rows() -> list[dict[str, Any]]:
        with psycopg.connect(analytics_db, row_factory=dict_row) as conn:
            return conn.execute(
                "SELECT conversation, user_ts, kind, feedback, text FROM analytics_turn "
                "WHERE conversation = ANY(%s) ORDER BY user_ts",
                ([conversation_id(k) for k in keys.values()],),
            ).fetchall()

    expected = sorted((conversation_id(t["sender"]), t["ts"], t["kind"]) for t in ours)
    eventually(lambda: sorted((r["conversation"], r["user_ts"], r["kind"]) for r in rows()) == expected,
               "the consumer's rows of this test's turns")  # fmt: skip
    rated = [r for r in rows() if r["conversation"] == conversation_id(keys["passport"])]
    assert rated[0]["feedback"] == FEEDBACK_UNHELPFUL and rated[0]["kind"] == "answer"
    kinds = {r["text"]: r["kind"] for r in rows()}
    assert {kinds[text] for text in PARAPHRASES} <= UNANSWERED_KINDS, kinds

    # The summary: every turn of the period, against the tracker store's events of the period.
    token = supervisor_token(analytics_gateway, analytics_db)
    auth = {"Authorization": f"Bearer {token}"}
    period = {"from": first_day.isoformat(), "to": last_day.isoformat()}
    fields = ("turns", "conversations", "by_kind", "handoffs", "containment")

    def matches() -> bool:
        summary = httpx.get(f"{analytics_gateway}/api/analytics/summary", params=period, headers=auth).json()
        direct = numbers(tracker_turns(tracker_db, start, end))
        matches.last = (summary, direct)  # type: ignore[attr-defined]
        return {k: summary[k] for k in fields} == direct

    eventually(matches, "the summary equal to the tracker store's counts")
    summary, _ = matches.last  # type: ignore[attr-defined]
    assert summary["feedback"]["unhelpful"] >= 1 and summary["handoffs"] >= 1
    assert sum(day["turns"] for day in summary["by_day"]) == summary["turns"]

    # The two paraphrases are one group of the unanswered questions, once the consumer has embedded
    # them: it embeds in the background, behind whatever other suites sent the same day (the hostile
    # tests' hundreds of unanswered turns on the same test stack).
    def grouped() -> list[dict[str, Any]]:
        clusters = httpx.get(f"{analytics_gateway}/api/analytics/unanswered", params=period, headers=auth,
                             timeout=120).json()["clusters"]  # fmt: skip
        grouped.last = clusters  # type: ignore[attr-defined]
        return [c for c in clusters if set(PARAPHRASES) <= set(c["examples"])]

    together = eventually(grouped, "the two paraphrases in one group", seconds=max(WAIT_SECONDS, 180))
    clusters = grouped.last  # type: ignore[attr-defined]
    assert len(together) == 1 and together[0]["count"] >= 2, clusters
    assert not [c for c in clusters if c not in together and set(PARAPHRASES) & set(c["examples"])]
