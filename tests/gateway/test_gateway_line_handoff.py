"""Handoff on LINE: a LINE user asks for a person, an agent takes the conversation and writes;
each agent message is one push message under the agent's name (the LINE API double checks it
as the platform would); the user's messages reach the agent, not the bot, until released."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from gw_harness import PII_KEY, InProcessGateway
from line_double import LineApiDouble, Recorded
from line_events import line_id, source, text_event
from support import make_staff_account, signed_in, staff_test_db_url

from gateway.line.recipients import line_sender

pytestmark = pytest.mark.postgres
PUSH = "/v2/bot/message/push"


def _agent(base_url: str, display_name: str) -> dict[str, str]:
    """A new agent account (made as `make user` makes one) and its sign-in headers."""
    account = make_staff_account(staff_test_db_url(), "agent", prefix="line", display_name=display_name)
    return signed_in(base_url, *account)


def _texts(record: Recorded) -> list[str]:
    return [m["text"] for m in record.messages if m["type"] == "text"]


def _pushes(records: list[Recorded], user: str) -> list[Recorded]:
    return [r for r in records if r.path == PUSH and r.body.get("to") == user and r.status == 200]


def test_agent_messages_reach_a_line_user_as_one_push_each(
    line_gateway: InProcessGateway, line_api: LineApiDouble
) -> None:
    user = line_id("U")
    src = source("user", user_id=user)

    def say(text: str, timeout: float = 30) -> Recorded | None:
        token = line_api.issue_reply_token()
        assert line_gateway.post_events(text_event(text, token, src)).status_code == 200
        try:
            return line_api.wait_for_reply(token, timeout=timeout)
        except AssertionError:
            return None

    say("ทำพาสปอร์ตต้องใช้อะไรบ้าง")
    handoff = say("ขอคุยกับเจ้าหน้าที่หน่อย")
    assert handoff is not None and any("คิว" in t for t in _texts(handoff))

    headers = _agent(line_gateway.base_url, "สมใจ")
    queue = httpx.get(f"{line_gateway.base_url}/api/agent/queue", headers=headers, timeout=10).json()
    # The desk knows the LINE user only by the keyed hash of their id (gateway/line/recipients.py).
    mine = [c for c in queue["conversations"] if c["sender"] == line_sender(user, PII_KEY)]
    assert not [c for c in queue["conversations"] if user in c["sender"]]
    assert len(mine) == 1 and mine[0]["channel"] == "line"
    cid = mine[0]["id"]

    waiting = say("รอนานไหมคะ")  # no agent yet: told it was passed on
    assert waiting is not None and any("เจ้าหน้าที่" in t for t in _texts(waiting))

    base = f"{line_gateway.base_url}/api/agent/conversations/{cid}"
    assert httpx.post(f"{base}/take", headers=headers, timeout=10).status_code == 200
    line_api.wait_for(lambda records: len(_pushes(records, user)) >= 1)  # "taken" notice
    before = len(_pushes(line_api.requests, user))
    answer = httpx.post(
        f"{base}/messages", json={"text": "สวัสดีค่ะ ต้องใช้บัตรประชาชนค่ะ"}, headers=headers, timeout=30
    )
    assert answer.status_code == 200
    pushes = line_api.wait_for(lambda records: _pushes(records, user)[before:] or None)
    assert len(pushes) == 1
    message: dict[str, Any] = pushes[0].messages[0]
    assert message["text"] == "สวัสดีค่ะ ต้องใช้บัตรประชาชนค่ะ"
    assert message["sender"]["name"] == "สมใจ"

    # Held by a person: the bot does not answer, nothing is replied.
    assert say("ขอบคุณค่ะ", timeout=3) is None

    assert httpx.post(f"{base}/release", headers=headers, timeout=10).status_code == 200
    line_api.wait_for(lambda records: len(_pushes(records, user)) >= before + 2)  # "back to the bot"
    after = say("ทำพาสปอร์ตกี่บาท")
    assert after is not None and "1,000" in " ".join(str(m) for m in after.messages)
    # Every agent message was pushed exactly once.
    texts = [t for r in _pushes(line_api.requests, user) for t in _texts(r)]
    assert texts.count("สวัสดีค่ะ ต้องใช้บัตรประชาชนค่ะ") == 1


def test_out_of_hours_a_line_user_leaves_a_callback_request(
    rasa_url: str, line_api: LineApiDouble, gateway_factory: Any, tmp_path: Any
) -> None:
    """Out of hours the handoff tells the hours and asks for a number; writing one in the chat is
    the request (and its consent); the agents find it, with the number in E.164."""
    from gw_harness import line_settings

    hours = tmp_path / "hours.yml"
    hours.write_text("hours: {}\nholidays: []\n", encoding="utf-8")  # configured, never open
    gateway = gateway_factory(line_settings(rasa_url, line_api, office_hours_file=str(hours)))
    user = line_id("U")
    src = source("user", user_id=user)

    def say(text: str) -> list[str]:
        token = line_api.issue_reply_token()
        assert gateway.post_events(text_event(text, token, src)).status_code == 200
        return _texts(line_api.wait_for_reply(token, timeout=30))

    say("ทำพาสปอร์ตต้องใช้อะไรบ้าง")
    closed = " ".join(say("ขอคุยกับเจ้าหน้าที่หน่อย"))
    assert "นอกเวลาทำการ" in closed and "เบอร์โทร" in closed
    thanks = " ".join(say("สมหญิง 081 234 5678 ค่ะ"))
    assert "โทรกลับ" in thanks

    headers = _agent(gateway.base_url, "รับสาย")
    callbacks = httpx.get(f"{gateway.base_url}/api/agent/callbacks", headers=headers, timeout=10).json()
    mine = [c for c in callbacks["callbacks"] if c["channel"] == "line" and c["phone"] == "+66812345678"]
    assert mine and mine[-1]["name"] == "สมหญิง ค่ะ"
    assert mine[-1]["summary"]["service_id"] == "passport"
    # Once taken, a number is no longer a request: the next message goes to the bot.
    after = " ".join(say("ทำพาสปอร์ตกี่บาท"))
    assert "1,000" in after
