"""Turn Rasa's reply list into a channel-neutral view: texts, buttons, the envelope and a service card.

See docs/replies.md: every turn ends with one message whose `custom` carries `kind`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from contract.replies import ANSWER, CARD, KIND, MAX_FACTS, TOPIC_LABELS


def is_web_url(url: object) -> bool:
    """Only absolute http(s) links are ever rendered (no javascript:, data:, relative paths)."""
    if not isinstance(url, str) or not url:
        return False
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


@dataclass(frozen=True)
class Button:
    title: str
    payload: str


@dataclass(frozen=True)
class Card:
    title: str
    agency: str = ""
    topic_label: str = ""
    facts: tuple[str, ...] = ()
    source_url: str = ""
    updated: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["facts"] = list(self.facts)
        return data


@dataclass(frozen=True)
class BotTurn:
    texts: list[str] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)
    envelope: dict[str, Any] | None = None
    card: Card | None = None

    @property
    def kind(self) -> str | None:
        return self.envelope.get(KIND) if self.envelope else None

    @property
    def is_empty(self) -> bool:
        return not (self.texts or self.buttons or self.card)


def _card_from(custom: dict[str, Any]) -> Card | None:
    raw = custom.get(CARD)
    topic = _text(custom.get("topic"))
    if isinstance(raw, dict):
        title = _text(raw.get("title")) or _text(custom.get("source")) or _text(custom.get("service_id"))
        facts_raw = raw.get("facts")
        facts = (
            [f.strip() for f in facts_raw if isinstance(f, str) and f.strip()]
            if isinstance(facts_raw, list)
            else []
        )
        source_url = raw.get("source_url") or custom.get("source_url")
        return Card(
            title=title,
            agency=_text(raw.get("agency")),
            topic_label=_text(raw.get("topic_label")) or TOPIC_LABELS.get(topic, ""),
            facts=tuple(facts[:MAX_FACTS]),
            source_url=source_url if is_web_url(source_url) else "",
            updated=_text(raw.get("updated")),
        )
    # An answer without a card still gets a minimal one, so the channel always shows the source.
    title = _text(custom.get("source")) or _text(custom.get("service_id"))
    if not title:
        return None
    source_url = custom.get("source_url")
    return Card(
        title=title,
        topic_label=TOPIC_LABELS.get(topic, ""),
        source_url=source_url if is_web_url(source_url) else "",
    )


def _button_from(raw: object) -> Button | None:
    if isinstance(raw, str) and raw.strip():
        return Button(title=raw.strip(), payload=raw.strip())
    if not isinstance(raw, dict):
        return None
    title = _text(raw.get("title")) or _text(raw.get("label")) or _text(raw.get("name"))
    payload = raw.get("payload")
    if not isinstance(payload, str) or not payload.strip():
        payload = title
    if not title:
        return None
    return Button(title=title, payload=payload.strip())


def _option_buttons(options: object) -> list[Button]:
    if not isinstance(options, list):
        return []
    return [b for b in (_button_from(o) for o in options) if b is not None]


def parse_turn(messages: list[dict[str, Any]]) -> BotTurn:
    texts: list[str] = []
    buttons: list[Button] = []
    envelope: dict[str, Any] | None = None
    for message in messages:
        text = message.get("text")
        if isinstance(text, str) and text.strip():
            texts.append(text.strip())
        for raw in message.get("buttons") or []:
            button = _button_from(raw)
            if button is not None:
                buttons.append(button)
        custom = message.get("custom")
        if isinstance(custom, dict) and isinstance(custom.get(KIND), str):
            envelope = custom
    if envelope is not None:
        option_buttons = _option_buttons(envelope.get("options"))
        # Text buttons carry real titles; bare option ids only stand in when the bot sent no buttons.
        if buttons:
            option_buttons = [b for b in option_buttons if b.title != b.payload]
        buttons.extend(option_buttons)
    seen: set[str] = set()
    unique: list[Button] = []
    for button in buttons:
        if button.payload not in seen:
            seen.add(button.payload)
            unique.append(button)
    card = _card_from(envelope) if envelope is not None and envelope.get(KIND) == ANSWER else None
    return BotTurn(texts=texts, buttons=unique, envelope=envelope, card=card)


def envelope_summary(envelope: dict[str, Any] | None) -> str:
    """Compact, log-safe description of what the bot understood (no free text)."""
    if not envelope:
        return "no-envelope"
    keys = ("kind", "service_id", "topic", "confidence")
    return json.dumps({k: envelope.get(k) for k in keys if k in envelope}, ensure_ascii=False)
