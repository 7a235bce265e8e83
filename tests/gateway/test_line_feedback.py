"""LINE: an answer the citizen may rate carries two quick replies whose postbacks are the rating."""

from __future__ import annotations

from typing import Any

from linebot.v3.messaging import FlexMessage, PostbackAction

from contract.replies import FEEDBACK_HELPFUL, FEEDBACK_UNHELPFUL, FEEDBACK_VALUES, feedback_payload
from gateway.envelope import parse_turn
from gateway.line.render import MAX_ACTION_LABEL, MAX_QUICK_REPLY_ITEMS, render_turn, utf16_len

CARD = {"title": "หนังสือเดินทาง", "agency": "กรมการกงสุล", "topic_label": "ค่าธรรมเนียม", "facts": ["1,000 บาท"]}


def answer(buttons: int = 1, feedback: object = list(FEEDBACK_VALUES)) -> list[dict[str, Any]]:
    envelope: dict[str, Any] = {"kind": "answer", "service_id": "passport", "topic": "fee", "card": CARD}
    if feedback is not None:
        envelope["feedback"] = feedback
    choices = [{"title": f"หัวข้อ {i}", "payload": f'/ask_service{{"topic": "t{i}"}}'} for i in range(buttons)]
    return [{"text": "ค่าธรรมเนียม 1,000 บาทค่ะ", "buttons": choices}, {"custom": envelope}]


def items(messages: list[Any]) -> list[Any]:
    return messages[-1].quick_reply.items if messages[-1].quick_reply else []


def test_an_answer_offers_the_rating_after_its_own_buttons() -> None:
    messages = render_turn(parse_turn(answer(buttons=2)))
    assert isinstance(messages[-1], FlexMessage)
    actions = [item.action for item in items(messages)]
    assert [a.label for a in actions] == ["หัวข้อ 0", "หัวข้อ 1", "👍 ช่วยได้", "👎 ไม่ช่วย"]
    rating = actions[2:]
    assert all(isinstance(a, PostbackAction) for a in rating)
    assert [a.data for a in rating] == [feedback_payload(v) for v in (FEEDBACK_HELPFUL, FEEDBACK_UNHELPFUL)]
    # What the chat shows as the citizen's message: the button's words, not the payload.
    assert [a.display_text for a in rating] == ["👍 ช่วยได้", "👎 ไม่ช่วย"]
    assert all(utf16_len(a.label) <= MAX_ACTION_LABEL for a in actions)


def test_no_rating_without_feedback_in_the_envelope() -> None:
    assert [i.action.label for i in items(render_turn(parse_turn(answer(feedback=None))))] == ["หัวข้อ 0"]
    assert [i.action.label for i in items(render_turn(parse_turn(answer(feedback=["maybe"]))))] == ["หัวข้อ 0"]


def test_the_rating_keeps_within_thirteen_quick_replies() -> None:
    full = items(render_turn(parse_turn(answer(buttons=12))))
    assert len(full) == MAX_QUICK_REPLY_ITEMS and full[-1].action.label == "👍 ช่วยได้"
    crowded = items(render_turn(parse_turn(answer(buttons=15))))
    assert len(crowded) == MAX_QUICK_REPLY_ITEMS and all(i.action.label.startswith("หัวข้อ") for i in crowded)


def test_a_rating_alone_still_rides_on_the_card() -> None:
    messages = render_turn(parse_turn(answer(buttons=0)))
    assert [i.action.label for i in items(messages)] == ["👍 ช่วยได้", "👎 ไม่ช่วย"]


# ---- against the real assistant, through the LINE API double ----


def test_a_citizen_rates_an_answer_on_line(line_gateway: Any, line_api: Any) -> None:
    from line_events import postback_event, source, text_event

    user = source("user")
    question = text_event("ต่อภาษีรถยนต์ออนไลน์ได้ไหม", line_api.issue_reply_token(), user)
    assert line_gateway.post_events(question).status_code == 200
    answer = line_api.wait_for_reply(question["replyToken"])
    actions = [item["action"] for item in answer.messages[-1]["quickReply"]["items"]]
    rating = {a["label"]: a for a in actions if a["type"] == "postback" and a["data"].startswith("/feedback")}
    assert set(rating) == {"👍 ช่วยได้", "👎 ไม่ช่วย"}

    tap = postback_event(rating["👎 ไม่ช่วย"]["data"], line_api.issue_reply_token(), user)
    assert line_gateway.post_events(tap).status_code == 200
    apology = line_api.wait_for_reply(tap["replyToken"])
    texts = " ".join(m.get("text", "") for m in apology.messages)
    # The bot apologises and offers a person (docs/replies.md, "Offering a person").
    assert "ขออภัย" in texts
    offered = [i["action"] for i in apology.messages[-1].get("quickReply", {}).get("items", [])]
    assert any(a.get("data") == "/request_human" or a.get("text") == "คุยกับเจ้าหน้าที่" for a in offered)
