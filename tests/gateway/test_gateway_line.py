"""The LINE channel end to end: signed webhooks in, the LINE API double records what goes out.

Questions go to the real assistant (`rasa_url`); assertions hold for any sensible answer wording.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import time
from typing import Any

import httpx
import pytest
from gw_harness import CHANNEL_SECRET, InProcessGateway, line_settings
from line_double import LineApiDouble, Recorded, utf16_len
from line_events import (
    follow_event,
    image_event,
    line_id,
    postback_event,
    sign,
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


def _first_quick_reply(reply: Recorded) -> dict[str, Any] | None:
    items = (reply.messages[-1].get("quickReply") or {}).get("items", [])
    return items[0]["action"] if items else None


def converse_until_card(
    gateway: InProcessGateway, line_api: LineApiDouble, src: dict[str, Any], question: str, turns: int = 4
) -> tuple[list[Recorded], dict[str, Any]]:
    """Ask, then tap the first quick reply while the assistant asks back (e.g. which passport), until a card.

    The assistant may answer at once or first ask for a detail it needs; a citizen would tap a quick reply.
    """
    in_group = src["type"] != "user"
    replies: list[Recorded] = []
    event = text_event(question, line_api.issue_reply_token(), src, mention_self=in_group)
    for _ in range(turns):
        assert gateway.post_events(event).status_code == 200
        reply = line_api.wait_for_reply(event["replyToken"])
        replies.append(reply)
        flex = [m for m in reply.messages if m["type"] == "flex"]
        if flex:
            return replies, flex[0]
        action = _first_quick_reply(reply)
        assert action is not None, f"no card and nothing to tap: {reply.messages}"
        token = line_api.issue_reply_token()
        if action["type"] == "postback":
            event = postback_event(action["data"], token, src)
        else:
            event = text_event(action["text"], token, src, mention_self=in_group)
    raise AssertionError(f"no service card after {turns} turns: {[r.messages for r in replies]}")


def test_answer_arrives_as_flex_service_card(line_gateway: InProcessGateway, line_api: LineApiDouble) -> None:
    user = source("user")

    replies, card = converse_until_card(line_gateway, line_api, user, "ทำพาสปอร์ตกี่บาท")

    contents = card["contents"]
    assert any(word in card["altText"] or word in _all_text([contents]) for word in PASSPORT_WORDS)
    assert contents["type"] == "bubble"
    footer_actions = [c["action"] for c in contents.get("footer", {}).get("contents", [])]
    assert footer_actions and footer_actions[0]["type"] == "uri"
    assert footer_actions[0]["uri"].startswith(("https://", "http://"))
    # The loading animation was shown in the one-to-one chat while the assistant worked, once per turn.
    loading = line_api.calls(LOADING)
    assert [r.body["chatId"] for r in loading] == [user["userId"]] * len(replies)
    assert all(r.body["loadingSeconds"] % 5 == 0 for r in loading)
    assert not line_api.calls(PUSH)
    _assert_within_limits(line_api.requests)


def test_clarify_buttons_become_postback_quick_replies(
    line_gateway: InProcessGateway, line_api: LineApiDouble
) -> None:
    # "ใบขับขี่" could be a new licence or a renewal: the assistant asks, offering the services as buttons.
    token = line_api.issue_reply_token()
    line_gateway.post_events(text_event("ใบขับขี่", token))
    reply = line_api.wait_for_reply(token)

    _assert_within_limits(line_api.requests)
    for message in reply.messages[:-1]:
        assert "quickReply" not in message, "quick replies belong on the last message only"
    items = reply.messages[-1]["quickReply"]["items"]
    assert 2 <= len(items) <= 13
    for item in items:
        action = item["action"]
        assert action["type"] == "postback" and action["data"] and action["displayText"]
        assert len(action["label"]) <= 20

    # Tapping one sends its postback data to the assistant, which answers about that service.
    tap = line_api.issue_reply_token()
    line_gateway.post_events(postback_event(items[0]["action"]["data"], tap))
    answer = line_api.wait_for_reply(tap)
    assert re.search("ใบขับขี่|ใบอนุญาตขับรถ", _all_text(answer.messages))
    _assert_within_limits(line_api.requests)


def test_forged_or_missing_signature_is_refused(
    line_gateway: InProcessGateway, line_api: LineApiDouble
) -> None:
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


def test_console_verification_request_is_accepted(
    line_gateway_rasa_down: InProcessGateway, line_api: LineApiDouble
) -> None:
    # The LINE console's "Verify" button posts a signed body with no events.
    assert line_gateway_rasa_down.post_events().status_code == 200
    body = b"not json"
    response = httpx.post(
        f"{line_gateway_rasa_down.base_url}/line/webhook",
        content=body,
        headers={"X-Line-Signature": sign(body, CHANNEL_SECRET), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    time.sleep(0.2)
    assert line_api.requests == []


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


def test_group_message_without_mention_is_ignored(
    line_gateway: InProcessGateway, line_api: LineApiDouble
) -> None:
    group = source("group")
    ignored = line_api.issue_reply_token()
    line_gateway.post_events(text_event("ทำพาสปอร์ตกี่บาท", ignored, group))
    ignored_sticker = line_api.issue_reply_token()
    line_gateway.post_events(sticker_event(ignored_sticker, group))

    replies, card = converse_until_card(line_gateway, line_api, group, "ทำพาสปอร์ตกี่บาท")

    used = [r.body.get("replyToken") for r in line_api.delivered()]
    assert used == [r.body["replyToken"] for r in replies]
    assert ignored not in used and ignored_sticker not in used
    assert any(word in _all_text([card]) for word in PASSPORT_WORDS)
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
    failures = [
        r for r in caplog.records if r.levelno >= logging.ERROR and event["webhookEventId"] in r.getMessage()
    ]
    assert failures, "the failure must be logged with the event id"
    assert failures[0].exc_info or failures[0].exc_text
    logged = caplog.text
    for secret in ("081-234-5678", "somchai@example.com", "1103700012345"):
        assert secret not in logged


def test_without_redis_the_apology_still_goes(
    closed_port_url: str, line_api: LineApiDouble, gateway_factory: Any
) -> None:
    # Redis holds redeliveries, rate limits and awaited callbacks; losing it must not silence the chat.
    no_redis = closed_port_url.replace("http://", "redis://") + "/0"
    gateway = gateway_factory(line_settings(closed_port_url, line_api, rasa_timeout=3.0, redis_url=no_redis))
    token = line_api.issue_reply_token()

    gateway.post_events(text_event("ทำพาสปอร์ตกี่บาท", token))

    assert "1111" in _texts(line_api.wait_for_reply(token))[0]


def test_slow_assistant_gets_the_apology(
    line_api: LineApiDouble, gateway_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # An assistant that accepts the connection but never answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        rasa = f"http://127.0.0.1:{silent.getsockname()[1]}"
        gateway = gateway_factory(line_settings(rasa, line_api, rasa_timeout=1.0))
        token = line_api.issue_reply_token()
        event = text_event("ทำพาสปอร์ตกี่บาท", token)

        gateway.post_events(event)

        reply = line_api.wait_for_reply(token, timeout=15)
    assert "1111" in _texts(reply)[0]
    assert any(
        event["webhookEventId"] in r.getMessage() and r.levelno >= logging.ERROR for r in caplog.records
    )


def test_spent_reply_token_falls_back_to_push(
    line_gateway: InProcessGateway, line_api: LineApiDouble
) -> None:
    user = source("user")
    token = line_api.issue_reply_token()
    line_api.expire_reply_token(token)

    line_gateway.post_events(text_event("ทำพาสปอร์ตกี่บาท", token, user))

    push = line_api.wait_for(lambda rs: [r for r in rs if r.path == PUSH and r.status == 200])[0]
    assert push.body["to"] == user["userId"]
    assert UUID.match(push.header("X-Line-Retry-Key") or "")
    assert push.messages
    refused = line_api.calls(REPLY)
    assert len(refused) == 1 and refused[0].status == 400
    assert refused[0].response == {"message": "Invalid reply token"}


def test_line_endpoint_answers_404_when_not_configured(
    gateway_factory: Any, closed_port_url: str, line_api: LineApiDouble
) -> None:
    from gateway.config import Settings

    gateway = gateway_factory(Settings(rasa_url=closed_port_url))
    response = gateway.post_events(follow_event(line_api.issue_reply_token()))
    # Nothing is there: a 404, where a 503 would make LINE retry.
    assert response.status_code == 404
    assert "LINE_CHANNEL_SECRET" in response.json()["message"]
    time.sleep(0.2)
    assert line_api.requests == []


def test_line_ids_in_events_are_realistic() -> None:
    # Guards the event builders: the double only accepts real-looking recipient ids.
    assert re.match(r"^U[0-9a-f]{32}$", line_id("U"))
    assert len(ulid()) == 26
