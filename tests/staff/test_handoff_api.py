"""Handoff to a person over HTTP, against the real assistant (../shared/spec/staff-api.md:
"Handoff to a person" and "Agent API"): the web chat's handoff, the queue with its masked
summary, live events, take (one winner), write, forward, release and close, /web/updates,
Rasa's pause and resume in the tracker, office hours and callback requests."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from app_server import InProcessServer
from support import rest_token

from gateway.app import create_app
from gateway.config import Settings

pytestmark = pytest.mark.postgres
MakeAccount = Callable[..., tuple[str, str]]


@pytest.fixture(scope="module")
def gateway(rasa_url: str, rasa_token: str, staff_db_url: str, redis_url: str) -> Iterator[str]:
    settings = Settings(
        rasa_url=rasa_url, rasa_token=rasa_token, rest_token=rest_token(), staff_db_url=staff_db_url,
        redis_url=redis_url,
    )
    with InProcessServer(create_app(settings)) as server:
        yield server.base_url


class Citizen:
    """A web chat user: a fresh random sender, as the page makes."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.sender = secrets.token_hex(16)

    def say(self, text: str) -> dict[str, Any]:
        response = httpx.post(
            f"{self.base_url}/web/chat", json={"sender": self.sender, "message": text}, timeout=60
        )
        assert response.status_code == 200, response.text
        return response.json()

    def updates(self, after: str | None = None) -> dict[str, Any]:
        params = {"sender": self.sender} | ({"after": after} if after else {})
        response = httpx.get(f"{self.base_url}/web/updates", params=params, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()


class Agent:
    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url
        self.username = username
        answer = httpx.post(
            f"{base_url}/api/auth/login", json={"username": username, "password": password}, timeout=10
        )
        assert answer.status_code == 200, answer.text
        self.headers = {"Authorization": f"Bearer {answer.json()['token']}"}

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"{self.base_url}{path}", headers=self.headers, timeout=30)

    def post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return httpx.post(f"{self.base_url}{path}", json=body, headers=self.headers, timeout=30)

    def queue(self) -> list[dict[str, Any]]:
        response = self.get("/api/agent/queue")
        assert response.status_code == 200, response.text
        return response.json()["conversations"]

    def find(self, citizen: Citizen) -> dict[str, Any]:
        found = [c for c in self.queue() if c["sender"] == f"web:{citizen.sender}"]
        assert len(found) == 1, "the citizen's conversation is in the queue once"
        return found[0]


class EventReader:
    """Reads /api/agent/events (Server-Sent Events) in a thread, as the console does."""

    def __init__(self, agent: Agent) -> None:
        self.events: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(agent,), daemon=True)
        self._thread.start()
        assert self._ready.wait(10), "the event stream did not open"

    def _run(self, agent: Agent) -> None:
        url = f"{agent.base_url}/api/agent/events"
        with httpx.stream("GET", url, headers=agent.headers, timeout=None) as response:
            for line in response.iter_lines():
                if line.startswith("data:"):
                    event = json.loads(line[5:])
                    if event.get("type") == "hello":
                        self._ready.set()
                    self.events.append(event)
                if self._stop.is_set():
                    return

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in list(self.events):
                if predicate(event):
                    return event
            time.sleep(0.05)
        raise AssertionError(f"no such event in {self.events}")

    def stop(self) -> None:
        self._stop.set()


def handed_over(citizen: Citizen) -> dict[str, Any]:
    citizen.say("อยากทำพาสปอร์ต โทรกลับเบอร์ 0812345678 ได้ไหม")
    reply = citizen.say("ขอคุยกับเจ้าหน้าที่")
    assert reply["envelope"]["kind"] == "handoff"
    return reply


@pytest.fixture
def agents(gateway: str, make_account: MakeAccount) -> Callable[[str], Agent]:
    def make(display_name: str, role: str = "agent") -> Agent:
        username, password = make_account(role, display_name=display_name)
        return Agent(gateway, username, password)

    return make


