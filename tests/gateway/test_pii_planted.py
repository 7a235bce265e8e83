"""Planted personal data through every channel, end to end (issue 13): a national ID, a phone
number, an e-mail address, a bank account number and a LINE user id (privacy.audit.PLANTED), in
several writings, through the web chat and LINE (the Messaging API double) to the real assistant
and into a handoff to a person (the bot's transcript copied at the handoff, the citizen's messages
while waiting). What people see is masked here; `make test` then runs `python -m privacy.audit`,
which searches PostgreSQL, Redis and the logs under run/ (these gateways' logs are written there)
and must find none of them.

The LINE part also restarts the gateway while an agent's messages wait: the new process finds the
LINE id it pushes to sealed in PostgreSQL, never stored in the clear.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from gw_harness import ACCESS_TOKEN, CHANNEL_SECRET
from line_double import LineApiDouble, Recorded
from line_events import payload, sign, source, text_event
from support import (
    REPO_ROOT,
    free_port,
    make_staff_account,
    rasa_token,
    rest_token,
    signed_in,
    staff_test_db_url,
    start_process,
    stop_process,
)

from gateway.line.recipients import line_sender
from privacy import BANK_ACCOUNT_MASK, EMAIL_MASK, NATIONAL_ID_MASK, PHONE_MASK
from privacy.audit import PLANTED, WRITTEN, Findings

pytestmark = pytest.mark.postgres
PUSH = "/v2/bot/message/push"
MASKS = (NATIONAL_ID_MASK, PHONE_MASK, EMAIL_MASK, BANK_ACCOUNT_MASK)
# Every planted value but the LINE id, in the writings of privacy.audit.WRITTEN, spread over
# what the citizen says before the handoff (Rasa's tracker, then the handoff's transcript) and
# while waiting for a person (the desk's own messages).
BEFORE_HANDOFF = (
    f"อยากทำพาสปอร์ตค่ะ เลขบัตรประชาชน {WRITTEN['national_id'][0]} เบอร์ {WRITTEN['phone'][0]}",
    f"อีเมล {PLANTED['email']} จ่ายค่าธรรมเนียมจากบัญชี {WRITTEN['bank_account'][0]} ได้ไหมคะ",
    f"เลขบัตร{PLANTED['national_id']}โทร{PLANTED['phone']}ค่ะ",
)
HANDOFF = "ขอคุยกับเจ้าหน้าที่"
WHILE_WAITING = (
    f"เลข {WRITTEN['national_id'][1]} โทร {WRITTEN['phone'][1]} หรือ {WRITTEN['phone'][2]}"
    f" อีเมล {WRITTEN['email'][0]} บัญชี {WRITTEN['bank_account'][1]}"
)


def _assert_clean(text: str, what: str) -> None:
    findings = Findings()
    findings.search(text, what)
    assert findings.total == 0, f"planted values in {what}: {dict(findings.counts)}"


def _log_dir() -> Path:
    """Under run/ (the test stack's run folder when `make test` gives one), where privacy.audit looks."""
    folder = Path(os.environ.get("RUN_DIR") or REPO_ROOT / "run" / "test") / "pii-planted"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class GatewayProcess:
    """`python -m gateway` with its log under run/, as the stack runs it."""

    def __init__(self, rasa_url: str, name: str, line_api: LineApiDouble | None, pii_key: str) -> None:
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        self.log_path = _log_dir() / f"{name}-{port}.log"
        env = {
            "RASA_URL": rasa_url,
            "RASA_TIMEOUT": "15",
            "RASA_TOKEN": rasa_token(),
            "REST_TOKEN": rest_token(),
            "STAFF_DB_URL": staff_test_db_url(),
            "LINE_CHANNEL_SECRET": CHANNEL_SECRET if line_api else "",
            "LINE_CHANNEL_ACCESS_TOKEN": ACCESS_TOKEN if line_api else "",
            "LINE_API_BASE_URL": line_api.base_url if line_api else "",
            "PII_KEY": pii_key,
            "OFFICE_HOURS_FILE": "",
        }
        self._proc = start_process(
            [sys.executable, "-m", "gateway", "--host", "127.0.0.1", "--port", str(port)],
            f"{self.base_url}/health",
            env=env,
            timeout=60,
            cwd=REPO_ROOT,
            log_path=self.log_path,
        )

    def stop(self) -> None:
        stop_process(self._proc)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@pytest.fixture
def pii_key() -> str:
    # A key of this run: the planted LINE user's conversation starts afresh every run.
    return secrets.token_hex(32)


@pytest.fixture
def gateways(rasa_url: str) -> Iterator[list[GatewayProcess]]:
    started: list[GatewayProcess] = []
    yield started
    for gateway in started:
        gateway.stop()


def _agent(base_url: str, display_name: str) -> dict[str, str]:
    account = make_staff_account(staff_test_db_url(), "agent", prefix="pii", display_name=display_name)
    return signed_in(base_url, *account)


def _queued(base_url: str, headers: dict[str, str], sender: str) -> dict[str, Any]:
    queue = httpx.get(f"{base_url}/api/agent/queue", headers=headers, timeout=10).json()["conversations"]
    mine = [c for c in queue if c["sender"] == sender]
    assert len(mine) == 1, "the conversation is in the queue once"
    return mine[0]


def _check_transcript(conversation: dict[str, Any]) -> None:
    shown = json.dumps(conversation, ensure_ascii=False)
    _assert_clean(shown, "the agent's queue")
    citizen = " ".join(m["text"] for m in conversation["transcript"] if m["from"] == "citizen")
    for placeholder in MASKS:
        assert placeholder in citizen, f"{placeholder} in the transcript: {citizen}"


def _tracker(rasa_url: str, sender: str) -> str:
    from urllib.parse import quote

    from privacy import conversation_key

    url = f"{rasa_url}/conversations/{quote(conversation_key(sender), safe=':')}/tracker"
    response = httpx.get(url, params={"token": rasa_token()}, timeout=30)
    assert response.status_code == 200, response.text
    return response.text


def test_planted_values_through_the_web_chat_and_a_handoff(
    rasa_url: str, gateways: list[GatewayProcess], pii_key: str
) -> None:
    gateway = GatewayProcess(rasa_url, "web-gateway", None, pii_key)
    gateways.append(gateway)
    citizen = secrets.token_hex(16)

    def say(text: str) -> dict[str, Any]:
        response = httpx.post(
            f"{gateway.base_url}/web/chat", json={"sender": citizen, "message": text}, timeout=60
        )
        assert response.status_code == 200, response.text
        return response.json()

    for text in BEFORE_HANDOFF:
        _assert_clean(json.dumps(say(text), ensure_ascii=False), "the bot's answer")
    assert say(HANDOFF)["envelope"]["kind"] == "handoff"
    say(WHILE_WAITING)

    headers = _agent(gateway.base_url, "สมพร")
    conversation = _queued(gateway.base_url, headers, f"web:{citizen}")
    _check_transcript(conversation)
    waiting = [m["text"] for m in conversation["transcript"] if m["from"] == "citizen"][-1]
    assert waiting.count(PHONE_MASK) == 2 and NATIONAL_ID_MASK in waiting

    base = f"{gateway.base_url}/api/agent/conversations/{conversation['id']}"
    assert httpx.post(f"{base}/take", headers=headers, timeout=10).status_code == 200
    assert httpx.post(f"{base}/release", headers=headers, timeout=30).status_code == 200

    tracker = _tracker(rasa_url, f"web:{citizen}")
    _assert_clean(tracker, "Rasa's tracker")
    said = " ".join(e["text"] or "" for e in json.loads(tracker)["events"] if e["event"] == "user")
    assert all(placeholder in said for placeholder in MASKS), said
    _assert_clean(gateway.log(), "the gateway's log")


def _post(gateway: GatewayProcess, *events: dict[str, Any]) -> None:
    body = payload(*events)
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "X-Line-Signature": sign(body, CHANNEL_SECRET),
    }
    response = httpx.post(f"{gateway.base_url}/line/webhook", content=body, headers=headers, timeout=10)
    assert response.status_code == 200, response.text


