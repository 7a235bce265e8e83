"""The LINE channel end to end: signed webhooks in, the LINE API double records what goes out.

Questions go to the real assistant (`rasa_url`); assertions hold for any sensible answer wording.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

import pytest
from gw_harness import InProcessGateway
from line_double import LineApiDouble, Recorded, utf16_len
from line_events import (
    follow_event,
    image_event,
    line_id,
    postback_event,
    source,
    sticker_event,
    text_event,
    ulid,
    unfollow_event,
)

REPLY = "/v2/bot/message/reply"
PUSH = "/v2/bot/message/push"
LOADING = "/v2/bot/chat/loading/start"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
PASSPORT_WORDS = ("พาสปอร์ต", "หนังสือเดินทาง")


def _texts(record: Recorded) -> list[str]:
    return [m["text"] for m in record.messages if m["type"] == "text"]


def _all_text(messages: list[dict[str, Any]]) -> str:
    return json.dumps(messages, ensure_ascii=False)


def _assert_within_limits(records: list[Recorded]) -> None:
    """Everything the gateway sent was accepted and respects LINE's message limits."""
    for record in records:
        assert record.status in (200, 202), (record.path, record.status, record.response)
        assert 1 <= len(record.messages) <= 5 or record.path == LOADING
        for message in record.messages:
            if message["type"] == "text":
                assert utf16_len(message["text"]) <= 5000
            items = (message.get("quickReply") or {}).get("items", [])
            assert len(items) <= 13
            for item in items:
                assert 1 <= len(item["action"]["label"]) <= 20


def test_answer_arrives_as_flex_service_card(line_gateway: InProcessGateway, line_api: LineApiDouble) -> None:
    token = line_api.issue_reply_token()
    user = source("user")

    response = line_gateway.post_events(text_event("ทำพาสปอร์ตกี่บาท", token, user))

    assert response.status_code == 200
    reply = line_api.wait_for_reply(token)
    flex = [m for m in reply.messages if m["type"] == "flex"]
    assert len(flex) == 1, reply.messages
    card = flex[0]
    assert any(word in card["altText"] or word in _all_text([card["contents"]]) for word in PASSPORT_WORDS)
    assert card["contents"]["type"] == "bubble"
    footer_actions = [c["action"] for c in card["contents"].get("footer", {}).get("contents", [])]
    assert footer_actions and footer_actions[0]["type"] == "uri"
    assert footer_actions[0]["uri"].startswith(("https://", "http://"))
    # The loading animation was shown in the one-to-one chat while the assistant worked.
    loading = line_api.calls(LOADING)
    assert [r.body["chatId"] for r in loading] == [user["userId"]]
    assert loading[0].body["loadingSeconds"] % 5 == 0
    _assert_within_limits(line_api.requests)


def test_postback_data_is_sent_to_the_assistant(line_gateway: InProcessGateway, line_api: LineApiDouble) -> None:
    token = line_api.issue_reply_token()

    line_gateway.post_events(postback_event("ทำพาสปอร์ตกี่บาท", token))

    reply = line_api.wait_for_reply(token)
    assert any(word in _all_text(reply.messages) for word in PASSPORT_WORDS)
    _assert_within_limits(line_api.requests)


def test_forged_or_missing_signature_is_refused(line_gateway: InProcessGateway, line_api: LineApiDouble) -> None:
    forged_token = line_api.issue_reply_token()
    event = text_event("ทำพาสปอร์ตกี่บาท", forged_token)

    assert line_gateway.post_events(event, secret="not-the-channel-secret").status_code == 400
    assert line_gateway.post_events(event, signature="").status_code == 400
    assert line_gateway.post_events(event, signature="bm90IGEgc2lnbmF0dXJl").status_code == 400

    # A genuine event afterwards is answered, and it is the only thing the platform ever saw.
    token = line_api.issue_reply_token()
    assert line_gateway.post_events(follow_event(token)).status_code == 200
    line_api.wait_for_reply(token)
    assert [(r.path, r.body.get("replyToken")) for r in line_api.requests] == [(REPLY, token)]


def test_redelivered_event_is_answered_once(line_gateway: InProcessGateway, line_api: LineApiDouble) -> None:
    user = source("user")
    event_id = ulid()
    first_token = line_api.issue_reply_token()
    line_gateway.post_events(text_event("ทำพาสปอร์ตกี่บาท", first_token, user, event_id=event_id))
    line_api.wait_for_reply(first_token)

    redelivered_token = line_api.issue_reply_token()
    again = text_event("ทำพาสปอร์ตกี่บาท", redelivered_token, user, event_id=event_id, redelivery=True)
    assert line_gateway.post_events(again).status_code == 200
    # Events of one chat are handled in order, so once this follow is answered the redelivery is settled.
    sentinel = line_api.issue_reply_token()
    line_gateway.post_events(follow_event(sentinel, user))
    line_api.wait_for_reply(sentinel)

    delivered = line_api.delivered()
    assert [r.body.get("replyToken") for r in delivered] == [first_token, sentinel]
    assert not line_api.calls(PUSH)
    assert len(line_api.calls(LOADING)) == 1


