"""Render a channel-neutral bot turn as LINE message objects within LINE's documented limits."""

from __future__ import annotations

import unicodedata
from typing import Any

from linebot.v3.messaging import (
    FlexContainer,
    FlexMessage,
    Message,
    MessageAction,
    PostbackAction,
    QuickReply,
    QuickReplyItem,
    TextMessage,
)

from contract.replies import FEEDBACK, FEEDBACK_HELPFUL, FEEDBACK_UNHELPFUL, feedback_payload
from gateway.envelope import BotTurn, Button, Card, is_web_url

# Limits from the Messaging API reference.
MAX_TEXT_UTF16 = 5000
MAX_QUICK_REPLY_ITEMS = 13
MAX_ACTION_LABEL = 20
MAX_POSTBACK_DATA = 300
MAX_DISPLAY_TEXT = 300
MAX_ALT_TEXT = 1500
MAX_URI = 1000
MAX_MESSAGES_PER_REQUEST = 5

# The rating of an answer (docs/replies.md `feedback`), as the web page words it.
FEEDBACK_TITLES = {FEEDBACK_HELPFUL: "👍 ช่วยได้", FEEDBACK_UNHELPFUL: "👎 ไม่ช่วย"}

CARD_COLOR = "#1F4E8C"
SOURCE_BUTTON_LABEL = "ดูข้อมูลจากหน่วยงาน"


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _is_mark(char: str) -> bool:
    # Thai vowel and tone marks are combining characters; never cut a syllable between base and mark.
    return unicodedata.category(char) in ("Mn", "Mc", "Me")


def _cut_index(text: str, limit: int) -> int:
    """Largest index i such that text[:i] fits `limit` UTF-16 units and does not end mid-cluster."""
    units = 0
    index = 0
    for index, char in enumerate(text):  # noqa: B007 - index is used after the loop
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            break
    else:
        return len(text)
    while index > 0 and _is_mark(text[index]):
        index -= 1
    return index


def split_text(text: str, limit: int = MAX_TEXT_UTF16) -> list[str]:
    """Split text into chunks of at most `limit` UTF-16 code units, preferring paragraph and line breaks."""
    chunks: list[str] = []
    rest = text.strip()
    while rest:
        if utf16_len(rest) <= limit:
            chunks.append(rest)
            break
        hard = _cut_index(rest, limit)
        window = rest[:hard]
        cut = -1
        # A break point in the last 80% of the window beats a cut mid-word; a tiny first chunk would
        # waste one of the five message bubbles.
        for separator in ("\n\n", "\n", " "):
            position = window.rfind(separator)
            if position > hard // 5:
                cut = position
                break
        if cut <= 0:
            cut = hard if hard > 0 else 1
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return [c for c in chunks if c]


def truncate(text: str, limit: int) -> str:
    """Shorten to at most `limit` UTF-16 units, ending with an ellipsis when something was cut."""
    text = " ".join(text.split())
    if utf16_len(text) <= limit:
        return text
    return text[: _cut_index(text, limit - 1)].rstrip() + "…"


def _action(button: Button) -> PostbackAction | MessageAction:
    label = truncate(button.title, MAX_ACTION_LABEL)
    if len(button.payload.encode("utf-8")) <= MAX_POSTBACK_DATA and button.payload:
        return PostbackAction(
            label=label, data=button.payload, display_text=truncate(button.title, MAX_DISPLAY_TEXT)
        )
    # A payload too long for postback data still works when the user "says" the title.
    return MessageAction(label=label, text=truncate(button.title, MAX_DISPLAY_TEXT))


def feedback_buttons(turn: BotTurn) -> list[Button]:
    """The ratings an answer's envelope offers, as buttons whose postback is the rating message."""
    values = (turn.envelope or {}).get(FEEDBACK)
    if not isinstance(values, list):
        return []
    return [Button(FEEDBACK_TITLES[v], feedback_payload(v)) for v in values if v in FEEDBACK_TITLES]


def quick_reply(buttons: list[Button]) -> QuickReply | None:
    items = [QuickReplyItem(action=_action(b)) for b in buttons[:MAX_QUICK_REPLY_ITEMS]]
    return QuickReply(items=items) if items else None


def _text_component(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "text", "text": text, "wrap": True, **style}


