"""Unit tests: envelope parsing, LINE rendering limits, event de-duplication, settings."""

from __future__ import annotations

from linebot.v3.messaging import FlexMessage, TextMessage

from gateway.config import Settings
from gateway.envelope import Button, parse_turn
from gateway.line.dedup import RecentIds
from gateway.line.render import (
    MAX_ACTION_LABEL,
    card_bubble,
    quick_reply,
    render_turn,
    split_text,
    truncate,
    utf16_len,
)

CARD = {
    "title": "หนังสือเดินทาง",
    "agency": "กรมการกงสุล",
    "topic_label": "ค่าธรรมเนียม",
    "facts": ["f1", "f2", "f3", "f4", "f5", "f6", "f7"],
    "source_url": "https://www.consular.go.th",
    "updated": "2026-11-01",
}


def answer_reply(**custom: object) -> list[dict[str, object]]:
    envelope = {
        "kind": "answer",
        "service_id": "passport",
        "topic": "fee",
        "source": "กรมการกงสุล",
        "source_url": "https://www.consular.go.th",
        "confidence": 0.93,
        **custom,
    }
    return [
        {
            "recipient_id": "u",
            "text": "ค่าธรรมเนียม 1,000 บาท",
            "buttons": [{"title": "ใช้เอกสารอะไร", "payload": '/ask_service{"topic":"documents"}'}],
        },
        {"recipient_id": "u", "custom": envelope},
    ]


# ---- envelope ----


def test_parse_answer_turn_with_card() -> None:
    turn = parse_turn(answer_reply(card=CARD))
    assert turn.kind == "answer"
    assert turn.texts == ["ค่าธรรมเนียม 1,000 บาท"]
    assert turn.buttons == [Button("ใช้เอกสารอะไร", '/ask_service{"topic":"documents"}')]
    assert turn.card is not None and turn.card.title == "หนังสือเดินทาง"
    assert len(turn.card.facts) == 6


def test_answer_without_card_gets_a_minimal_card() -> None:
    turn = parse_turn(answer_reply())
    assert turn.card is not None
    assert turn.card.title == "กรมการกงสุล" and turn.card.topic_label == "ค่าธรรมเนียม"


def test_unsafe_source_url_is_dropped() -> None:
    turn = parse_turn(answer_reply(card={**CARD, "source_url": "javascript:alert(1)"}))
    assert turn.card is not None and turn.card.source_url == ""
    assert "footer" not in card_bubble(turn.card)


def test_clarify_options_become_buttons_without_duplicates() -> None:
    replies = [
        {
            "recipient_id": "u",
            "text": "หมายถึงบริการไหนคะ",
            "buttons": [{"title": "ทำใบขับขี่ใหม่", "payload": "/choose_new"}],
        },
        {
            "recipient_id": "u",
            "custom": {
                "kind": "clarify",
                "options": [
                    "driving-licence-new",
                    {"title": "ต่ออายุใบขับขี่", "payload": "/choose_renewal"},
                    {"title": "ทำใบขับขี่ใหม่", "payload": "/choose_new"},
                ],
            },
        },
    ]
    turn = parse_turn(replies)
    assert turn.kind == "clarify" and turn.card is None
    assert [b.payload for b in turn.buttons] == ["/choose_new", "/choose_renewal"]


def test_bare_option_ids_are_used_when_there_are_no_buttons() -> None:
    turn = parse_turn(
        [{"recipient_id": "u", "custom": {"kind": "clarify", "options": ["passport", "id-card"]}}]
    )
    assert [b.payload for b in turn.buttons] == ["passport", "id-card"]


# ---- LINE rendering ----


def test_split_text_respects_utf16_limit_and_keeps_surrogate_pairs() -> None:
    text = ("ทดสอบ 😀 " * 1500).strip()
    chunks = split_text(text)
    assert len(chunks) > 1
    assert all(utf16_len(c) <= 5000 for c in chunks)
    assert all("\ud83d" not in c for c in chunks)  # no broken surrogate halves
    assert "".join(chunks).replace(" ", "") == text.replace(" ", "")