def test_handoff_queue_take_write_release(
    gateway: str, agents: Callable[..., Agent], rasa_url: str, rasa_token: str
) -> None:
    somchai, somsri = agents("สมชาย"), agents("สมศรี")
    events = EventReader(somchai)
    citizen = Citizen(gateway)
    try:
        reply = handed_over(citizen)
        assert reply["envelope"]["queue_position"] >= 1
        assert any("คิว" in m["text"] for m in reply["messages"])
        opened = events.wait_for(lambda e: e.get("change") == "opened")

        conversation = somchai.find(citizen)
        assert conversation["id"] == opened["conversation_id"]
        assert conversation["status"] == "waiting" and conversation["agent"] is None
        assert conversation["summary"]["service_id"] == "passport"
        transcript = " ".join(m["text"] for m in conversation["transcript"])
        assert "0812345678" not in transcript and "[เบอร์โทร]" in transcript

        # While a person holds the conversation the bot is silent and the message reaches the agent.
        held = citizen.say("ต้องใช้รูปถ่ายไหมคะ")
        assert held["envelope"]["kind"] == "with_agent" and held["messages"] == []
        live = events.wait_for(lambda e: e.get("type") == "message" and e["message"]["from"] == "citizen")
        assert live["message"]["text"] == "ต้องใช้รูปถ่ายไหมคะ"

        cid = conversation["id"]
        assert somchai.post(f"/api/agent/conversations/{cid}/take").status_code == 200
        assert somsri.post(f"/api/agent/conversations/{cid}/take").status_code == 409
        assert somsri.post(f"/api/agent/conversations/{cid}/messages", {"text": "x"}).status_code == 409
        assert somchai.post(f"/api/agent/conversations/{cid}/take").status_code == 200  # holding it already

        written = somchai.post(f"/api/agent/conversations/{cid}/messages", {"text": "ไม่ต้องใช้รูปถ่ายค่ะ"})
        assert written.status_code == 200
        updates = citizen.updates()
        agent_messages = [m for m in updates["messages"] if m["from"] == "agent"]
        assert agent_messages == [
            {
                "type": "text",
                "text": "ไม่ต้องใช้รูปถ่ายค่ะ",
                "from": "agent",
                "agent": "สมชาย",
                "at": agent_messages[0]["at"],
                "cursor": agent_messages[0]["cursor"],
            }
        ]
        assert citizen.updates(after=updates["cursor"])["messages"] == []
        assert citizen.say("ขอบคุณค่ะ")["envelope"] == {"kind": "with_agent", "agent": "สมชาย"}

        assert somsri.post(f"/api/agent/conversations/{cid}/release").status_code == 409
        assert somchai.post(f"/api/agent/conversations/{cid}/release").status_code == 200
        assert all(c["id"] != cid for c in somchai.queue())
        back = citizen.updates(after=updates["cursor"])["messages"]
        assert back and back[-1]["from"] == "system" and back[-1]["event"] == "released"

        # The bot answers again, as if fresh.
        answer = citizen.say("ทำบัตรประชาชนใช้เอกสารอะไรบ้าง")
        assert answer["envelope"]["kind"] == "answer" and answer["envelope"]["service_id"] == "id-card"
    finally:
        events.stop()

    tracker = httpx.get(
        f"{rasa_url}/conversations/web:{citizen.sender}/tracker", params={"token": rasa_token}, timeout=10
    ).json()
    kinds = [e["event"] for e in tracker["events"]]
    assert "pause" in kinds and "resume" in kinds
    assert kinds.index("pause") < kinds.index("resume")
    assert not tracker["paused"]


def test_two_agents_taking_at_once_one_wins(gateway: str, agents: Callable[..., Agent]) -> None:
    first, second = agents("หนึ่ง"), agents("สอง")
    citizen = Citizen(gateway)
    handed_over(citizen)
    cid = first.find(citizen)["id"]
    with ThreadPoolExecutor(2) as pool:
        codes = sorted(
            pool.map(lambda a: a.post(f"/api/agent/conversations/{cid}/take").status_code, [first, second])
        )
    assert codes == [200, 409]
    holder = first.find(citizen)["agent"]
    assert holder in (first.username, second.username)


