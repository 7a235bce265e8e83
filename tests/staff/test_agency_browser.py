"""The agency portal (/agency/) and the dashboard (/dashboard/) in Debian's Chromium, against the
real assistant (`rasa_url`) and its catalog (`stack_catalog`): an officer's edit is what the web chat
answers at once, another agency's record is refused politely, and the dashboard draws the turns the
analytics consumer counted (`make test` starts one with its stack; otherwise one is started here).

A gateway process of its own, on the staff database the consumer writes (staff_test_db_url());
accounts are made with `python -m staff.users`, as staff make them. `SCREENSHOT=1` also writes
docs/agency-portal.png and docs/dashboard.png.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from support import (
    free_port,
    make_staff_account,
    services_python,
    staff_test_db_url,
    start_process,
    stop_process,
)

pytestmark = pytest.mark.postgres

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCS = REPO_ROOT / "docs"
FIVE_YEARS = "ทำพาสปอร์ตเล่ม 5 ปีกี่บาท"
THAI_MONTHS = [
    "ม.ค.",
    "ก.พ.",
    "มี.ค.",
    "เม.ย.",
    "พ.ค.",
    "มิ.ย.",
    "ก.ค.",
    "ส.ค.",
    "ก.ย.",
    "ต.ค.",
    "พ.ย.",
    "ธ.ค.",
]
COUNTED_S = 90  # the consumer writes a turn within seconds; a busy machine gets more


# ---- the gateway, the analytics consumer, accounts --------------------------------------------------


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


@pytest.fixture(scope="module")
def consumer(rasa_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The analytics consumer of `rasa_url`'s stack (ANALYTICS_URL), or one started here for the
    stack the `rasa_url` fixture started (tracker database rasa_test)."""
    external = os.environ.get("ANALYTICS_URL", "").rstrip("/")
    if external and _answers(f"{external}/health"):
        yield
        return
    port = free_port()
    proc = start_process(
        [services_python(), "-m", "analytics"],
        f"http://127.0.0.1:{port}/health",
        env={
            "ANALYTICS_PORT": str(port),
            "TRACKER_DB_NAME": os.environ.get("TRACKER_DB_NAME") or "rasa_test",
            "STAFF_DB_URL": staff_test_db_url(),
            "PYTHONPATH": str(REPO_ROOT),
        },
        timeout=60,
        cwd=REPO_ROOT,
        log_path=tmp_path_factory.mktemp("portal-analytics") / "analytics.log",
    )
    try:
        yield
    finally:
        stop_process(proc)


@pytest.fixture(scope="module")
def portal(
    rasa_url: str,
    rasa_token: str,
    actions_url: str,
    stack_catalog: tuple[str, str],
    consumer: None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """Base URL of a gateway that edits the assistant's own catalog and reads the consumer's rows."""
    catalog_url, catalog_token = stack_catalog
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
            "RASA_URL": rasa_url,
            "RASA_TOKEN": rasa_token,
            "ACTION_ENDPOINT_URL": actions_url,
            "STAFF_DB_URL": staff_test_db_url(),
            "CATALOG_URL": catalog_url,
            "CATALOG_ADMIN_TOKEN": catalog_token,
            "OFFICE_HOURS_FILE": "",
        },
        timeout=60,
        cwd=REPO_ROOT,
        log_path=tmp_path_factory.mktemp("portal-gateway") / "gateway.log",
    )
    try:
        yield base_url
    finally:
        stop_process(proc)


@pytest.fixture(scope="module")
def make_staff() -> Callable[..., tuple[str, str]]:
    """make_staff(role, agency=None) -> (username, password): an account made as staff make one."""

    def make(role: str, agency: str | None = None) -> tuple[str, str]:
        return make_staff_account(staff_test_db_url(), role, prefix=f"portal-{role}", agency=agency)

    return make


def sign_in(page: Page, url: str, username: str, password: str) -> None:
    page.goto(url)
    page.get_by_label("ชื่อผู้ใช้").fill(username)
    page.get_by_label("รหัสผ่าน").fill(password)
    page.get_by_role("button", name="เข้าสู่ระบบ").click()
    expect(page.get_by_role("banner")).to_be_visible()


def chat(page: Page, text: str) -> None:
    """The citizen types and presses Enter; returns once the gateway has answered."""
    box = page.get_by_label("พิมพ์คำถามของคุณ")
    box.fill(text)
    box.press("Enter")
    expect(page.locator("#typing")).to_be_hidden()
    expect(page.locator("#error")).to_be_hidden()


def thai_day(iso: str) -> str:
    year, month, day = (int(part) for part in iso.split("-"))
    return f"{day} {THAI_MONTHS[month - 1]} {year + 543}"


