"""Turns from a recorded event sequence: the tracker store's reading, the broker's stream, and the
two agreeing when an event comes twice or is lost and reconciliation runs."""

from __future__ import annotations

from typing import Any

import pytest
from events import SENDER, T0, published, recorded

from analytics.turns import (
    Change,
    Envelope,
    OpenTurn,
    Rating,
    Turn,
    TurnStream,
    build_turns,
    conversation_id,
    is_question,
    is_unanswered,
)
from privacy import PHONE_MASK


def test_one_row_per_turn_with_what_the_envelope_said() -> None:
    turns = build_turns(SENDER, recorded())
    assert [(t.kind, t.intent) for t in turns] == [
        ("answer", "ask_service"), ("clarify", "feedback"), ("answer", "ask_service"), ("thanks", "feedback"),
        ("out_of_scope", "out_of_scope"), ("handoff", "request_human"),
    ]  # fmt: skip
    first = turns[0]
    assert (first.service_id, first.topic, first.confidence) == ("passport", "fee", 0.93)
    assert first.channel == "web"
    assert first.latency_ms == 250 and turns[2].latency_ms == 400
    assert first.user_ts == T0 + 1 and first.session_start == T0 + 0.0003
    assert first.conversation == conversation_id(SENDER) and SENDER not in first.conversation
    assert [t.handoff for t in turns] == [False] * 5 + [True]


def test_ratings_mark_the_answer_before_them() -> None:
    turns = build_turns(SENDER, recorded())
    # A complaint in words is unhelpful; the button's value is taken as it is.
    assert [t.feedback for t in turns] == ["unhelpful", None, "helpful", None, None, None]


def test_texts_are_masked_and_dropped_past_retention() -> None:
    turns = build_turns(SENDER, recorded())
    assert PHONE_MASK in turns[4].text and "081" not in turns[4].text
    old = build_turns(SENDER, recorded(), text_until=T0 + 35)
    assert [t.text is None for t in old] == [True, True, True, True, False, False]


def test_unanswered_questions_are_the_citizens_own_words() -> None:
    turns = build_turns(SENDER, recorded())
    unanswered = [t.text for t in turns if is_unanswered(t.kind, t.intent, t.feedback)
                  and is_question(t.text, t.intent)]  # fmt: skip
    # The unhelpful answer's question, out of scope, the request for a person; not the apology
    # after the rating (a clarify) nor a button's payload.
    assert unanswered == ["ทำพาสปอร์ตกี่บาท", f"ขอเบอร์ {PHONE_MASK} ร้านข้าวมันไก่", "ขอคุยกับเจ้าหน้าที่"]


def test_an_envelope_after_the_turn_ended_is_pinned_on_no_turn() -> None:
    events = [e for e in recorded() if not (e["event"] == "user" and e["timestamp"] == T0 + 20)]
    turns = build_turns(SENDER, events)
    # The documents answer lost its user event: the answer before it keeps its own envelope.
    assert [t.topic for t in turns if t.kind == "answer"] == ["fee"]


# ---- the broker's stream, against a model of the table's writes (analytics/store.py) -------------


def apply(table: dict[float, Turn], changes: list[Change]) -> None:
    """What analytics/store.py does with each change: insert if absent, update the envelope, rate."""
    for change in changes:
        if isinstance(change, OpenTurn):
            table.setdefault(change.turn.user_ts, Turn(**{**change.turn.__dict__}))
        elif isinstance(change, Envelope) and change.turn.user_ts in table:
            row, new = table[change.turn.user_ts], change.turn
            row.kind, row.service_id, row.topic = new.kind, new.service_id, new.topic
            row.confidence, row.latency_ms = new.confidence, new.latency_ms
        elif isinstance(change, Rating):
            earlier = [t for t in table.values() if t.user_ts < change.before_ts and t.kind == "answer"]
            if earlier:
                max(earlier, key=lambda t: t.user_ts).feedback = change.value


def streamed(bodies: list[dict[str, Any]], stream: TurnStream | None = None) -> dict[float, Turn]:
    stream = stream or TurnStream()
    table: dict[float, Turn] = {}
    for body in bodies:
        apply(table, stream.feed(body))
    return table


def rows(turns: list[Turn] | dict[float, Turn]) -> list[dict[str, Any]]:
    values = turns.values() if isinstance(turns, dict) else turns
    return sorted((t.row() for t in values), key=lambda r: r["user_ts"])


def test_the_stream_gives_the_tracker_stores_rows() -> None:
    assert rows(streamed(published(recorded()))) == rows(build_turns(SENDER, recorded()))


@pytest.mark.parametrize("index", range(len(recorded())))
def test_a_repeated_event_changes_nothing(index: int) -> None:
    bodies = published(recorded())
    again = [*bodies[: index + 1], bodies[index], *bodies[index + 1 :]]
    assert rows(streamed(again)) == rows(build_turns(SENDER, recorded()))


def test_the_whole_stream_delivered_twice_changes_nothing() -> None:
    stream = TurnStream()
    table = streamed(published(recorded()), stream)
    for body in published(recorded()):
        apply(table, stream.feed(body))
    assert rows(table) == rows(build_turns(SENDER, recorded()))


def test_a_lost_event_is_filled_in_by_reconciliation() -> None:
    bodies = published(recorded())
    envelope = next(i for i, b in enumerate(bodies) if b["event"] == "bot" and b["timestamp"] == T0 + 40.25)
    table = streamed(bodies[:envelope] + bodies[envelope + 1 :])
    out_of_scope = table[T0 + 40]
    assert out_of_scope.kind == "unknown"  # counted as a turn, its kind not yet known
    # Reconciliation: the conversation's rows become the tracker store's.
    table = {t.user_ts: t for t in build_turns(SENDER, recorded())}
    assert table[T0 + 40].kind == "out_of_scope"
    assert rows(table) == rows(build_turns(SENDER, recorded()))


def test_a_restart_mid_turn_drops_the_envelope_not_the_turn() -> None:
    bodies = published(recorded())
    user = next(i for i, b in enumerate(bodies) if b.get("timestamp") == T0 + 50)
    first = streamed(bodies[: user + 1])
    stream = TurnStream()  # the consumer restarted: it knows no open turn, no session
    for body in bodies[user + 1 :]:
        apply(first, stream.feed(body))
    assert first[T0 + 50].kind == "unknown"