def test_forward_and_close_with_an_outcome(
    gateway: str, agents: Callable[..., Agent], sql: Callable[..., list[dict[str, Any]]]
) -> None:
    first, colleague = agents("ต้น"), agents("ปลาย")
    citizen = Citizen(gateway)
    handed_over(citizen)
    cid = first.find(citizen)["id"]
    assert (
        first.post(f"/api/agent/conversations/{cid}/forward", {"to": colleague.username}).status_code == 409
    )
    first.post(f"/api/agent/conversations/{cid}/take")
    assert first.post(f"/api/agent/conversations/{cid}/forward", {"to": "nobody-here"}).status_code == 404
    assert (
        first.post(f"/api/agent/conversations/{cid}/forward", {"to": colleague.username}).status_code == 200
    )
    assert first.post(f"/api/agent/conversations/{cid}/messages", {"text": "x"}).status_code == 409
    assert colleague.post(f"/api/agent/conversations/{cid}/messages", {"text": "ดูแลต่อค่ะ"}).status_code == 200
    assert colleague.post(f"/api/agent/conversations/{cid}/close", {"outcome": "maybe"}).status_code == 422
    closed = colleague.post(
        f"/api/agent/conversations/{cid}/close", {"outcome": "referred", "note": "ส่งกงสุล"}
    )
    assert closed.status_code == 200
    row = sql("SELECT status, outcome, agent FROM handoff_conversation WHERE id = %s", cid)[0]
    assert row == {"status": "closed", "outcome": "referred", "agent": colleague.username}
    actions = [r["action"] for r in sql("SELECT action FROM staff_audit WHERE target = %s ORDER BY id", cid)]
    assert actions == ["take", "forward", "message", "close"]


def test_the_agent_api_wants_a_call_centre_token(gateway: str, agents: Callable[..., Agent]) -> None:
    paths = [
        ("GET", "/api/agent/queue"),
        ("GET", "/api/agent/callbacks"),
        ("GET", "/api/agent/agents"),
        ("POST", "/api/agent/conversations/x/take"),
        ("POST", "/api/agent/conversations/x/messages"),
        ("POST", "/api/agent/conversations/x/release"),
        ("POST", "/api/agent/conversations/x/forward"),
        ("POST", "/api/agent/conversations/x/close"),
        ("GET", "/api/agent/events"),
    ]
    editor = agents("กรมการขนส่ง", role="admin")
    for method, path in paths:
        assert httpx.request(method, f"{gateway}{path}", timeout=10).status_code == 401, path
        bad = {"Authorization": "Bearer not-a-token"}
        assert httpx.request(method, f"{gateway}{path}", headers=bad, timeout=10).status_code == 401, path
        assert (
            httpx.request(method, f"{gateway}{path}", headers=editor.headers, timeout=10).status_code == 403
        )
    supervisor = agents("หัวหน้า", role="supervisor")
    assert supervisor.get("/api/agent/queue").status_code == 200
    assert supervisor.post("/api/agent/conversations/no-such-id/take").status_code == 404


def test_updates_need_the_sender_secret(gateway: str) -> None:
    assert httpx.get(f"{gateway}/web/updates", timeout=10).status_code == 422
    assert httpx.get(f"{gateway}/web/updates", params={"sender": "../x"}, timeout=10).status_code == 422
    stranger = Citizen(gateway)
    assert stranger.updates() == {"messages": [], "cursor": "0"}


def test_messages_survive_a_restart(
    gateway: str,
    agents: Callable[..., Agent],
    rasa_url: str,
    rasa_token: str,
    staff_db_url: str,
    redis_url: str,
) -> None:
    agent = agents("คงทน")
    citizen = Citizen(gateway)
    handed_over(citizen)
    cid = agent.find(citizen)["id"]
    agent.post(f"/api/agent/conversations/{cid}/take")
    agent.post(f"/api/agent/conversations/{cid}/messages", {"text": "ยังอยู่ไหมคะ"})
    settings = Settings(
        rasa_url=rasa_url, rasa_token=rasa_token, rest_token=rest_token(), staff_db_url=staff_db_url,
        redis_url=redis_url,
    )
    with InProcessServer(create_app(settings)) as second:
        citizen.base_url = second.base_url
        texts = [m["text"] for m in citizen.updates()["messages"]]
        assert "ยังอยู่ไหมคะ" in texts
        assert citizen.say("ยังอยู่ค่ะ")["envelope"]["kind"] == "with_agent"
    agent.post(f"/api/agent/conversations/{cid}/release")