def bangkok_today() -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(time.time() + 7 * 3600))


def canvas_drawn(page: Page, selector: str) -> bool:
    """Whether Chart.js drew on the canvas: some pixel is not transparent."""
    return page.locator(selector).evaluate(
        """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                  for (let i = 3; i < d.length; i += 4) { if (d[i] > 0) return true; }
                  return false; }"""
    )


def shot(page: Page, name: str, full_page: bool = False) -> None:
    if os.environ.get("SCREENSHOT") == "1":
        page.mouse.move(0, 0)
        page.screenshot(path=str(DOCS / name), full_page=full_page)


# ---- an officer's edit, live at once -----------------------------------------------------------------


def test_an_officer_changes_a_fee_and_the_chat_answers_with_it_at_once(
    portal: str, new_page: Callable[..., Page], make_staff: Callable[..., tuple[str, str]]
) -> None:
    username, password = make_staff("agency", "consular")
    officer = new_page()
    sign_in(officer, portal + "/agency/", username, password)
    expect(officer.locator("#who-role")).to_contain_text("consular")
    passport = officer.get_by_role("link", name="หนังสือเดินทาง (พาสปอร์ต)")
    expect(passport).to_be_visible()
    expect(officer.get_by_role("link", name=re.compile("ใบขับขี่"))).to_have_count(0)  # another agency's
    passport.click()
    expect(officer.get_by_role("heading", name="หนังสือเดินทาง (พาสปอร์ต)")).to_be_focused()

    fee = officer.get_by_role("group", name="ค่าธรรมเนียม 1", exact=True).get_by_label("จำนวนเงิน (บาท)")
    expect(fee).to_be_visible()
    old = fee.input_value()
    assert re.fullmatch(r"\d+", old), old
    versions_before = len(history(portal, officer))
    source = officer.get_by_label(re.compile("ลิงก์แหล่งที่มาของข้อมูล"))
    expect(source).to_have_value(re.compile(r"^https://"))
    expect(officer.locator(".source-now a")).to_have_attribute("href", re.compile(r"^https://"))
    save = officer.get_by_role("button", name="บันทึกการแก้ไข")
    try:
        # The source is required: the page says so at the field and sends nothing.
        kept_source = source.input_value()
        source.fill("")
        save.click()
        expect(source).to_have_attribute("aria-invalid", "true")
        expect(officer.locator("[data-field='source_url'] .field-error")).to_contain_text("แหล่งที่มา")
        expect(source).to_be_focused()
        source.fill(kept_source)

        # A negative amount: the server's 422, in Thai next to the amount.
        fee.fill("-500")
        save.click()
        expect(fee).to_have_attribute("aria-invalid", "true")
        expect(fee).to_be_focused()
        message = officer.locator("[data-field='fees.0.amount'] .field-error")
        expect(message).to_contain_text("ต้องไม่น้อยกว่า 0")
        assert message.get_attribute("id") in (fee.get_attribute("aria-describedby") or "")
        expect(officer.locator("#save-problems")).to_contain_text("ค่าธรรมเนียม · ข้อที่ 1 · จำนวนเงิน (บาท)")

        # The new fee: saved, said so with the new date, and the chat answers with it at once.
        fee.fill("1,234")
        save.click()
        status = officer.locator("#save-status")
        expect(status).to_contain_text("บันทึกแล้ว: ค่าธรรมเนียม")
        expect(status).to_contain_text("ปรับปรุงล่าสุด " + thai_day(bangkok_today()))
        expect(fee).not_to_have_attribute("aria-invalid", "true")
        expect(fee).to_have_value("1234")

        citizen = new_page(desk=False)
        citizen.goto(portal + "/")
        chat(citizen, FIVE_YEARS)
        expect(citizen.locator("#log .msg-bot").last).to_contain_text("1,234 บาท")
        officer.evaluate("window.scrollTo(0, 0)")  # the service, its tabs and the saved message
        shot(officer, "agency-portal.png")

        # The history says who changed what, before and after; restoring brings the old fee back.
        officer.get_by_role("tab", name="ประวัติการแก้ไข").click()
        newest = officer.locator("#history-list li").first
        expect(newest).to_contain_text(f"ฉบับที่ {versions_before + 1}")
        expect(newest).to_contain_text("แก้: ค่าธรรมเนียม")
        expect(newest).to_contain_text(username)
        newest.get_by_text("ดูค่าก่อนและหลัง").click()
        expect(newest.locator("td.before")).to_contain_text(f"{int(old):,} บาท")
        expect(newest.locator("td.after")).to_contain_text("1,234 บาท")
        officer.get_by_role("button", name=f"กู้คืนฉบับที่ {versions_before}").click()
        dialog = officer.get_by_role("dialog", name="กู้คืนข้อมูล")
        expect(dialog).to_contain_text(f"ฉบับที่ {versions_before}")
        dialog.get_by_role("button", name="กู้คืน", exact=True).click()
        expect(dialog).to_be_hidden()
        expect(officer.locator("#history-status")).to_contain_text(f"กู้คืนเป็นฉบับที่ {versions_before} แล้ว")
        expect(officer.locator("#history-list li").first).to_contain_text(f"กู้คืนจากฉบับที่ {versions_before}")
        officer.get_by_role("tab", name="ข้อมูลบริการ").click()
        expect(fee).to_have_value(old)
        chat(citizen, FIVE_YEARS)
        expect(citizen.locator("#log .msg-bot").last).to_contain_text(f"{int(old):,} บาท")
        for page in (officer, citizen):
            assert page.errors == []  # type: ignore[attr-defined]
    finally:
        restore_if_changed(portal, officer, versions_before)


