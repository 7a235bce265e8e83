"""The agent console (/agent/) and the citizen's web chat together, in Debian's Chromium.

A gateway process with the real assistant behind it and a throwaway staff database
(`staff_test_console`); agents are made with `python -m staff.users`, as staff are. A citizen
on a phone and agents at 1366x768 desks each have a browser context of their own.

`SCREENSHOT=1` also writes docs/agent-console.png (off by default, so that a test run does not
rewrite a committed file).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect
from support import (
    database_url,
    drop_database,
    free_port,
    make_staff_account,
    staff_test_db_url,
    start_process,
    stop_process,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO_ROOT / "docs" / "agent-console.png"
CONSOLE_DB = "staff_test_console"
PASSPORT = re.compile(r"พาสปอร์ต|หนังสือเดินทาง")
ASK_FOR_A_PERSON = "ขอคุยกับเจ้าหน้าที่"
TAKEN_BY_OTHER = "มีเจ้าหน้าที่คนอื่นรับเรื่องนี้แล้ว"
RELEASED = "กลับมาคุยกับผู้ช่วยอัตโนมัติแล้วค่ะ"
# Live means the page changes without a reload well before its safety poll (30 s) would.
LIVE_MS = 10_000


# ---- the gateway, its database, the agents -------------------------------------------------------


@pytest.fixture(scope="module")
def console_db_url() -> Iterator[str]:
    url = database_url(staff_test_db_url(), CONSOLE_DB)
    drop_database(url, CONSOLE_DB)  # the gateway's start creates it again, with the schema
    yield url
    drop_database(url, CONSOLE_DB)


def _start_gateway(env: dict[str, str], log_dir: Path) -> tuple[Any, str]:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    proc = start_process(
        [sys.executable, "-m", "gateway", "--host", "127.0.0.1", "--port", str(port)],
        f"{base_url}/health",
        env={
            "LINE_CHANNEL_SECRET": "",
            "LINE_CHANNEL_ACCESS_TOKEN": "",
            "WEB_ALLOWED_ORIGINS": "http://localhost:*,http://127.0.0.1:*",
            "RASA_TIMEOUT": "15",
            **env,
        },
        timeout=60,
        cwd=REPO_ROOT,
        log_path=log_dir / f"gateway-{port}.log",
    )
    return proc, base_url


@pytest.fixture(scope="module")
def gateway_env(rasa_url: str, rasa_token: str, actions_url: str, console_db_url: str) -> dict[str, str]:
    return {
        "RASA_URL": rasa_url,
        "RASA_TOKEN": rasa_token,
        "ACTION_ENDPOINT_URL": actions_url,
        "STAFF_DB_URL": console_db_url,
        "OFFICE_HOURS_FILE": "",
    }


@pytest.fixture(scope="module")
def gateway(gateway_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The desk staffed at all hours (no office hours set)."""
    proc, base_url = _start_gateway(gateway_env, tmp_path_factory.mktemp("console-gateway"))
    try:
        yield base_url
    finally:
        stop_process(proc)


