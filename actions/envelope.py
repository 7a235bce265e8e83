"""The reply envelope every turn ends with (docs/replies.md; names in contract/replies.py)."""

from __future__ import annotations

import json
from typing import Any

from rasa_sdk.executor import CollectingDispatcher

from contract.replies import ASK_INTENT, KIND, KINDS


def ask_payload(service: str | None = None, topic: str | None = None) -> str:
    """A button payload that asks a question directly, bypassing NLU."""
    entities = {k: v for k, v in {"service": service, "topic": topic}.items() if v}
    return f"/{ASK_INTENT}" + (json.dumps(entities, ensure_ascii=False) if entities else "")


def send(dispatcher: CollectingDispatcher, kind: str, **fields: Any) -> None:
    if kind not in KINDS:
        raise ValueError(f"{kind!r} is not an envelope kind of docs/replies.md")
    payload = {KIND: kind, **{k: v for k, v in fields.items() if v is not None}}
    dispatcher.utter_message(json_message=payload)