def test_split_text_never_separates_a_thai_tone_mark_from_its_consonant() -> None:
    text = "ก่" * 3000  # consonant + tone mark pairs, no spaces at all
    chunks = split_text(text, limit=5001)
    assert all(utf16_len(c) <= 5001 for c in chunks)
    assert all(not c.startswith("\u0e48") for c in chunks)
    assert "".join(chunks) == text


def test_split_text_prefers_line_breaks() -> None:
    first = "ย่อหน้าแรก " * 150
    text = first + "\n" + "ข" * 4000 + "\nท้าย"
    chunks = split_text(text)
    assert chunks == [first.strip(), "ข" * 4000 + "\nท้าย"]


def test_quick_reply_caps_items_and_labels() -> None:
    buttons = [Button(f"ตัวเลือกที่ยาวมากเกินกว่ายี่สิบตัวอักษร {i}", f"/p{i}") for i in range(20)]
    reply = quick_reply(buttons)
    assert reply is not None and len(reply.items) == 13
    for item in reply.items:
        assert len(item.action.label) <= MAX_ACTION_LABEL
        assert item.action.type == "postback" and item.action.display_text.startswith("ตัวเลือก")


def test_long_payload_falls_back_to_a_message_action() -> None:
    reply = quick_reply([Button("เลือก", "/x" + "a" * 400)])
    assert reply is not None and reply.items[0].action.type == "message"


def test_truncate_adds_ellipsis_within_limit() -> None:
    assert truncate("สั้น", 20) == "สั้น"
    long = truncate("ค่าธรรมเนียมการทำหนังสือเดินทางเล่มใหม่", 20)
    assert len(long) <= 20 and long.endswith("…")


def test_render_answer_turn_puts_card_last_with_quick_replies() -> None:
    messages = render_turn(parse_turn(answer_reply(card=CARD)))
    assert [type(m) for m in messages] == [TextMessage, FlexMessage]
    flex = messages[-1].to_dict()
    assert "หนังสือเดินทาง" in flex["altText"]
    assert flex["quickReply"]["items"][0]["action"]["data"] == '/ask_service{"topic":"documents"}'
    assert flex["contents"]["footer"]["contents"][0]["action"]["uri"] == "https://www.consular.go.th"


def test_many_short_texts_are_merged_to_fit_one_reply() -> None:
    turn = parse_turn(
        [{"recipient_id": "u", "text": f"บรรทัด {i}"} for i in range(8)]
        + [{"recipient_id": "u", "custom": {"kind": "answer", "card": CARD, "topic": "fee"}}]
    )
    messages = render_turn(turn)
    assert len(messages) <= 5
    joined = "\n\n".join(m.text for m in messages if isinstance(m, TextMessage))
    assert all(f"บรรทัด {i}" in joined for i in range(8))


# ---- de-duplication ----


def test_recent_ids_expire_and_stay_bounded() -> None:
    now = [0.0]
    ids = RecentIds(max_size=3, ttl=10.0, clock=lambda: now[0])
    assert not ids.check_and_add("a")
    assert ids.check_and_add("a")
    now[0] = 11.0
    assert not ids.check_and_add("a")  # expired, so handled again
    for name in "bcde":
        ids.check_and_add(name)
    assert len(ids) == 3


# ---- settings ----


def test_settings_from_env() -> None:
    settings = Settings.from_env(
        {
            "RASA_URL": "http://rasa:5005/",
            "LINE_CHANNEL_SECRET": "s",
            "LINE_CHANNEL_ACCESS_TOKEN": "t",
            "PII_KEY": "k",
            "LINE_API_BASE_URL": "http://127.0.0.1:9/",
            "WEB_ALLOWED_ORIGINS": "https://a.go.th, https://b.go.th/",
        }
    )
    assert settings.rasa_url == "http://rasa:5005"
    assert settings.line_enabled and settings.line_api_base_url == "http://127.0.0.1:9"
    assert settings.web_allowed_origins == ("https://a.go.th", "https://b.go.th")
    defaults = Settings.from_env({})
    assert not defaults.line_enabled and defaults.rasa_url == "http://localhost:5005"
    # Without the key LINE ids would have to be stored as they are: the channel stays off.
    no_key = Settings.from_env({"LINE_CHANNEL_SECRET": "s", "LINE_CHANNEL_ACCESS_TOKEN": "t"})
    assert not no_key.line_enabled
    assert defaults.line_api_base_url == "https://api.line.me"