def _token(page: Page) -> str:
    return page.evaluate("sessionStorage.getItem('thgov-staff-token')") or ""


def history(portal: str, page: Page) -> list[dict[str, Any]]:
    answer = httpx.get(
        f"{portal}/api/agency/services/passport/history",
        headers={"Authorization": f"Bearer {_token(page)}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["versions"]


def restore_if_changed(portal: str, page: Page, version: int) -> None:
    """A failed test leaves the passport as it found it (the assistant's catalog is shared)."""
    versions = history(portal, page)
    if versions and versions[-1]["version"] != version and versions[-1].get("restored_from") != version:
        httpx.post(
            f"{portal}/api/agency/services/passport/history/{version}/restore",
            headers={"Authorization": f"Bearer {_token(page)}"},
            timeout=30,
        )


def test_another_agencys_record_is_refused(
    portal: str, new_page: Callable[..., Page], make_staff: Callable[..., tuple[str, str]]
) -> None:
    username, password = make_staff("agency", "dlt")
    officer = new_page(desk=False)
    sign_in(officer, portal + "/agency/", username, password)
    expect(officer.get_by_role("link", name=re.compile("ใบขับขี่"))).not_to_have_count(0)
    expect(officer.get_by_role("link", name="หนังสือเดินทาง (พาสปอร์ต)")).to_have_count(0)
    officer.goto(portal + "/agency/#service/passport")
    notice = officer.get_by_role("alert").filter(has_text="บริการนี้เป็นของหน่วยงานอื่น")
    expect(notice).to_be_visible()
    expect(officer.locator("#record-form")).to_be_hidden()
    expect(officer.get_by_role("link", name="← บริการของฉัน")).to_be_visible()
    # The API refuses too, whatever a page might send.
    answer = httpx.patch(
        f"{portal}/api/agency/services/passport",
        json={"processing_time": "ภายใน 1 วัน"},
        headers={"Authorization": f"Bearer {_token(officer)}"},
        timeout=30,
    )
    assert answer.status_code == 403
    assert officer.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # a phone
    assert officer.errors == []  # type: ignore[attr-defined]


# ---- the dashboard ------------------------------------------------------------------------------------


def kpi(page: Page, label: str) -> int:
    text = page.locator(".kpi", has_text=label).locator(".kpi-value").inner_text()
    return int(text.replace(",", ""))


def test_the_dashboard_draws_the_turns_and_exports_them(
    portal: str, new_page: Callable[..., Page], make_staff: Callable[..., tuple[str, str]]
) -> None:
    username, password = make_staff("supervisor")
    board = new_page()
    sign_in(board, portal + "/dashboard/", username, password)
    expect(board.locator("#period-title")).to_contain_text(thai_day(bangkok_today()))
    expect(board.locator(".kpi")).not_to_have_count(0)
    before = kpi(board, "บทสนทนา")

    citizen = new_page(desk=False)
    citizen.goto(portal + "/")
    for question in ("ทำพาสปอร์ตต้องใช้เอกสารอะไรบ้าง", "ต่อภาษีรถยนต์ออนไลน์ได้ไหม", "ขอบคุณค่ะ"):
        chat(citizen, question)

    deadline = time.monotonic() + COUNTED_S
    while True:
        board.get_by_role("button", name="แสดงผล").click()
        expect(board.locator("#kpis")).to_have_attribute("aria-busy", "false")
        if kpi(board, "บทสนทนา") > before or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert kpi(board, "บทสนทนา") > before, "the new conversation was not counted"
    for chart in ("#chart-days", "#chart-services", "#chart-topics", "#chart-kinds"):
        expect(board.locator(chart)).to_be_visible()
        assert canvas_drawn(board, chart), chart
    assert board.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(board, "dashboard.png", full_page=True)  # the charts, the exports and the backlog
    board.locator("#chart-days-title + .chart-box + details summary").click()
    expect(board.locator("#table-days")).to_contain_text(thai_day(bangkok_today()))
    expect(board.locator("#table-services")).to_contain_text("หนังสือเดินทาง (พาสปอร์ต)")

    # CSV: the link downloads the day's lines, with the token (a plain link could not carry it).
    with board.expect_download() as download:
        board.get_by_role("link", name=re.compile("summary.csv")).click()
    assert re.fullmatch(
        r"summary-\d{4}-\d{2}-\d{2}-\d{4}-\d{2}-\d{2}\.csv", download.value.suggested_filename
    )
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows and rows[-1]["day"] == bangkok_today() and int(rows[-1]["turns"]) >= 3
    expect(board.locator("#export-status")).to_contain_text("ดาวน์โหลด summary-")

    # One agency: a supervisor narrows the view; the title says which.
    board.get_by_label("หน่วยงาน").select_option("dlt")
    expect(board.locator("#period-title")).to_contain_text("กรมการขนส่งทางบก")
    expect(board.locator("#kpis")).to_have_attribute("aria-busy", "false")
    expect(board.locator("#table-services")).not_to_contain_text("หนังสือเดินทาง")
    assert board.errors == [] and citizen.errors == []  # type: ignore[attr-defined]


def test_an_agency_sees_its_own_services_and_may_turn_its_backlog_into_examples(
    portal: str, new_page: Callable[..., Page], make_staff: Callable[..., tuple[str, str]]
) -> None:
    """The dashboard for an agency account: no agency selector, its own numbers, the backlog's
    button (what it starts is tested with training, tests/staff/test_agency_training_browser.py)."""
    username, password = make_staff("agency", "consular")
    board = new_page(desk=False)
    sign_in(board, portal + "/dashboard/", username, password)
    expect(board.locator("#agency-note")).to_contain_text("กรมการกงสุล")
    expect(board.get_by_label("หน่วยงาน")).to_be_hidden()
    expect(board.locator("#kpis")).to_have_attribute("aria-busy", "false")
    expect(board.get_by_role("link", name="พอร์ทัลหน่วยงาน")).to_be_visible()
    expect(board.locator("#backlog-status")).not_to_have_text("กำลังจัดกลุ่มคำถาม…")
    assert board.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert board.errors == []  # type: ignore[attr-defined]


def test_the_pages_controls_are_labelled(
    portal: str, new_page: Callable[..., Page], make_staff: Callable[..., tuple[str, str]]
) -> None:
    """Every control has a name, ids are unique, ARIA references resolve, lang is th: on each view."""
    from test_console_browser import check_names

    username, password = make_staff("admin")
    page = new_page()
    page.goto(portal + "/agency/")
    check_names(page)  # the sign-in form
    sign_in(page, portal + "/agency/", username, password)
    expect(page.locator("#service-list a")).not_to_have_count(0)
    check_names(page)
    page.goto(portal + "/agency/#service/passport")
    expect(page.get_by_role("group", name="ค่าธรรมเนียม 1", exact=True)).to_be_visible()
    check_names(page)  # the record's form, every field
    page.get_by_role("tab", name="ข้อมูลบริการ").press("ArrowRight")  # the tabs move by arrow keys
    expect(page.get_by_role("tab", name="ประวัติการแก้ไข")).to_be_focused()
    expect(page.locator("#history-list li")).not_to_have_count(0)
    check_names(page)
    page.goto(portal + "/agency/#candidates")
    expect(page.get_by_role("heading", name="ตัวอย่างคำถามและโมเดลทดลอง")).to_be_focused()
    check_names(page)

    page.goto(portal + "/dashboard/")
    expect(page.locator("#kpis")).to_have_attribute("aria-busy", "false")
    expect(page.locator("#backlog-status")).not_to_have_text("กำลังจัดกลุ่มคำถาม…")
    check_names(page)
    teach = page.get_by_role("button", name="สร้างตัวอย่างคำถาม")
    if teach.count():  # the backlog has a group: its form too
        teach.first.click()
        expect(page.get_by_role("dialog")).to_be_visible()
        check_names(page)
        page.keyboard.press("Escape")
        expect(page.get_by_role("dialog")).to_be_hidden()
    assert page.errors == []  # type: ignore[attr-defined]


def test_faq_entries_are_listed_added_and_edited(
    portal: str, new_page: Callable[..., Page], make_staff: Callable[..., tuple[str, str]]
) -> None:
    """The FAQ tab against the shape of staff/api/faq.py (`/api/agency/services/{id}/faq`), answered
    here by the browser's router: the page's side of it, without starting a candidate model (a new
    entry does) on the shared stack's trainer."""
    entries: list[dict[str, Any]] = [
        {"id": "passport-a1b2c3", "service": "passport", "topic": "documents",
         "question": "ทำพาสปอร์ตให้เด็กต้องใช้อะไร", "variants": ["พาสปอร์ตเด็กใช้เอกสารอะไร"],
         "answer": "ใช้สูติบัตรและบัตรประชาชนของบิดามารดาค่ะ", "source_url": "https://www.consular.go.th",
         "updated": "2026-11-01"},
    ]  # fmt: skip
    calls: list[tuple[str, dict[str, Any] | None]] = []

    def answer(route: Any) -> None:
        request = route.request
        body = json.loads(request.post_data) if request.post_data else None
        calls.append((request.method, body))
        if request.method == "GET":
            route.fulfill(json={"items": entries})
        elif request.method == "POST":
            entry = {"id": "passport-d4e5f6", "service": "passport", "updated": bangkok_today(), **body}
            entries.append(entry)
            route.fulfill(status=201, json={"entry": entry, "candidate": "c20261201000000-abcdef"})
        else:
            entries[0] = {**entries[0], **body}
            route.fulfill(json={"entry": entries[0], "candidate": None})

    username, password = make_staff("agency", "consular")
    officer = new_page()
    officer.route(re.compile(r".*/api/agency/services/passport/faq(/[a-z0-9-]+)?$"), answer)
    sign_in(officer, portal + "/agency/#service/passport/faq", username, password)
    tab = officer.get_by_role("tab", name="คำถามที่พบบ่อย")
    expect(tab).to_be_visible()
    tab.click()
    expect(officer.locator("#faq-list li")).to_have_count(1)
    expect(officer.locator("#faq-list")).to_contain_text("ทำพาสปอร์ตให้เด็กต้องใช้อะไร")
    expect(officer.locator("#faq-list")).to_contain_text("หรือ: พาสปอร์ตเด็กใช้เอกสารอะไร")

    form = officer.get_by_role("form", name="เพิ่มคำถามที่พบบ่อย")
    officer.get_by_label("คำถาม", exact=True).fill("ทำพาสปอร์ตที่ต่างจังหวัดได้ไหม")
    officer.get_by_label("ถามแบบอื่นได้อีก (บรรทัดละหนึ่งแบบ ไม่บังคับ)").fill("ต่างจังหวัดทำพาสได้ไหม\n")
    officer.get_by_label("คำตอบ").fill("ทำได้ที่สำนักงานหนังสือเดินทางชั่วคราวในหลายจังหวัดค่ะ")
    officer.get_by_label("หัวข้อ").select_option("channels")
    expect(officer.get_by_label(re.compile("ลิงก์แหล่งที่มา \\(ต้องมี"))).to_have_value(re.compile("^https://"))
    form.get_by_role("button", name="บันทึกคำถาม").click()
    expect(officer.locator("#faq-status")).to_contain_text("บันทึกคำถามที่พบบ่อยแล้ว")
    expect(officer.locator("#faq-status a")).to_have_attribute("href", "#candidate/c20261201000000-abcdef")
    expect(officer.locator("#faq-list li")).to_have_count(2)
    _, body = next(c for c in calls if c[0] == "POST")
    assert body is not None and body["variants"] == ["ต่างจังหวัดทำพาสได้ไหม"] and body["topic"] == "channels"

    # Editing sends only what changed.
    officer.get_by_role("button", name="แก้ไขคำถาม ทำพาสปอร์ตให้เด็กต้องใช้อะไร").click()
    expect(officer.get_by_label("คำตอบ")).to_have_value("ใช้สูติบัตรและบัตรประชาชนของบิดามารดาค่ะ")
    officer.get_by_label("คำตอบ").fill("ใช้สูติบัตรของเด็กและบัตรประชาชนของบิดามารดาค่ะ")
    officer.get_by_role("button", name="บันทึกคำถาม").click()
    expect(officer.locator("#faq-list")).to_contain_text("ใช้สูติบัตรของเด็ก")
    assert [c for c in calls if c[0] == "PATCH"] == [
        ("PATCH", {"answer": "ใช้สูติบัตรของเด็กและบัตรประชาชนของบิดามารดาค่ะ"})
    ]
    assert officer.errors == []  # type: ignore[attr-defined]
