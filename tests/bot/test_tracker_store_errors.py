"""FastSQLTrackerStore on SQLite (the embedded stores, endpoints-embedded.yml), and its errors: Rasa's
FailSafeTrackerStore must not turn a database error into an empty conversation kept in memory."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import sqlalchemy as sa
from rasa.core.tracker_store import FailSafeTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.tracker_store import FastSQLTrackerStore

DOMAIN = Domain.load(str(Path(__file__).resolve().parents[2] / "domain.yml"))


def conversation(sender: str) -> DialogueStateTracker:
    tracker = DialogueStateTracker(sender, DOMAIN.slots)
    for event in (
        ActionExecuted("action_session_start"),
        SessionStarted(),
        ActionExecuted("action_listen"),
        UserUttered("ทำพาสปอร์ตกี่บาท", metadata={"turn_id": "t1"}),
        BotUttered("1,000 บาทค่ะ", {"custom": {"kind": "answer"}}),
        ActionExecuted("action_listen"),
    ):
        tracker.update(event)
    return tracker


def test_the_fast_store_keeps_a_conversation_in_sqlite(tmp_path: Path) -> None:
    store = FailSafeTrackerStore(
        FastSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "t.db"))
    )
    asyncio.run(store.save(conversation("c1")))
    stored = asyncio.run(store.retrieve("c1"))
    assert stored is not None
    users = [e for e in stored.events if isinstance(e, UserUttered)]
    assert [(u.text, u.metadata) for u in users] == [("ทำพาสปอร์ตกี่บาท", {"turn_id": "t1"})]
    assert [e.text for e in stored.events if isinstance(e, BotUttered)] == ["1,000 บาทค่ะ"]


def test_a_database_error_fails_the_turn_instead_of_falling_back_to_memory(tmp_path: Path) -> None:
    fast = FastSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "t.db"))
    store = FailSafeTrackerStore(fast)
    fast.engine = sa.create_engine(f"sqlite:///{tmp_path / 'no-such-folder' / 't.db'}")  # the database gone
    with pytest.raises(sa.exc.OperationalError):
        asyncio.run(store.retrieve("c1"))
    with pytest.raises(sa.exc.OperationalError):
        asyncio.run(store.save(conversation("c1")))
    assert asyncio.run(store.fallback_tracker_store.retrieve("c1")) is None
