"""The web chat's HTTP side: `/web/chat`, CORS, the page's security headers, `/health`."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from support import staff_test_db_url

from contract.replies import GOVERNMENT_HOTLINE
from gateway.app import create_app
from gateway.config import Settings
from gateway.web import routes

ALLOWED = "https://www.consular.go.th"
# A sender as the page makes it: 32 hex characters, 128 random bits.
SENDER = "0123456789abcdef0123456789abcdef"
# The app's start opens the staff side's database (and Redis).
pytestmark = pytest.mark.postgres


@pytest.fixture
def client(closed_port_url: str) -> Iterator[TestClient]:
    settings = Settings(
        rasa_url=closed_port_url,
        rasa_timeout=3.0,
        web_allowed_origins=(ALLOWED, "http://localhost:*"),
        staff_db_url=staff_test_db_url(),
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_health(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_page_is_thai_and_framable_only_by_allowed_origins(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert '<html lang="th">' in response.text
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'self' https://www.consular.go.th http://localhost:*" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"


def test_page_names_the_contract_hotline_for_people_and_for_its_script(client: TestClient) -> None:
    response = client.get("/")
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.text
    assert "{{" not in page and "}}" not in page
    assert f'<body data-hotline="{GOVERNMENT_HOTLINE}">' in page
    assert f"สายด่วน {GOVERNMENT_HOTLINE}</p>" in page  # the hint under the composer
    assert f"หรือโทรสายด่วน {GOVERNMENT_HOTLINE}</p></noscript>" in page
    head = client.head("/")
    assert head.status_code == 200 and head.headers["content-security-policy"]


def test_page_values_are_escaped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(routes, "PAGE_VALUES", {"hotline": '1"><script>alert(1)</script>&'})
    page = routes.render_page()
    assert "<script>alert" not in page and '"><script>' not in page
    assert 'data-hotline="1&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;"' in page


def test_assets_and_widget_are_served(client: TestClient) -> None:
    for path, kind in (
        ("/static/chat.js", "javascript"),
        ("/static/chat.css", "css"),
        ("/widget.js", "javascript"),
    ):
        response = client.get(path)
        assert response.status_code == 200 and kind in response.headers["content-type"]
    assert client.get("/static/../app.py").status_code == 404
    assert client.get("/static/index.html").status_code == 404


def test_cors_preflight_only_for_allowed_origins(client: TestClient) -> None:
    headers = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    allowed = client.options("/web/chat", headers={"Origin": ALLOWED, **headers})
    assert allowed.status_code == 204 and allowed.headers["access-control-allow-origin"] == ALLOWED
    wildcard_port = client.options("/web/chat", headers={"Origin": "http://localhost:5173", **headers})
    assert wildcard_port.headers["access-control-allow-origin"] == "http://localhost:5173"
    denied = client.options("/web/chat", headers={"Origin": "https://evil.example", **headers})
    assert denied.status_code == 403 and "access-control-allow-origin" not in denied.headers


def test_chat_from_a_foreign_origin_is_refused(client: TestClient) -> None:
    response = client.post(
        "/web/chat",
        json={"sender": SENDER, "message": "สวัสดี"},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403


def test_chat_validates_input(client: TestClient) -> None:
    assert client.post("/web/chat", json={"sender": "x", "message": "สวัสดี"}).status_code == 422
    assert client.post("/web/chat", json={"sender": SENDER, "message": ""}).status_code == 422
    assert client.post("/web/chat", json={"sender": SENDER, "message": "  "}).status_code == 422
    assert (
        client.post("/web/chat", json={"sender": SENDER, "message": "ก" * 1001}).status_code == 422
    )
    assert (
        client.post(
            "/web/chat", content=b"not json", headers={"Content-Type": "application/json"}
        ).status_code
        == 422
    )


def test_chat_when_assistant_is_down_says_so_in_thai(client: TestClient) -> None:
    response = client.post(
        "/web/chat", json={"sender": SENDER, "message": "ทำพาสปอร์ตกี่บาท"}, headers={"Origin": ALLOWED}
    )
    assert response.status_code == 503
    assert "1111" in response.json()["error"]
    assert response.headers["access-control-allow-origin"] == ALLOWED


def test_chat_answer_carries_a_card(web_gateway: str) -> None:
    # Follow the first button while the assistant asks back (e.g. which passport), as the page would.
    message, sender = "ทำพาสปอร์ตกี่บาท", secrets.token_hex(16)
    for _ in range(4):
        response = httpx.post(
            f"{web_gateway}/web/chat", json={"sender": sender, "message": message}, timeout=30
        )
        assert response.status_code == 200
        data = response.json()
        cards = [m["card"] for m in data["messages"] if m["type"] == "card"]
        if cards:
            break
        assert data["buttons"], data
        message = data["buttons"][0]["payload"]
    assert data["envelope"]["kind"] == "answer"
    assert data["envelope"]["service_id"] == "passport"
    assert len(cards) == 1
    assert any(word in cards[0]["title"] for word in ("พาสปอร์ต", "หนังสือเดินทาง"))
    assert cards[0]["source_url"].startswith(("https://", "http://"))
    assert "card" not in data["envelope"]