def card_bubble(card: Card) -> dict[str, Any]:
    header: list[dict[str, Any]] = []
    if card.topic_label:
        header.append(_text_component(card.topic_label, size="xs", color="#DCE6F5"))
    header.append(_text_component(card.title, size="lg", weight="bold", color="#FFFFFF"))

    body: list[dict[str, Any]] = []
    if card.agency:
        body.append(_text_component(card.agency, size="sm", color="#555555"))
        body.append({"type": "separator", "margin": "md"})
    for fact in card.facts:
        body.append(
            {
                "type": "box",
                "layout": "baseline",
                "spacing": "sm",
                "margin": "md",
                "contents": [
                    {"type": "text", "text": "•", "flex": 0, "size": "sm", "color": CARD_COLOR},
                    _text_component(fact, size="sm", flex=1, color="#222222"),
                ],
            }
        )
    if not card.facts:
        body.append(_text_component("ดูรายละเอียดได้จากเว็บไซต์ของหน่วยงาน", size="sm", margin="md"))
    if card.updated:
        body.append(_text_component(f"ข้อมูล ณ {card.updated}", size="xxs", color="#888888", margin="lg"))

    bubble: dict[str, Any] = {
        "type": "bubble",
        "size": "mega",
        "header": {
            "type": "box",
            "layout": "vertical",
            "backgroundColor": CARD_COLOR,
            "paddingAll": "16px",
            "contents": header,
        },
        "body": {"type": "box", "layout": "vertical", "spacing": "sm", "contents": body},
    }
    if is_web_url(card.source_url) and len(card.source_url) <= MAX_URI:
        bubble["footer"] = {
            "type": "box",
            "layout": "vertical",
            "contents": [
                {
                    "type": "button",
                    "style": "primary",
                    "height": "sm",
                    "color": CARD_COLOR,
                    "action": {"type": "uri", "label": SOURCE_BUTTON_LABEL, "uri": card.source_url},
                }
            ],
        }
    return bubble


def card_alt_text(card: Card) -> str:
    parts = [card.title]
    if card.topic_label:
        parts.append(card.topic_label)
    parts.extend(card.facts[:2])
    return truncate(" · ".join(parts), 400)


def card_message(card: Card) -> FlexMessage:
    return FlexMessage(alt_text=card_alt_text(card), contents=FlexContainer.from_dict(card_bubble(card)))


def text_messages(text: str) -> list[Message]:
    return [TextMessage(text=chunk) for chunk in split_text(text)]


def _merge_texts(texts: list[str], budget: int) -> list[str]:
    """Join neighbouring texts (blank line between) until at most `budget` bubbles remain, if they fit."""
    merged = list(texts)
    while len(merged) > budget:
        best = None
        for i in range(len(merged) - 1):
            size = utf16_len(merged[i]) + 2 + utf16_len(merged[i + 1])
            if size <= MAX_TEXT_UTF16 and (best is None or size < best[0]):
                best = (size, i)
        if best is None:
            break
        i = best[1]
        merged[i : i + 2] = [merged[i] + "\n\n" + merged[i + 1]]
    return merged


def render_turn(turn: BotTurn) -> list[Message]:
    """Texts in order, then the service card; quick replies ride on the last message."""
    chunks = [chunk for text in turn.texts for chunk in split_text(text)]
    card = [card_message(turn.card)] if turn.card else []
    # Reply messages are free while pushes use the channel's quota: merge bubbles only when over the limit.
    if len(chunks) + len(card) > MAX_MESSAGES_PER_REQUEST:
        chunks = _merge_texts(chunks, max(1, MAX_MESSAGES_PER_REQUEST - len(card)))
    messages: list[Message] = [TextMessage(text=c) for c in chunks] + card
    if not messages and turn.buttons:
        messages.append(TextMessage(text="เลือกหัวข้อที่ต้องการได้เลยค่ะ"))
    # The bot's own buttons first; the rating takes what room LINE's 13 items leave.
    own = turn.buttons[:MAX_QUICK_REPLY_ITEMS]
    reply = quick_reply(own + feedback_buttons(turn)[: MAX_QUICK_REPLY_ITEMS - len(own)])
    if messages and reply is not None:
        messages[-1].quick_reply = reply
    return messages