def _pushes(records: list[Recorded], to: str) -> list[Recorded]:
    return [r for r in records if r.path == PUSH and r.body.get("to") == to and r.status == 200]


def _texts(records: list[Recorded]) -> list[str]:
    return [m["text"] for r in records for m in r.messages if m["type"] == "text"]


def test_planted_values_through_line_a_handoff_and_a_restart(
    rasa_url: str, line_api: LineApiDouble, gateways: list[GatewayProcess], pii_key: str
) -> None:
    user = PLANTED["line_user_id"]
    sender = line_sender(user, pii_key)
    line = GatewayProcess(rasa_url, "line-gateway", line_api, pii_key)
    gateways.append(line)

    def say(text: str, src: dict[str, Any] | None = None, **kw: Any) -> Recorded:
        token = line_api.issue_reply_token()
        _post(line, text_event(text, token, src or source("user", user_id=user), **kw))
        return line_api.wait_for_reply(token, timeout=60)

    for text in BEFORE_HANDOFF:
        say(text)
    assert any("คิว" in t for t in _texts([say(HANDOFF)]))
    say(WHILE_WAITING)  # told it was passed on
    # The planted user in a group: the group is a conversation of its own, known by its hash too.
    group = source("group", user_id=user)
    say(f"เบอร์ {WRITTEN['phone'][0]} ทำพาสปอร์ตกี่บาท", group, mention_self=True)

    # The gateway stops; meanwhile an agent (on a gateway without LINE) takes the conversation
    # and writes. The messages wait in PostgreSQL for a gateway that can push them.
    line.stop()
    gateways.remove(line)
    desk = GatewayProcess(rasa_url, "desk-gateway", None, pii_key)
    gateways.append(desk)
    headers = _agent(desk.base_url, "สมหญิง")
    conversation = _queued(desk.base_url, headers, sender)
    assert conversation["channel"] == "line"
    _check_transcript(conversation)
    base = f"{desk.base_url}/api/agent/conversations/{conversation['id']}"
    assert httpx.post(f"{base}/take", headers=headers, timeout=10).status_code == 200
    reply = "ได้รับข้อมูลแล้วค่ะ เจ้าหน้าที่ตรวจสอบให้นะคะ"
    assert (
        httpx.post(f"{base}/messages", json={"text": reply}, headers=headers, timeout=30).status_code == 200
    )
    with psycopg.connect(staff_test_db_url()) as conn:
        stored = conn.execute(
            "SELECT sender, sealed FROM line_recipient WHERE sender = %s", (sender,)
        ).fetchall()
        senders = conn.execute(
            "SELECT count(*) FROM handoff_conversation WHERE sender LIKE %s", (f"%{user}%",)
        ).fetchone()
    assert len(stored) == 1 and user.encode() not in bytes(stored[0][1])
    assert senders == (0,)

    # A new gateway process opens the sealed id and pushes what was written meanwhile.
    restarted = GatewayProcess(rasa_url, "line-gateway", line_api, pii_key)
    gateways.append(restarted)
    pushed = line_api.wait_for(lambda records: reply in _texts(_pushes(records, user)), timeout=30)
    assert pushed
    assert _texts(_pushes(line_api.requests, user)).count(reply) == 1

    assert httpx.post(f"{base}/release", headers=headers, timeout=30).status_code == 200
    for gateway in (line, desk, restarted):
        _assert_clean(gateway.log(), f"the log of {gateway.log_path.name}")
    tracker = _tracker(rasa_url, sender)
    _assert_clean(tracker, "Rasa's tracker")
    assert user not in tracker and sender in tracker


