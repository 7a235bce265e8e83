"""The web chat in headless Chromium against a gateway process and the real assistant."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import FrameLocator, Page, Route, expect

from contract.replies import GOVERNMENT_HOTLINE

pytestmark = pytest.mark.browser
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "web-chat.png"
PASSPORT = r"พาสปอร์ต|หนังสือเดินทาง"
QUESTION = "ทำพาสปอร์ตกี่บาท"


def bot_count(page: Page | FrameLocator) -> int:
    return int(page.locator("#log .msg-bot").count())


def ask(page: Page | FrameLocator, text: str) -> None:
    """Type a question, press Enter, wait until the assistant's answer is on screen."""
    before = bot_count(page)
    page.get_by_label("พิมพ์คำถามของคุณ").fill(text)
    page.get_by_label("พิมพ์คำถามของคุณ").press("Enter")
    wait_for_answer(page, before)


def wait_for_answer(page: Page | FrameLocator, before: int) -> None:
    expect(page.locator("#log .msg-bot").nth(before)).to_be_visible()
    expect(page.locator("#typing")).to_be_hidden()


def ask_until_card(page: Page | FrameLocator, question: str, turns: int = 4) -> None:
    """Ask, then press the first quick reply while the assistant asks back (e.g. which passport)."""
    ask(page, question)
    for _ in range(turns):
        if page.locator("#log .card").count():
            return
        before = bot_count(page)
        page.locator("#quick button").first.click()
        wait_for_answer(page, before)
    expect(page.locator("#log .card")).not_to_have_count(0)


def test_question_shows_the_service_card(web_gateway: str, phone_page: Page) -> None:
    page = phone_page
    page.goto(web_gateway + "/")
    expect(page.locator("html")).to_have_attribute("lang", "th")

    ask_until_card(page, QUESTION)

    card = page.locator("#log .card").last
    expect(card).to_be_visible()
    expect(card.locator(".card-title")).to_have_text(re.compile(PASSPORT))
    link = card.get_by_role("link")
    expect(link).to_have_attribute("href", re.compile(r"^https?://"))
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(page.locator("#error")).to_be_hidden()
    page.mouse.move(0, 0)  # no hover highlight on a quick reply in the picture
    page.locator("#log").evaluate(
        "log => { log.style.scrollBehavior = 'auto'; log.scrollTop = log.scrollHeight; }"
    )
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))


def test_quick_reply_sends_its_payload_and_shows_its_title(web_gateway: str, phone_page: Page) -> None:
    page = phone_page
    page.goto(web_gateway + "/")
    first = page.locator("#quick button").first
    expect(first).to_be_visible()
    title = first.inner_text()
    before = bot_count(page)

    first.click()

    expect(page.locator("#log .msg-user").last).to_contain_text(title)
    wait_for_answer(page, before)
    # The used suggestions are gone; focus is back in the input for the next question.
    expect(page.locator("#quick button", has_text=title)).to_have_count(0)
    expect(page.get_by_label("พิมพ์คำถามของคุณ")).to_be_focused()


def test_conversation_survives_a_reload(web_gateway: str, phone_page: Page) -> None:
    page = phone_page
    page.goto(web_gateway + "/")
    ask_until_card(page, QUESTION)
    sender = page.evaluate("JSON.parse(sessionStorage.getItem('thgov-chat-v1')).sender")
    bubbles = page.locator("#log .msg").count()

    page.reload()

    expect(page.locator("#log .msg")).to_have_count(bubbles)
    expect(page.locator("#log .msg-user").first).to_contain_text(QUESTION)
    expect(page.locator("#log .card")).to_have_count(1)
    assert page.evaluate("JSON.parse(sessionStorage.getItem('thgov-chat-v1')).sender") == sender


