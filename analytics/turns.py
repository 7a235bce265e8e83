"""One row per turn, from Rasa's events: the citizen's message and the envelope of the bot's reply.

The same rules serve both paths into the table, so that they agree row for row:

- `build_turns` reads one conversation's events in the tracker store's order (reconciliation);
- `TurnStream` follows the event broker's stream of every conversation, one event at a time.

A turn starts at a `user` event and ends at the next `action_listen` that a policy predicted
(the bot waits for the citizen again); the last envelope (`data.custom` with a `kind`) of a
bot event in between says what the turn was. A bot event after the turn ended belongs to no
turn: with a `user` event lost on the way, its envelope is not pinned on the turn before.
A rating (`feedback` intent) marks the latest earlier `answer` of the conversation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

from contract.replies import (
    ANSWER,
    CONFIDENCE,
    FEEDBACK_ENTITY,
    FEEDBACK_HELPFUL,
    FEEDBACK_INTENT,
    FEEDBACK_UNHELPFUL,
    FEEDBACK_VALUES,
    HANDOFF,
    KIND,
    SERVICE_ID,
    TOPIC,
    UNANSWERED_KINDS,
)
from privacy import mask

# A turn whose bot reply carried no envelope (an action failed, the conversation was paused).
UNKNOWN_KIND = "unknown"
ACTION_LISTEN = "action_listen"


def conversation_id(sender: str) -> str:
    """The key a conversation is counted under: a digest of Rasa's sender id, because the web
    chat's sender id is the page's secret and reading it back must not let anyone in."""
    return hashlib.sha256(sender.encode("utf-8")).hexdigest()[:32]


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class Turn:
    conversation: str
    user_ts: float  # the user event's timestamp as Rasa stored it: with `conversation`, the natural key
    session_start: float | None  # the Rasa session it belongs to (a conversation is one session)
    channel: str
    text: str | None  # masked; None once older than the retention period
    intent: str | None
    message_id: str | None = None
    kind: str = UNKNOWN_KIND
    service_id: str | None = None
    topic: str | None = None
    confidence: float | None = None
    latency_ms: int | None = None
    feedback: str | None = None
    # Not stored: the rating this turn's own message gave the answer before it.
    rating: str | None = field(default=None, compare=False, repr=False)

    @property
    def at(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.user_ts, dt.UTC)

    @property
    def handoff(self) -> bool:
        return self.kind == HANDOFF

    def row(self) -> dict[str, Any]:
        """The columns of `analytics_turn` (analytics/schema.sql)."""
        return {
            "conversation": self.conversation,
            "user_ts": self.user_ts,
            "at": self.at,
            "session_start": self.session_start,
            "channel": self.channel,
            "kind": self.kind,
            "intent": self.intent,
            "service_id": self.service_id,
            "topic": self.topic,
            "confidence": self.confidence,
            "handoff": self.handoff,
            "feedback": self.feedback,
            "latency_ms": self.latency_ms,
            "text": self.text,
            "text_hash": text_hash(self.text) if self.text is not None else None,
            "message_id": self.message_id,
        }


def is_question(text: str | None, intent: str | None) -> bool:
    """A citizen's own words, not a button's payload (`/request_human`) or a rating."""
    return bool(text) and not str(text).startswith("/") and intent != FEEDBACK_INTENT


def is_unanswered(kind: str, intent: str | None, feedback: str | None) -> bool:
    """Asked back, out of scope, handed over, or rated unhelpful (docs/replies.md)."""
    if feedback == FEEDBACK_UNHELPFUL:
        return True
    # The apology after an unhelpful rating is a `clarify` too, but it answers the rating.
    return kind in UNANSWERED_KINDS and intent != FEEDBACK_INTENT


def rating_of(event: dict[str, Any]) -> str | None:
    """The rating a user event gives the answer before it: the button's value, and a complaint
    typed in words (the intent without a value) is unhelpful."""
    parse = event.get("parse_data") or {}
    if ((parse.get("intent") or {}).get("name")) != FEEDBACK_INTENT:
        return None
    for entity in parse.get("entities") or []:
        if isinstance(entity, dict) and entity.get("entity") == FEEDBACK_ENTITY:
            value = entity.get("value")
            if value in FEEDBACK_VALUES:
                return str(value)
    return FEEDBACK_UNHELPFUL


def envelope_of(event: dict[str, Any]) -> dict[str, Any] | None:
    custom = (event.get("data") or {}).get("custom")
    if isinstance(custom, dict) and isinstance(custom.get(KIND), str):
        return custom
    return None


def ends_turn(event: dict[str, Any]) -> bool:
    # Session starts and the handoff's resume also log action_listen, with no policy; they
    # come before a user event or while none is open, so either reading would do.
    return event.get("event") == "action" and event.get("name") == ACTION_LISTEN


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def channel_of(event: dict[str, Any]) -> str:
    """The gateway's channel (web, line) from the message's metadata, else Rasa's input channel."""
    metadata = event.get("metadata") or {}
    parse_metadata = (event.get("parse_data") or {}).get("metadata") or {}
    for candidate in (metadata.get("channel"), parse_metadata.get("channel"), event.get("input_channel")):
        if isinstance(candidate, str) and candidate:
            return candidate
    return "unknown"