@pytest.mark.parametrize("make_event", [sticker_event, image_event], ids=["sticker", "image"])
def test_non_text_message_gets_a_polite_text_reply(
    make_event: Any, line_gateway_rasa_down: InProcessGateway, line_api: LineApiDouble
) -> None:
    token = line_api.issue_reply_token()

    line_gateway_rasa_down.post_events(make_event(token))

    reply = line_api.wait_for_reply(token)
    assert [m["type"] for m in reply.messages] == ["text"]
    assert "ข้อความ" in reply.messages[0]["text"]


def test_follow_gets_the_greeting(line_gateway_rasa_down: InProcessGateway, line_api: LineApiDouble) -> None:
    token = line_api.issue_reply_token()

    line_gateway_rasa_down.post_events(follow_event(token))

    reply = line_api.wait_for_reply(token)
    text = _texts(reply)[0]
    assert "สวัสดี" in text
    for topic in ("สวัสดิการ", "ใบอนุญาต", "ทะเบียน", "ภาษี"):
        assert topic in text
    _assert_within_limits([reply])


def test_unfollow_sends_nothing(line_gateway_rasa_down: InProcessGateway, line_api: LineApiDouble) -> None:
    user = source("user")
    line_gateway_rasa_down.post_events(unfollow_event(user))
    sentinel = line_api.issue_reply_token()
    line_gateway_rasa_down.post_events(follow_event(sentinel, user))
    line_api.wait_for_reply(sentinel)
    assert len(line_api.requests) == 1


def test_group_message_without_mention_is_ignored(line_gateway: InProcessGateway, line_api: LineApiDouble) -> None:
    group = source("group")
    ignored = line_api.issue_reply_token()
    line_gateway.post_events(text_event("ทำพาสปอร์ตกี่บาท", ignored, group))
    ignored_sticker = line_api.issue_reply_token()
    line_gateway.post_events(sticker_event(ignored_sticker, group))

    mentioned = line_api.issue_reply_token()
    line_gateway.post_events(text_event("ทำพาสปอร์ตกี่บาท", mentioned, group, mention_self=True))
    reply = line_api.wait_for_reply(mentioned)

    assert [r.body.get("replyToken") for r in line_api.delivered()] == [mentioned]
    assert any(word in _all_text(reply.messages) for word in PASSPORT_WORDS)
    # No loading animation in group chats: the API only supports one-to-one chats.
    assert not line_api.calls(LOADING)


def test_assistant_down_gives_the_apology_and_logs_the_failure(
    line_gateway_rasa_down: InProcessGateway, line_api: LineApiDouble, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    token = line_api.issue_reply_token()
    event = text_event("เบอร์ผม 081-234-5678 อีเมล somchai@example.com บัตร 1103700012345 ทำพาสปอร์ตยังไง", token)

    assert line_gateway_rasa_down.post_events(event).status_code == 200

    reply = line_api.wait_for_reply(token)
    text = _texts(reply)[0]
    assert "ขออภัย" in text and "1111" in text
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR and event["webhookEventId"] in r.getMessage()]
    assert failures, "the failure must be logged with the event id"
    assert failures[0].exc_info or failures[0].exc_text
    logged = caplog.text
    for secret in ("081-234-5678", "somchai@example.com", "1103700012345"):
        assert secret not in logged


def test_spent_reply_token_falls_back_to_push(line_gateway: InProcessGateway, line_api: LineApiDouble) -> None:
    user = source("user")
    token = line_api.issue_reply_token()
    line_api.expire_reply_token(token)

    line_gateway.post_events(text_event("ทำพาสปอร์ตกี่บาท", token, user))

    push = line_api.wait_for(lambda rs: [r for r in rs if r.path == PUSH and r.status == 200])[0]
    assert push.body["to"] == user["userId"]
    assert UUID.match(push.header("X-Line-Retry-Key") or "")
    assert any(m["type"] == "flex" for m in push.messages)
    refused = line_api.calls(REPLY)
    assert len(refused) == 1 and refused[0].status == 400
    assert refused[0].response == {"message": "Invalid reply token"}


def test_clarifying_buttons_become_quick_replies_within_limits(
    line_gateway: InProcessGateway, line_api: LineApiDouble
) -> None:
    # "ใบขับขี่" names several services; whatever the assistant offers must fit LINE's quick reply limits.
    token = line_api.issue_reply_token()
    line_gateway.post_events(text_event("ใบขับขี่", token))
    reply = line_api.wait_for_reply(token)
    _assert_within_limits(line_api.requests)
    for message in reply.messages[:-1]:
        assert "quickReply" not in message, "quick replies belong on the last message only"
    items = (reply.messages[-1].get("quickReply") or {}).get("items", [])
    for item in items:
        assert item["action"]["type"] in ("postback", "message")
        if item["action"]["type"] == "postback":
            assert item["action"]["data"] and item["action"]["displayText"]


def test_line_endpoint_answers_503_when_not_configured(
    gateway_factory: Any, closed_port_url: str, line_api: LineApiDouble
) -> None:
    from gateway.config import Settings

    gateway = gateway_factory(Settings(rasa_url=closed_port_url))
    response = gateway.post_events(follow_event(line_api.issue_reply_token()))
    assert response.status_code == 503
    assert "LINE_CHANNEL_SECRET" in response.json()["message"]
    time.sleep(0.2)
    assert line_api.requests == []


def test_line_ids_in_events_are_realistic() -> None:
    # Guards the event builders: the double only accepts real-looking recipient ids.
    assert re.match(r"^U[0-9a-f]{32}$", line_id("U"))
    assert len(ulid()) == 26
