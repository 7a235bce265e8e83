"""Delivery rules against the LINE API double: reply first (at most 5), push the rest with a retry key."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from gw_harness import ACCESS_TOKEN
from line_double import LineApiDouble
from line_events import line_id
from linebot.v3.messaging import AsyncApiClient, AsyncMessagingApi, Configuration, Message, TextMessage

from gateway.envelope import BotTurn, Button, Card
from gateway.line.messenger import LineMessenger
from gateway.line.render import render_turn

REPLY = "/v2/bot/message/reply"
PUSH = "/v2/bot/message/push"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def run_with_messenger(line_api: LineApiDouble, action: Callable[[LineMessenger], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        async with AsyncApiClient(Configuration(host=line_api.base_url, access_token=ACCESS_TOKEN)) as client:
            return await action(LineMessenger(AsyncMessagingApi(client)))

    # A fresh thread has no event loop, whatever another fixture (e.g. Playwright's) runs in this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(main())).result(timeout=60)


def numbered(count: int) -> list[Message]:
    return [TextMessage(text=f"ข้อความที่ {i + 1}") for i in range(count)]


def sent_texts(line_api: LineApiDouble) -> list[str]:
    return [m["text"] for r in line_api.delivered() for m in r.messages]


def test_more_than_five_messages_go_out_as_reply_then_push(line_api: LineApiDouble) -> None:
    token = line_api.issue_reply_token()
    to = line_id("U")

    run_with_messenger(line_api, lambda m: m.deliver(to, token, numbered(7), "evt-7"))

    reply, push = line_api.delivered()
    assert reply.path == REPLY and len(reply.messages) == 5 and reply.header("X-Line-Retry-Key") is None
    assert push.path == PUSH and push.body["to"] == to and len(push.messages) == 2
    assert UUID.match(push.header("X-Line-Retry-Key") or "")
    assert sent_texts(line_api) == [f"ข้อความที่ {i + 1}" for i in range(7)]


def test_spent_reply_token_sends_everything_by_push(line_api: LineApiDouble) -> None:
    token = line_api.issue_reply_token()
    to = line_id("U")
    run_with_messenger(line_api, lambda m: m.deliver(to, token, numbered(1), "evt-a"))
    line_api.reset()

    run_with_messenger(line_api, lambda m: m.deliver(to, token, numbered(7), "evt-b"))

    assert [(r.path, r.status) for r in line_api.requests] == [(REPLY, 400), (PUSH, 200), (PUSH, 200)]
    keys = [r.header("X-Line-Retry-Key") for r in line_api.calls(PUSH)]
    assert all(UUID.match(k or "") for k in keys) and len(set(keys)) == 2
    assert sent_texts(line_api) == [f"ข้อความที่ {i + 1}" for i in range(7)]


def test_failed_push_is_retried_with_the_same_retry_key(line_api: LineApiDouble) -> None:
    to = line_id("U")
    line_api.fail_next(PUSH, status=500)

    ok = run_with_messenger(line_api, lambda m: m.push(to, numbered(2), "evt-retry"))

    assert ok
    attempts = line_api.calls(PUSH)
    assert [r.status for r in attempts] == [500, 200]
    assert attempts[0].header("X-Line-Retry-Key") == attempts[1].header("X-Line-Retry-Key")


def test_rendered_turn_with_many_buttons_is_accepted_by_the_platform(line_api: LineApiDouble) -> None:
    buttons = [
        Button(title=f"ตัวเลือกบริการภาครัฐที่มีชื่อยาวมากหมายเลข {i}", payload=f'/choose{{"n":{i}}}')
        for i in range(20)
    ]
    card = Card(
        title="หนังสือเดินทาง (พาสปอร์ต)",
        agency="กรมการกงสุล",
        topic_label="ค่าธรรมเนียม",
        facts=("เล่ม 5 ปี 1,000 บาท",),
        source_url="https://www.consular.go.th",
        updated="2026-11-01",
    )
    turn = BotTurn(texts=["ก" * 6000, "ข้อความสั้น"], buttons=buttons, envelope={"kind": "answer"}, card=card)
    token = line_api.issue_reply_token()

    run_with_messenger(line_api, lambda m: m.deliver(line_id("U"), token, render_turn(turn), "evt-many"))

    (reply,) = line_api.delivered()
    items = reply.messages[-1]["quickReply"]["items"]
    assert len(items) == 13
    assert all(len(item["action"]["label"]) <= 20 for item in items)
    assert reply.messages[-1]["type"] == "flex"