def test_markup_in_a_message_is_shown_as_text(web_gateway: str, phone_page: Page) -> None:
    page = phone_page
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(web_gateway + "/")
    attack = "<img src=x onerror=alert(1)>"

    ask(page, attack)

    expect(page.locator("#log .msg-user .bubble").last).to_have_text("คุณ: " + attack)
    assert page.locator("#log img").count() == 0
    assert page.locator("img").count() == 0
    page.reload()
    expect(page.locator("#log .msg-user .bubble").last).to_contain_text(attack)
    assert page.locator("img").count() == 0
    assert dialogs == []


def test_markup_in_the_assistants_reply_is_shown_as_text(
    web_gateway_rasa_down: str, phone_page: Page
) -> None:
    # Whatever the assistant (or a catalog record) says reaches the page as data: a reply made of markup
    # in every field the page shows, texts, a card, a quick reply, must stay text and run nothing.
    page = phone_page
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    attack = "<img src=x onerror=alert(1)><script>alert(2)</script>"
    reply = {
        "messages": [
            {"type": "text", "text": f"ตอบ {attack} https://www.example.go.th/a\"><svg onload=alert(3)>"},
            {
                "type": "card",
                "card": {
                    "title": attack,
                    "agency": attack,
                    "topic_label": attack,
                    "facts": [attack, "<b>ค่าธรรมเนียม</b>"],
                    "updated": attack,
                    "source_url": "javascript:alert(4)",
                },
            },
        ],
        "buttons": [{"title": "<i>ตกลง</i>", "payload": attack}],
        "envelope": {"kind": "answer", "service_id": "passport", "topic": "fee"},
    }
    page.route(
        "**/web/chat",
        lambda route: route.fulfill(status=200, content_type="application/json", body=json.dumps(reply)),
    )
    page.goto(web_gateway_rasa_down + "/")

    ask(page, QUESTION)

    expect(page.locator("#log .msg-bot").nth(1)).to_contain_text(attack)
    card = page.locator("#log .card").last
    expect(card.locator(".card-title")).to_have_text(attack)
    expect(card.locator(".card-facts li").nth(1)).to_have_text("<b>ค่าธรรมเนียม</b>")
    assert card.locator("a").count() == 0  # a javascript: source is no link
    expect(page.locator("#quick button").first).to_have_text("<i>ตกลง</i>")
    page.locator("#quick button").first.click()
    expect(page.locator("#log .msg-user").last).to_contain_text("<i>ตกลง</i>")
    expect(page.locator("#typing")).to_be_hidden()
    for tag in ("img", "script:not([src])", "svg", "b", "i"):
        assert page.locator(f"#log {tag}, #quick {tag}").count() == 0, tag
    # Links come only from http(s) URLs in the text, cut where the markup starts.
    hrefs = page.locator("#log a").evaluate_all("links => links.map(a => a.href)")
    assert hrefs and set(hrefs) == {"https://www.example.go.th/a"}  # one for each of the two replies
    page.reload()
    expect(page.locator("#log .card-title").last).to_have_text(attack)
    assert page.locator("#log img, #log svg").count() == 0
    assert dialogs == []


def test_keyboard_enter_sends_and_controls_are_accessible(web_gateway: str, phone_page: Page) -> None:
    page = phone_page
    page.goto(web_gateway + "/")
    log = page.get_by_role("log")
    expect(log).to_have_attribute("aria-live", "polite")
    expect(page.get_by_role("button", name="ส่ง")).to_be_visible()
    box = page.get_by_label("พิมพ์คำถามของคุณ")
    box.focus()
    before = bot_count(page)

    page.keyboard.type(QUESTION)
    page.keyboard.press("Enter")

    expect(page.locator("#log .msg-user").last).to_contain_text(QUESTION)
    wait_for_answer(page, before)
    expect(box).to_have_value("")
    expect(box).to_be_focused()
    # Every quick reply is a real <button>, reachable with Tab.
    for tag in page.locator("#quick > *").evaluate_all("nodes => nodes.map(n => n.tagName)"):
        assert tag == "BUTTON"