def test_out_of_hours_offers_a_callback(
    rasa_url: str,
    rasa_token: str,
    staff_db_url: str,
    redis_url: str,
    tmp_path: Path,
    agents: Callable[..., Agent],
) -> None:
    # Hours configured, none of them open: the desk is closed now, whatever the day.
    hours = tmp_path / "hours.yml"
    hours.write_text("hours: {}\nholidays: []\n", encoding="utf-8")
    settings = Settings(
        rasa_url=rasa_url,
        rasa_token=rasa_token,
        rest_token=rest_token(),
        staff_db_url=staff_db_url,
        redis_url=redis_url,
        office_hours_file=str(hours),
    )
    with InProcessServer(create_app(settings)) as server:
        citizen = Citizen(server.base_url)
        reply = handed_over(citizen)
        envelope = reply["envelope"]
        assert envelope["callback"] is True and envelope["office_hours"]
        assert "queue_position" not in envelope
        # Nobody is queued out of hours; the bot keeps answering.
        assert citizen.say("ทำพาสปอร์ตกี่บาท")["envelope"]["kind"] == "answer"

        def callback(**fields: Any) -> httpx.Response:
            body = {
                "sender": citizen.sender,
                "name": "สมหญิง",
                "phone": "081 234 5678",
                "note": "",
                "consent": True,
            } | fields
            return httpx.post(f"{server.base_url}/web/callback", json=body, timeout=30)

        assert callback(phone="12345").json()["fields"] == ["phone"]
        assert callback(consent=False).json()["fields"] == ["consent"]
        made = callback(note="เรื่องพาสปอร์ต เลขบัตร 1103700012345")
        assert made.status_code == 201
        agent = agents("รับสาย")
        waiting = [
            c for c in agent.get("/api/agent/callbacks").json()["callbacks"] if c["id"] == made.json()["id"]
        ]
        assert waiting and waiting[0]["phone"] == "+66812345678"
        assert "1103700012345" not in waiting[0]["note"]
        assert waiting[0]["summary"]["service_id"] == "passport"
        assert (
            agent.post(f"/api/agent/callbacks/{waiting[0]['id']}/done", {"outcome": "called"}).status_code
            == 200
        )
        assert (
            agent.post(f"/api/agent/callbacks/{waiting[0]['id']}/done", {"outcome": "called"}).status_code
            == 404
        )


def test_live_events_cross_gateway_processes(
    gateway: str,
    agents: Callable[..., Agent],
    rasa_url: str,
    rasa_token: str,
    staff_db_url: str,
    redis_url: str,
) -> None:
    """The agent's page on one gateway process sees what a citizen writes through another (Redis)."""
    settings = Settings(
        rasa_url=rasa_url, rasa_token=rasa_token, rest_token=rest_token(), staff_db_url=staff_db_url,
        redis_url=redis_url,
    )
    agent = agents("ข้ามเครื่อง")
    events = EventReader(agent)  # connected to the first process
    try:
        with InProcessServer(create_app(settings)) as other:
            citizen = Citizen(other.base_url)
            handed_over(citizen)
            cid = events.wait_for(lambda e: e.get("change") == "opened")["conversation_id"]
            citizen.say("ฝากถามผ่านอีกเครื่องค่ะ")
            event = events.wait_for(lambda e: e.get("type") == "message" and e["conversation_id"] == cid)
            assert event["message"]["text"] == "ฝากถามผ่านอีกเครื่องค่ะ"
        agent.post(f"/api/agent/conversations/{cid}/take")
        agent.post(f"/api/agent/conversations/{cid}/release")
    finally:
        events.stop()