@pytest.fixture(scope="module")
def closed_gateway(
    gateway: str, gateway_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The same desk out of hours: open on Mondays only, and today is a holiday."""
    workdir = tmp_path_factory.mktemp("closed-gateway")
    hours = workdir / "hours.yml"
    today = dt.datetime.now(ZoneInfo("Asia/Bangkok")).date()
    hours.write_text(f"hours:\n  mon: '08:30-16:30'\nholidays: [{today.isoformat()}]\n", encoding="utf-8")
    proc, base_url = _start_gateway({**gateway_env, "OFFICE_HOURS_FILE": str(hours)}, workdir)
    try:
        yield base_url
    finally:
        stop_process(proc)


@pytest.fixture(scope="module")
def make_agent(gateway: str, console_db_url: str) -> Callable[[str], tuple[str, str, str]]:
    """make_agent(display name) -> (username, password, display name): an account made as staff make one."""

    def make(display_name: str) -> tuple[str, str, str]:
        username, password = make_staff_account(console_db_url, "agent", display_name=display_name)
        return username, password, display_name

    return make


# ---- browsers: `browser` and `new_page` are tests/staff/conftest.py's -------------------------------


def sign_in(page: Page, base_url: str, username: str, password: str) -> None:
    page.goto(base_url + "/agent/")
    page.get_by_label("ชื่อผู้ใช้").fill(username)
    page.get_by_label("รหัสผ่าน").fill(password)
    page.get_by_role("button", name="เข้าสู่ระบบ").click()
    expect(page.get_by_role("banner")).to_be_visible()
    # The live feed is up before anything is expected to arrive by it.
    expect(page.locator("#connection")).to_have_attribute("data-state", "on")


def chat(page: Page, text: str) -> None:
    """The citizen types and presses Enter; returns once the gateway has answered."""
    box = page.get_by_label("พิมพ์คำถามของคุณ")
    box.fill(text)
    box.press("Enter")
    expect(page.locator("#typing")).to_be_hidden()
    expect(page.locator("#error")).to_be_hidden()


def queue_item(page: Page, text: str) -> Any:
    return page.locator("#queue-list button", has_text=text)


# ---- the handoff, both sides ----------------------------------------------------------------------


def test_agent_takes_over_the_chat_and_hands_it_back(
    gateway: str, new_page: Callable[..., Page], make_agent: Callable[[str], tuple[str, str, str]]
) -> None:
    first, second = make_agent("สมศรี ตั้งใจ"), make_agent("มานพ ขยัน")
    agent = new_page()
    sign_in(agent, gateway, first[0], first[1])
    expect(agent.locator("#who-name")).to_have_text("สมศรี ตั้งใจ")
    expect(agent.locator("#who-role")).to_have_text("เจ้าหน้าที่")
    colleague = new_page()
    sign_in(colleague, gateway, second[0], second[1])
    agent.evaluate("window.__sameDocument = true")

    citizen = new_page(desk=False)
    citizen.goto(gateway + "/")
    sender = citizen.evaluate("JSON.parse(sessionStorage.getItem('thgov-chat-v1')).sender")
    assert re.fullmatch(r"[0-9a-f]{32}", sender)
    chat(citizen, "ทำพาสปอร์ตกี่บาท")
    chat(citizen, ASK_FOR_A_PERSON)
    expect(citizen.locator("#status-line")).to_contain_text("รอเจ้าหน้าที่ค่ะ")

    # The request reaches the agent's queue live, without a reload, with its waiting time.
    item = queue_item(agent, ASK_FOR_A_PERSON)
    expect(item).to_have_count(1, timeout=LIVE_MS)
    expect(item).to_contain_text("รอ")
    assert agent.evaluate("window.__sameDocument === true")

    # Alt+1..9 opens a queue item; a shortcut typed into a field is just text.
    position = agent.locator("#queue-list button").evaluate_all(
        "(buttons, text) => buttons.findIndex(b => b.textContent.includes(text)) + 1", ASK_FOR_A_PERSON
    )
    assert 1 <= position <= 9
    agent.locator("body").press(f"Alt+{position}")
    expect(agent.locator("#conv-title")).to_be_focused()
    expect(agent.locator("#transcript")).to_contain_text(ASK_FOR_A_PERSON)
    expect(agent.locator("#summary")).to_contain_text(PASSPORT)  # what the bot understood, named in Thai
    agent.get_by_label("สิ่งที่ผู้โทรถาม").press("t")
    expect(agent.get_by_label("สิ่งที่ผู้โทรถาม")).to_have_value("t")
    expect(agent.get_by_role("button", name="รับเรื่อง", exact=True)).to_be_visible()
    agent.get_by_label("สิ่งที่ผู้โทรถาม").fill("")

    # The colleague opens the same conversation while it still waits.
    queue_item(colleague, ASK_FOR_A_PERSON).click()
    expect(colleague.get_by_role("button", name="รับเรื่อง", exact=True)).to_be_enabled()

    agent.locator("#conv-title").press("t")
    reply_box = agent.get_by_label("ข้อความถึงประชาชน")
    expect(reply_box).to_be_enabled()
    expect(reply_box).to_be_focused()
    expect(agent.locator("#conv-state")).to_contain_text("คุณรับเรื่องนี้อยู่")

    # Taking it too: the server refuses, the page says so in Thai and shows who holds it now.
    colleague.get_by_role("button", name="รับเรื่อง", exact=True).click()
    expect(colleague.get_by_role("alert").filter(has_text=TAKEN_BY_OTHER)).to_be_visible()
    expect(colleague.locator("#conv-state")).to_contain_text("รับโดย สมศรี ตั้งใจ")
    expect(colleague.get_by_label("ข้อความถึงประชาชน")).to_be_disabled()

    # The agent writes (Shift+Enter is a new line, Enter sends); the citizen reads it under the agent's name.
    reply_box.fill("สวัสดีค่ะ ดิฉันสมศรีค่ะ")
    reply_box.press("Shift+Enter")
    reply_box.press_sequentially("มีอะไรให้ช่วยคะ")
    reply_box.press("Enter")
    expect(reply_box).to_have_value("")
    agent_bubble = citizen.locator("#log .msg-agent")
    expect(agent_bubble).to_have_count(1, timeout=LIVE_MS)
    expect(agent_bubble).to_contain_text("เจ้าหน้าที่ สมศรี ตั้งใจ")
    expect(agent_bubble).to_contain_text("สวัสดีค่ะ ดิฉันสมศรีค่ะ\nมีอะไรให้ช่วยคะ")
    expect(citizen.locator("#status-line")).to_have_text("เจ้าหน้าที่ สมศรี ตั้งใจ กำลังตอบ")

    # The citizen writes on: no bot answer, and the agent's page shows it live.
    bot_bubbles = citizen.locator("#log .msg-bot").count()
    follow_up = "ต่ออายุพาสปอร์ตต้องใช้เอกสารอะไรบ้างคะ"
    chat(citizen, follow_up)
    expect(citizen.locator("#log .msg-user").last).to_contain_text(follow_up)
    expect(citizen.locator("#log .msg-bot")).to_have_count(bot_bubbles)
    expect(agent.locator("#transcript .msg-citizen").last).to_contain_text(follow_up, timeout=LIVE_MS)

    # A reload keeps the conversation and shows nothing twice.
    citizen.reload()
    expect(citizen.locator("#log .msg-agent")).to_have_count(1)
    expect(citizen.locator("#status-line")).to_have_text("เจ้าหน้าที่ สมศรี ตั้งใจ กำลังตอบ")

    # Agent assist: what the bot would answer, for reading out on the phone.
    agent.locator("#transcript").press("/")
    assist_box = agent.get_by_label("สิ่งที่ผู้โทรถาม")
    expect(assist_box).to_be_focused()
    assist_box.fill("ทำพาสปอร์ตกี่บาท")
    assist_box.press("Enter")
    result = agent.locator("#assist-result")
    expect(result.locator(".understood")).to_contain_text("passport")
    expect(result.locator(".understood")).to_contain_text("%")
    expect(result.locator(".answer-text")).to_contain_text("บาท")
    expect(result.locator(".source a")).to_have_attribute("href", re.compile(r"^https?://"))
    if os.environ.get("SCREENSHOT") == "1":
        agent.mouse.move(0, 0)
        agent.screenshot(path=str(SCREENSHOT))
    # An alternative re-asks the same question about its service and topic.
    alternative = result.locator(".alternatives button").first
    expect(alternative).to_be_visible()
    with agent.expect_request("**/api/agent/assist") as asked:
        alternative.click()
    body = json.loads(asked.value.post_data or "{}")
    assert body["text"] == "ทำพาสปอร์ตกี่บาท" and body["service_id"] and body["topic"]
    expect(agent.locator("#assist-scope")).to_contain_text(body["service_id"])
    expect(result.locator(".understood")).to_contain_text(body["service_id"])

    # Back to the bot: the citizen is told, and the next question gets the bot's answer.
    agent.get_by_role("button", name="คืนให้ผู้ช่วยอัตโนมัติ").click()
    expect(agent.locator("#placeholder")).to_contain_text("คืนเรื่องให้ผู้ช่วยอัตโนมัติแล้ว")
    expect(queue_item(agent, follow_up)).to_have_count(0)
    expect(queue_item(colleague, follow_up)).to_have_count(0, timeout=LIVE_MS)
    expect(citizen.locator("#status-line")).to_have_text(RELEASED, timeout=LIVE_MS)
    chat(citizen, "ทำพาสปอร์ตกี่บาท")
    expect(citizen.locator("#log .msg-bot").last).to_contain_text(PASSPORT)
    assert citizen.locator("#log .msg-bot").count() > bot_bubbles
    expect(citizen.locator("#status-line")).to_be_hidden()
    for page in (agent, colleague, citizen):
        assert page.errors == []  # type: ignore[attr-defined]


def test_rating_buttons_send_the_payload_not_text(gateway: str, new_page: Callable[..., Page]) -> None:
    citizen = new_page(desk=False)
    citizen.goto(gateway + "/")
    chat(citizen, "ทำพาสปอร์ตกี่บาท")
    rating = citizen.get_by_role("group", name="คำตอบนี้ช่วยคุณได้ไหม")
    for _ in range(3):  # the bot may ask back first (which passport): the first choice, until an answer
        if rating.count():
            break
        before = citizen.locator("#log .msg-bot").count()
        citizen.locator("#quick button").first.click()
        expect(citizen.locator("#log .msg-bot")).not_to_have_count(before)
        expect(citizen.locator("#typing")).to_be_hidden()
    expect(rating.get_by_role("button", name="ช่วยได้", exact=True)).to_be_visible()
    expect(rating.get_by_role("button", name="ไม่ช่วย", exact=True)).to_be_visible()
    users, bots = citizen.locator("#log .msg-user").count(), citizen.locator("#log .msg-bot").count()
    sent: list[str] = []
    citizen.on("request", lambda r: sent.append(r.post_data or "") if r.url.endswith("/web/chat") else None)

    rating.get_by_role("button", name="ช่วยได้", exact=True).click()

    expect(citizen.locator("#log .msg-bot")).to_have_count(bots + 1)
    expect(citizen.locator("#log .msg-user")).to_have_count(users)  # the payload is never shown as typed
    assert sent and json.loads(sent[-1])["message"] == '/feedback{"value": "helpful"}'
    expect(citizen.locator("#log .feedback").last).to_contain_text("ช่วยได้")
    expect(citizen.locator("#log .feedback button")).to_have_count(0)


def test_out_of_hours_the_citizen_leaves_a_number_and_an_agent_calls_back(
    closed_gateway: str, new_page: Callable[..., Page], make_agent: Callable[[str], tuple[str, str, str]]
) -> None:
    citizen = new_page(desk=False)
    citizen.goto(closed_gateway + "/")
    chat(citizen, ASK_FOR_A_PERSON)
    form = citizen.get_by_role("form", name="ฝากชื่อและเบอร์ให้เจ้าหน้าที่โทรกลับ")
    expect(form).to_be_visible()
    expect(form).to_contain_text("เวลาทำการ")
    name = f"ทดสอบ {secrets.token_hex(2)}"

    # No consent: nothing is sent, the box says why.
    form.get_by_label("ชื่อ", exact=True).fill(name)
    form.get_by_label("เบอร์โทรศัพท์").fill("12345")
    form.get_by_role("button", name="ส่งคำขอให้โทรกลับ").click()
    consent = form.get_by_label("ยินยอมให้เจ้าหน้าที่โทรกลับ", exact=False)
    expect(consent).to_have_attribute("aria-invalid", "true")
    expect(form).to_contain_text("กรุณาทำเครื่องหมายยินยอม")
    expect(consent).to_be_focused()

    # A number that is no phone number: the server's 422, shown in Thai at the field.
    consent.check()
    form.get_by_role("button", name="ส่งคำขอให้โทรกลับ").click()
    phone = form.get_by_label("เบอร์โทรศัพท์")
    expect(phone).to_have_attribute("aria-invalid", "true")
    expect(form).to_contain_text("กรุณากรอกเบอร์โทรศัพท์ที่ถูกต้อง")
    expect(phone).to_be_focused()

    phone.fill("081 234 5678")
    form.get_by_role("button", name="ส่งคำขอให้โทรกลับ").click()
    expect(form).to_be_hidden()
    expect(citizen.locator("#log .notice").last).to_contain_text("ได้รับคำขอแล้ว")

    # An agent finds it among the callbacks and marks it done.
    username, password, _ = make_agent("วิไล โทรกลับ")
    agent = new_page()
    sign_in(agent, closed_gateway, username, password)
    agent.get_by_role("tab", name=re.compile("โทรกลับ")).click()
    request = agent.locator("#callback-list button", has_text=name)
    expect(request).to_have_count(1)
    request.click()
    expect(agent.locator("#callback-facts")).to_contain_text("+66812345678")
    agent.get_by_label("ผลการโทรกลับ").select_option("answered")
    agent.get_by_role("button", name="บันทึกว่าโทรกลับแล้ว").click()
    expect(request).to_have_count(0)


def hand_over(citizen: Page, base_url: str, question: str) -> None:
    """A new citizen asks a question, then for a person."""
    citizen.goto(base_url + "/")
    chat(citizen, question)
    chat(citizen, ASK_FOR_A_PERSON)
    expect(citizen.locator("#status-line")).to_contain_text("รอเจ้าหน้าที่ค่ะ")


def test_forward_to_a_colleague_then_close_with_an_outcome(
    gateway: str, new_page: Callable[..., Page], make_agent: Callable[[str], tuple[str, str, str]]
) -> None:
    first, second = make_agent("กมล ส่งต่อ"), make_agent("ชไม รับต่อ")
    agent, colleague = new_page(), new_page()
    sign_in(agent, gateway, first[0], first[1])
    sign_in(colleague, gateway, second[0], second[1])
    citizen = new_page(desk=False)
    question = f"เบี้ยยังชีพคนชรารับเดือนละกี่บาท {secrets.token_hex(2)}"
    hand_over(citizen, gateway, question)

    queue_item(agent, ASK_FOR_A_PERSON).filter(has_text="รอรับเรื่อง").first.click()
    agent.get_by_role("button", name="รับเรื่อง", exact=True).click()
    expect(agent.get_by_label("ข้อความถึงประชาชน")).to_be_enabled()
    agent.locator("#conv-title").press("f")
    dialog = agent.get_by_role("dialog", name="ส่งต่อให้เพื่อนร่วมงาน")
    expect(dialog).to_be_visible()
    dialog.get_by_label("ส่งถึง").select_option(second[0])
    dialog.get_by_role("button", name="ส่งต่อ").click()
    expect(dialog).to_be_hidden()
    expect(agent.locator("#conv-state")).to_contain_text("รับโดย ชไม รับต่อ")
    expect(agent.get_by_label("ข้อความถึงประชาชน")).to_be_disabled()

    # The colleague's queue shows it as theirs, live; they write and close it with an outcome.
    theirs = colleague.locator("#queue-list button[data-status=mine]")
    expect(theirs).to_have_count(1, timeout=LIVE_MS)
    theirs.click()
    colleague.get_by_label("ข้อความถึงประชาชน").fill("ชไมรับเรื่องต่อค่ะ")
    colleague.get_by_label("ข้อความถึงประชาชน").press("Enter")
    expect(citizen.locator("#log .msg-agent").last).to_contain_text("เจ้าหน้าที่ ชไม รับต่อ", timeout=LIVE_MS)
    colleague.locator("#conv-title").press("c")
    closing = colleague.get_by_role("dialog", name="ปิดเรื่อง")
    closing.get_by_label("แนะนำให้ติดต่อหน่วยงาน").check()
    closing.get_by_label("บันทึกเพิ่มเติม (ไม่บังคับ)").fill("แนะนำให้ติดต่อ อปท. ใกล้บ้าน")
    closing.get_by_role("button", name="ปิดเรื่อง").click()
    expect(closing).to_be_hidden()
    expect(colleague.locator("#placeholder")).to_contain_text("ปิดเรื่องแล้ว: แนะนำให้ติดต่อหน่วยงาน")
    expect(citizen.locator("#status-line")).to_have_text(RELEASED, timeout=LIVE_MS)
    expect(queue_item(agent, ASK_FOR_A_PERSON).filter(has_text="ชไม")).to_have_count(0, timeout=LIVE_MS)


def test_without_the_live_feeds_both_pages_still_update(
    gateway: str, new_page: Callable[..., Page], make_agent: Callable[[str], tuple[str, str, str]]
) -> None:
    """A proxy that cuts streams: the console polls the queue, the chat polls /web/updates."""
    username, password, _ = make_agent("พร ไม่มีสตรีม")
    agent = new_page()
    agent.route("**/api/agent/events", lambda route: route.abort("connectionreset"))
    agent.goto(gateway + "/agent/")
    agent.get_by_label("ชื่อผู้ใช้").fill(username)
    agent.get_by_label("รหัสผ่าน").fill(password)
    agent.get_by_label("รหัสผ่าน").press("Enter")
    expect(agent.locator("#connection")).to_have_attribute("data-state", "off")
    expect(agent.locator("#connection")).to_contain_text("กำลังเชื่อมต่อใหม่")

    citizen = new_page(desk=False)
    citizen.route("**/web/updates/stream**", lambda route: route.abort("connectionreset"))
    question = f"ต่อใบขับขี่ใช้อะไรบ้าง {secrets.token_hex(2)}"
    hand_over(citizen, gateway, question)

    item = agent.locator("#queue-list button[data-status=waiting]").filter(has_text=ASK_FOR_A_PERSON)
    expect(item.first).to_be_visible(timeout=LIVE_MS)
    item.first.click()
    agent.get_by_role("button", name="รับเรื่อง", exact=True).click()
    agent.get_by_label("ข้อความถึงประชาชน").fill("ข้อความผ่านการดึงข้อมูลเป็นระยะ")
    agent.get_by_label("ข้อความถึงประชาชน").press("Enter")
    expect(citizen.locator("#log .msg-agent")).to_contain_text("ข้อความผ่านการดึงข้อมูลเป็นระยะ", timeout=LIVE_MS)
    agent.get_by_role("button", name="คืนให้ผู้ช่วยอัตโนมัติ").click()
    expect(agent.locator("#placeholder")).to_contain_text("คืนเรื่องให้ผู้ช่วยอัตโนมัติแล้ว")


def test_sign_in_refusals_and_an_expired_token(
    gateway: str, new_page: Callable[..., Page], make_agent: Callable[[str], tuple[str, str, str]]
) -> None:
    username, password, display = make_agent("ประภา ระวัง")
    page = new_page()
    page.goto(gateway + "/agent/")
    expect(page.locator("html")).to_have_attribute("lang", "th")
    page.get_by_label("ชื่อผู้ใช้").fill(username)
    page.get_by_label("รหัสผ่าน").fill(password + "x")
    page.get_by_label("รหัสผ่าน").press("Enter")
    expect(page.get_by_role("alert")).to_have_text("ชื่อผู้ใช้หรือรหัสผ่านไม่ถูกต้อง")

    sign_in(page, gateway, username, password)
    expect(page.locator("#who-name")).to_have_text(display)
    # The token stops working (expired, signed out elsewhere): the next call goes back to sign-in.
    page.evaluate("sessionStorage.setItem('thgov-agent-token', 'not-a-token')")
    page.reload()
    expect(page.get_by_role("heading", name="เข้าสู่ระบบเจ้าหน้าที่")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('thgov-agent-token')") is None

    sign_in(page, gateway, username, password)
    page.get_by_role("button", name="ออกจากระบบ").click()
    expect(page.get_by_role("heading", name="เข้าสู่ระบบเจ้าหน้าที่")).to_be_visible()
    expect(page.locator("#signin-info")).to_have_text("ออกจากระบบแล้ว")


# ---- accessibility, the basics an axe run would check first -------------------------------------

UNNAMED = """() => {
  const text = n => (n ? n.textContent.replace(/\\s+/g, ' ').trim() : '');
  const byIds = ids => ids.split(/\\s+/).map(id => text(document.getElementById(id))).join(' ').trim();
  const name = el => (el.getAttribute('aria-labelledby') && byIds(el.getAttribute('aria-labelledby')))
    || (el.getAttribute('aria-label') || '').trim()
    || Array.from(el.labels || []).map(text).join(' ').trim()
    || (['BUTTON', 'A', 'SUMMARY'].includes(el.tagName) || /^(tab|button)$/.test(el.getAttribute('role'))
        ? text(el) : '')
    || (el.getAttribute('title') || '').trim();
  const controls = 'input:not([type=hidden]), select, textarea, button, a[href], summary, '
    + '[role=tab], [role=button]';
  const unnamed = Array.from(document.querySelectorAll(controls)).filter(el => !name(el))
    .map(el => el.outerHTML.slice(0, 100));
  const ids = Array.from(document.querySelectorAll('[id]')).map(el => el.id);
  const duplicated = ids.filter((id, i) => ids.indexOf(id) !== i);
  const refs = ['aria-labelledby', 'aria-describedby', 'aria-controls'];
  const dangling = Array.from(document.querySelectorAll(refs.map(attr => `[${attr}]`).join(', ')))
    .flatMap(el => refs
      .flatMap(attr => (el.getAttribute(attr) || '').split(/\\s+/).filter(Boolean))
      .filter(id => !document.getElementById(id)));
  return {unnamed, duplicated, dangling, lang: document.documentElement.lang};
}"""


def check_names(page: Page) -> None:
    found = page.evaluate(UNNAMED)
    assert found == {"unnamed": [], "duplicated": [], "dangling": [], "lang": "th"}


def test_console_and_chat_controls_are_labelled(
    gateway: str,
    closed_gateway: str,
    new_page: Callable[..., Page],
    make_agent: Callable[[str], tuple[str, str, str]],
) -> None:
    username, password, _ = make_agent("อรุณ ตรวจสอบ")
    agent = new_page()
    agent.goto(gateway + "/agent/")
    check_names(agent)  # the sign-in form
    sign_in(agent, gateway, username, password)
    for role in ("banner", "navigation", "main", "complementary"):
        expect(agent.get_by_role(role)).to_have_count(1)
    expect(agent.locator("#transcript")).to_have_attribute("aria-live", "polite")  # hidden until one is open
    expect(agent.locator("#announcer")).to_have_attribute("aria-live", "polite")
    agent.get_by_label("สิ่งที่ผู้โทรถาม").fill("ทำพาสปอร์ตกี่บาท")
    agent.get_by_role("button", name="ถาม", exact=True).click()
    expect(agent.locator("#assist-result .understood")).to_be_visible()
    # A desk screen of 1366x768: no sideways scrolling, the assist box on screen beside the queue.
    assert agent.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    box = agent.get_by_role("complementary").bounding_box()
    assert box is not None and box["x"] + box["width"] <= 1366 and box["x"] > 900
    agent.locator("#shortcuts summary").click()
    expect(agent.locator("#shortcuts")).to_contain_text("Alt")
    check_names(agent)  # the console, its dialogs and the assist result included

    citizen = new_page(desk=False)
    citizen.goto(closed_gateway + "/")
    chat(citizen, ASK_FOR_A_PERSON)
    expect(citizen.locator("#log form")).to_be_visible()
    check_names(citizen)  # the web chat with its callback form