def test_typing_indicator_shows_while_waiting(web_gateway: str, phone_page: Page) -> None:
    page = phone_page
    held: list[Route] = []
    page.goto(web_gateway + "/")
    # Hold the request (the handler must not block: Playwright's sync API runs it on this thread).
    page.route("**/web/chat", lambda route: held.append(route))
    page.get_by_label("พิมพ์คำถามของคุณ").fill(QUESTION)
    page.get_by_role("button", name="ส่ง").click()
    while not held:
        page.wait_for_timeout(50)

    expect(page.locator("#typing")).to_be_visible()
    expect(page.get_by_role("button", name="ส่ง")).to_be_disabled()
    held[0].continue_()
    expect(page.locator("#typing")).to_be_hidden()
    expect(page.locator("#log .msg-bot").nth(1)).to_be_visible()


def test_failure_shows_a_thai_error(web_gateway_rasa_down: str, phone_page: Page) -> None:
    page = phone_page
    page.goto(web_gateway_rasa_down + "/")

    page.get_by_label("พิมพ์คำถามของคุณ").fill(QUESTION)
    page.get_by_label("พิมพ์คำถามของคุณ").press("Enter")

    alert = page.get_by_role("alert")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("ขออภัย")
    expect(alert).to_contain_text("1111")


def test_network_failure_shows_a_thai_error_and_keeps_the_text(web_gateway: str, phone_page: Page) -> None:
    page = phone_page
    page.goto(web_gateway + "/")
    page.route("**/web/chat", lambda route: route.abort("internetdisconnected"))

    page.get_by_label("พิมพ์คำถามของคุณ").fill(QUESTION)
    page.get_by_label("พิมพ์คำถามของคุณ").press("Enter")

    expect(page.get_by_role("alert")).to_contain_text("ส่งข้อความไม่สำเร็จ")
    # the page's own text, with the hotline the gateway wrote into <body data-hotline>
    expect(page.get_by_role("alert")).to_contain_text(f"หรือโทรสายด่วน {GOVERNMENT_HOTLINE}")
    expect(page.get_by_label("พิมพ์คำถามของคุณ")).to_have_value(QUESTION)


@pytest.fixture
def host_page(web_gateway: str) -> Iterator[str]:
    """An agency page on another origin (localhost vs 127.0.0.1) that embeds the widget with one tag."""
    html = (
        "<!doctype html><html lang='th'><head><meta charset='utf-8'><title>กรมตัวอย่าง</title></head>"
        "<body><h1>หน้าเว็บหน่วยงาน</h1>"
        f"<script src='{web_gateway}/widget.js' data-title='ผู้ช่วยกรมตัวอย่าง'></script></body></html>"
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_widget_embeds_the_chat_on_an_agency_page(host_page: str, web_gateway: str, phone_page: Page) -> None:
    page = phone_page
    page.goto(host_page)
    launcher = page.locator("#thgov-chat-launcher")
    expect(launcher).to_have_accessible_name("ถามผู้ช่วย")
    expect(launcher).to_have_attribute("aria-expanded", "false")

    launcher.click()

    expect(launcher).to_have_attribute("aria-expanded", "true")
    expect(launcher).to_have_accessible_name("ปิดแชท")
    frame_element = page.locator("iframe[title='ผู้ช่วยกรมตัวอย่าง']")
    expect(frame_element).to_be_visible()
    frame = page.frame_locator("iframe[title='ผู้ช่วยกรมตัวอย่าง']")
    expect(frame.locator("h1")).to_have_text("ผู้ช่วยกรมตัวอย่าง")
    ask_until_card(frame, QUESTION)
    expect(frame.locator("#log .card")).to_be_visible()

    frame.get_by_label("พิมพ์คำถามของคุณ").press("Escape")
    expect(frame_element).to_be_hidden()
    expect(launcher).to_be_focused()
