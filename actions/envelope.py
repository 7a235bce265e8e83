"""The reply envelope every turn ends with (docs/replies.md; names in contract/replies.py)."""

from __future__ import annotations

import json
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from contract.replies import ASK_INTENT, HUMAN_BUTTON_TITLE, HUMAN_PAYLOAD, KIND, KINDS


def ask_payload(service: str | None = None, topic: str | None = None) -> str:
    """A button payload that asks a question directly, bypassing NLU."""
    entities = {k: v for k, v in {"service": service, "topic": topic}.items() if v}
    return f"/{ASK_INTENT}" + (json.dumps(entities, ensure_ascii=False) if entities else "")


def human_button() -> dict[str, str]:
    """The button that offers a person; pressing it sends request_human (the handoff)."""
    return {"title": HUMAN_BUTTON_TITLE, "payload": HUMAN_PAYLOAD}


def previous_kind(tracker: Tracker) -> str | None:
    """The envelope kind of the bot's turn before the citizen's latest message, if any.

    Read from the conversation's events rather than a slot: the envelope is what the citizen
    saw, and no slot has to be kept in step with every action that replies.
    """
    seen_latest_message = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_latest_message:
                return None  # the citizen spoke twice with no envelope between
            seen_latest_message = True
        elif seen_latest_message and event.get("event") == "bot":
            custom = (event.get("data") or {}).get("custom")
            if isinstance(custom, dict) and custom.get(KIND):
                return str(custom[KIND])
    return None


def send(dispatcher: CollectingDispatcher, kind: str, **fields: Any) -> None:
    if kind not in KINDS:
        raise ValueError(f"{kind!r} is not an envelope kind of docs/replies.md")
    payload = {KIND: kind, **{k: v for k, v in fields.items() if v is not None}}
    dispatcher.utter_message(json_message=payload)
