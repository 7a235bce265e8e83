"""The reply envelope every turn ends with (../shared/spec/replies.md)."""

from __future__ import annotations

import json
from typing import Any

from rasa_sdk.executor import CollectingDispatcher

GOVERNMENT_HOTLINE = "1111"


def ask_payload(service: str | None = None, topic: str | None = None) -> str:
    """A button payload that asks a question directly, bypassing NLU."""
    entities = {k: v for k, v in {"service": service, "topic": topic}.items() if v}
    return "/ask_service" + (json.dumps(entities, ensure_ascii=False) if entities else "")


def send(dispatcher: CollectingDispatcher, kind: str, **fields: Any) -> None:
    payload = {"kind": kind, **{k: v for k, v in fields.items() if v is not None}}
    dispatcher.utter_message(json_message=payload)