def turn_from_user(
    sender: str, event: dict[str, Any], session_start: float | None, text_until: float | None = None
) -> Turn | None:
    """The turn a user event opens; None for an event without a timestamp (it has no key).

    `text_until`: the text is kept only for turns at or after this time (the retention period)."""
    user_ts = _number(event.get("timestamp"))
    if user_ts is None:
        return None
    parse = event.get("parse_data") or {}
    raw = event.get("text")
    text = mask(raw) if isinstance(raw, str) and raw.strip() else None
    if text is not None and text_until is not None and user_ts < text_until:
        text = None
    return Turn(
        conversation=conversation_id(sender),
        user_ts=user_ts,
        session_start=session_start,
        channel=channel_of(event),
        text=text,
        intent=_text((parse.get("intent") or {}).get("name")),
        message_id=_text(event.get("message_id")) or _text(parse.get("message_id")),
        rating=rating_of(event),
    )


def apply_envelope(turn: Turn, envelope: dict[str, Any], bot_ts: float | None) -> None:
    """The bot's envelope closes the turn: what it was, and how long the bot took."""
    turn.kind = str(envelope[KIND])
    turn.service_id = _text(envelope.get(SERVICE_ID))
    turn.topic = _text(envelope.get(TOPIC))
    turn.confidence = _number(envelope.get(CONFIDENCE))
    turn.latency_ms = max(0, round((bot_ts - turn.user_ts) * 1000)) if bot_ts is not None else None


def build_turns(sender: str, events: list[dict[str, Any]], text_until: float | None = None) -> list[Turn]:
    """Every turn of one conversation, from its events in the tracker store's order."""
    turns: list[Turn] = []
    session: float | None = None
    current: Turn | None = None
    for event in events:
        kind = event.get("event")
        if kind == "session_started":
            session = _number(event.get("timestamp"))
        elif kind == "user":
            current = turn_from_user(sender, event, session, text_until)
            if current is None:
                continue
            if current.rating is not None:
                rated = next((t for t in reversed(turns) if t.kind == ANSWER), None)
                if rated is not None:
                    rated.feedback = current.rating
            turns.append(current)
        elif kind == "bot" and current is not None:
            envelope = envelope_of(event)
            if envelope is not None:
                apply_envelope(current, envelope, _number(event.get("timestamp")))
        elif ends_turn(event):
            current = None
    # Two user events with one timestamp would be one key: the later one wins, as in the table.
    unique = {t.user_ts: t for t in turns}
    return list(unique.values())


# ---- the live stream ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenTurn:
    """A user event became a turn: insert it unless the table has it already."""

    turn: Turn


@dataclass(frozen=True)
class Envelope:
    """The turn `(conversation, user_ts)` got its envelope: update its kind and the rest."""

    turn: Turn


@dataclass(frozen=True)
class Rating:
    """Mark the latest answer of `conversation` before `before_ts` helpful or unhelpful."""

    conversation: str
    before_ts: float
    value: str


Change = OpenTurn | Envelope | Rating


@dataclass
class _Sender:
    session: float | None = None
    current: Turn | None = None
    seen: float = 0.0


class TurnStream:
    """Turns out of the broker's stream of events (each `{"sender_id": ..., **event}`).

    Keeps, per conversation, only its session and the turn still open; everything else is in
    the table. After a restart the open turn is forgotten (its envelope is dropped) and the
    session unknown until the next one starts: reconciliation fills both in.
    """

    def __init__(self, max_senders: int = 10_000) -> None:
        self._senders: dict[str, _Sender] = {}
        self._max = max_senders

    def session_of(self, sender: str) -> float | None:
        state = self._senders.get(sender)
        return state.session if state else None

    def set_session(self, sender: str, session: float | None) -> None:
        self._state(sender).session = session

    def _state(self, sender: str) -> _Sender:
        state = self._senders.get(sender)
        if state is None:
            if len(self._senders) >= self._max:
                # The least recently heard of goes; it would only lose its session (reconciled).
                oldest = min(self._senders, key=lambda s: self._senders[s].seen)
                del self._senders[oldest]
            state = self._senders[sender] = _Sender()
        return state

    def feed(self, body: dict[str, Any], text_until: float | None = None) -> list[Change]:
        sender = body.get("sender_id")
        if not isinstance(sender, str) or not sender:
            return []
        state = self._state(sender)
        state.seen = _number(body.get("timestamp")) or state.seen
        kind = body.get("event")
        if kind == "session_started":
            state.session = _number(body.get("timestamp"))
            state.current = None
            return []
        if kind == "user":
            turn = turn_from_user(sender, body, state.session, text_until)
            if turn is None:
                return []
            state.current = turn
            changes: list[Change] = [OpenTurn(turn)]
            if turn.rating is not None:
                changes.append(Rating(turn.conversation, turn.user_ts, turn.rating))
            return changes
        if kind == "bot" and state.current is not None:
            envelope = envelope_of(body)
            if envelope is None:
                return []
            apply_envelope(state.current, envelope, _number(body.get("timestamp")))
            return [Envelope(state.current)]
        if ends_turn(body):
            state.current = None
        return []


__all__ = [
    "FEEDBACK_HELPFUL",
    "FEEDBACK_UNHELPFUL",
    "UNKNOWN_KIND",
    "Change",
    "Envelope",
    "OpenTurn",
    "Rating",
    "Turn",
    "TurnStream",
    "build_turns",
    "conversation_id",
    "is_question",
    "is_unanswered",
    "text_hash",
]