def test_a_line_id_opens_only_under_its_own_sender_and_key() -> None:
    from gateway.line.recipients import LineRecipients

    one, other = LineRecipients(None, "key-one"), LineRecipients(None, "key-two")
    user = PLANTED["line_user_id"]
    sealed = one.seal(one.sender(user), user)
    assert user.encode() not in sealed
    assert one.open(one.sender(user), sealed) == user
    assert one.open(one.sender("U" + "0" * 32), sealed) is None  # moved to another row
    assert other.open(one.sender(user), sealed) is None  # another PII_KEY
    assert one.sender(user) == line_sender(user, "key-one") != other.sender(user)
    assert one.sender(user).startswith("line:") and user.lower() not in one.sender(user)


def test_sealed_line_ids_are_kept_while_a_handoff_needs_them() -> None:
    import asyncio

    from gateway.line.recipients import LineRecipients
    from staff.db import open_pool

    async def scenario() -> None:
        pool = await open_pool(staff_test_db_url(), max_size=2)
        try:
            recipients = LineRecipients(pool, secrets.token_hex(16))
            user, idle = "U" + secrets.token_hex(16), "U" + secrets.token_hex(16)
            sender, idle_sender = recipients.sender(user), recipients.sender(idle)
            await recipients.remember(sender, user)
            await recipients.remember(idle_sender, idle)
            assert await recipients.recipient(sender) == user
            async with pool.connection() as conn:
                await conn.execute(
                    "INSERT INTO handoff_conversation (id, sender, channel, status)"
                    " VALUES (%s, %s, 'line', 'waiting')",
                    (secrets.token_hex(8), sender),
                )
                await conn.execute(
                    "UPDATE line_recipient SET seen_at = now() - interval '1 hour' WHERE sender IN (%s, %s)",
                    (sender, idle_sender),
                )
            await recipients.forget_idle()
            # The open handoff keeps its id; the other one, idle for an hour, is gone.
            assert await recipients.recipient(sender) == user
            assert await recipients.recipient(idle_sender) is None
            async with pool.connection() as conn:
                await conn.execute(
                    "UPDATE handoff_conversation SET status = 'closed' WHERE sender = %s", (sender,)
                )
            recipients._next_forget = 0.0  # the deletion runs at most once a minute
            await recipients.forget_idle()
            assert await recipients.recipient(sender) is None
        finally:
            await pool.close()

    asyncio.run(scenario())
