"""The agent console's page and assets (staff/api/pages.py), served without a database or a browser."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from staff_pages import MARKUP_FROM_STRINGS, assert_page_headers, tags

from contract.replies import GOVERNMENT_HOTLINE, GOVERNMENT_WEBSITE, TOPIC_LABELS
from staff.api.pages import STATIC_DIR, pages_router

WEB_CHAT = Path(__file__).resolve().parents[2] / "gateway" / "web" / "static" / "chat.js"


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    app.include_router(pages_router())
    return TestClient(app)


def test_the_page_has_the_web_chats_headers_and_no_framing(client: TestClient) -> None:
    assert_page_headers(client, "agent")  # and without the slash, the page moves


def test_scripts_are_files_of_its_own_origin_only(client: TestClient) -> None:
    found = tags(client.get("/agent/").text)
    scripts = [attrs for tag, attrs in found if tag == "script"]
    assert scripts == [  # no inline script, no CDN; what the staff pages share comes first
        {"src": "/staff/static/staff.js", "defer": None},
        {"src": "/agent/static/agent.js", "defer": None},
    ]
    for tag, attrs in found:
        assert not any(name.startswith("on") for name in attrs), f"inline handler on <{tag}>"
        assert "style" not in attrs, f"inline style on <{tag}>"  # style-src 'self' would refuse it
    links = [attrs["href"] for tag, attrs in found if tag == "link" and attrs.get("rel") == "stylesheet"]
    assert links == ["/agent/static/agent.css"]


def test_the_topic_labels_come_from_the_contract(client: TestClient) -> None:
    body = next(attrs for tag, attrs in tags(client.get("/agent/").text) if tag == "body")
    assert json.loads(body["data-topics"] or "") == TOPIC_LABELS
    assert "{{" not in client.get("/agent/").text


@pytest.mark.parametrize(("name", "media_type"), [("agent.js", "text/javascript"), ("agent.css", "text/css")])
def test_assets(client: TestClient, name: str, media_type: str) -> None:
    response = client.get(f"/agent/static/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("name", ["index.html", "../pages.py", "..%2Fpages.py", "chat.js", "agent.js.map"])
def test_only_the_listed_assets_are_served(client: TestClient, name: str) -> None:
    assert client.get(f"/agent/static/{name}").status_code == 404


@pytest.mark.parametrize("script", [STATIC_DIR / "agent.js", WEB_CHAT], ids=lambda p: p.name)
def test_data_goes_into_the_pages_as_text_only(script: Path) -> None:
    """The scripts never build markup from strings: what citizens and agents type stays text."""
    assert not MARKUP_FROM_STRINGS.search(script.read_text(encoding="utf-8"))


def test_the_hotline_is_not_written_into_the_console() -> None:
    for path in STATIC_DIR.iterdir():
        text = path.read_text(encoding="utf-8")
        assert not re.search(rf"(?<![0-9]){GOVERNMENT_HOTLINE}(?![0-9])", text), path.name
        assert GOVERNMENT_WEBSITE not in text, path.name
