"""Without PostgreSQL and Redis (a laptop on the embedded stores) the gateway starts anyway: the chat
answers, a handoff points to the hotline, and the staff side says it is off (503)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from app_server import InProcessServer
from fastapi import FastAPI, Request
from support import free_port

from contract.replies import GOVERNMENT_HOTLINE
from gateway.app import create_app
from gateway.config import Settings

SENDER = "0123456789abcdef0123456789abcdef"


def fake_rasa() -> FastAPI:
    """Rasa's REST channel, enough for the web chat: a person is asked for with "เจ้าหน้าที่"."""
    app = FastAPI()

    @app.post("/webhooks/rest/webhook")
    async def webhook(request: Request) -> list[dict[str, Any]]:
        body = await request.json()
        if "เจ้าหน้าที่" in body["message"]:
            return [{"text": "กำลังส่งต่อให้เจ้าหน้าที่ค่ะ"}, {"custom": {"kind": "handoff"}}]
        return [{"text": "ค่าธรรมเนียม 1,000 บาทค่ะ"}, {"custom": {"kind": "answer", "service_id": "passport"}}]

    return app


@pytest.fixture(scope="module")
def gateway() -> Iterator[str]:
    closed = free_port()
    with InProcessServer(fake_rasa()) as rasa:
        settings = Settings(
            rasa_url=rasa.base_url,
            rasa_timeout=5.0,
            staff_db_url=f"postgresql://postgres@127.0.0.1:{closed}/staff",
            redis_url=f"redis://127.0.0.1:{closed}/2",
        )
        with InProcessServer(create_app(settings)) as app:
            yield app.base_url


def test_the_chat_answers_without_the_staff_side(gateway: str) -> None:
    assert httpx.get(f"{gateway}/health", timeout=10).status_code == 200
    answer = httpx.post(
        f"{gateway}/web/chat", json={"sender": SENDER, "message": "ทำพาสปอร์ตกี่บาท"}, timeout=10
    )
    assert answer.status_code == 200
    assert answer.json()["envelope"]["kind"] == "answer"


def test_a_handoff_points_to_the_hotline(gateway: str) -> None:
    reply = httpx.post(f"{gateway}/web/chat", json={"sender": SENDER, "message": "ขอคุยกับเจ้าหน้าที่"}, timeout=10)
    assert reply.status_code == 200
    body = reply.json()
    assert body["envelope"]["kind"] == "handoff" and "queue_position" not in body["envelope"]
    assert GOVERNMENT_HOTLINE in " ".join(m["text"] for m in body["messages"] if m.get("text"))


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/api/auth/login"), ("GET", "/api/agent/queue"), ("GET", f"/web/updates?sender={SENDER}")],
)
def test_the_staff_side_says_it_is_off(gateway: str, method: str, path: str) -> None:
    response = httpx.request(method, f"{gateway}{path}", json={}, timeout=10)
    assert response.status_code == 503
    assert GOVERNMENT_HOTLINE in response.json()["error"]
    assert "PostgreSQL" in response.json()["detail"]
