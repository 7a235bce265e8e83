"""Teaching the assistant from the pages, in Debian's Chromium, on a stack of its own (about 10 minutes):
an agency officer adds example questions for a way of asking the live model does not understand,
watches the candidate model train and pass the gate (staff/candidates, docs/agency.md), deploys it,
and the web chat then understands a variant that none of the examples has. Then the dashboard's
backlog turns a group of unanswered questions into examples, and a candidate starts.

catalog, action server, model server, Rasa, gateway, analytics consumer and trainer are started by
scripts/stack on free ports, with their own run folder and databases: deploying here changes no other
stack's model. The questions are written for this test (none from the evaluation's data).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from playwright.sync_api import Page, expect
from support import free_port, make_staff_account
from test_agency_browser import chat, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.needs_model, pytest.mark.postgres]

REPO = Path(__file__).resolve().parents[2]
STACK = REPO / "scripts" / "stack"
MODEL = REPO / "models" / "thai-eservice.tar.gz"
STAFF_DB = "staff_test_teach"
TRACKER_DB = "rasa_test_teach"
RASA_TOKEN = "teach-test-rasa-token"
REST_TOKEN = "teach-test-rest-token"
DERIVED = ("CATALOG_URL", "ACTION_ENDPOINT_URL", "RASA_URL", "MODEL_SERVER_URL", "RUN_DIR", "MODELS_PORT",
           "STACK_ENDPOINTS", "ANALYTICS_URL", "RABBITMQ_EXCHANGE", "RABBITMQ_QUEUE")  # fmt: skip
# Training, the regression set and cross-validation on a busy machine; loading the model in Rasa.
CANDIDATE_S = 1800
DEPLOY_S = 900

# "The blood-red book": what people call the passport by its cover. No training example, synonym or
# catalog text has it, and the live model does not take it for the passport.
NEW_PHRASING = [
    "ทำเล่มเลือดหมูต้องใช้เอกสารอะไรบ้าง",
    "เล่มสีเลือดหมูหมดอายุ ต้องเตรียมเอกสารอะไรไป",
    "ขอทำเล่มเลือดหมูใหม่ใช้เอกสารอะไร",
    "เล่มเลือดหมูของลูกต้องใช้เอกสารอะไรบ้างคะ",
    "ต่อเล่มเลือดหมูต้องเอาอะไรไปบ้าง",
    "เล่มสีเลือดหมูทำครั้งแรกต้องเตรียมเอกสารอะไร",
]
UNSEEN_VARIANT = "อยากได้เล่มเลือดหมูเล่มใหม่ ต้องเตรียมเอกสารอะไรคะ"
# Two ways of asking for something the assistant has no record of (a visa, an embassy's business):
# out of scope for the live model.
UNANSWERED = ["อยากขอวีซ่าไปเที่ยวญี่ปุ่นต้องยื่นที่ไหน", "ยื่นวีซ่าท่องเที่ยวญี่ปุ่นทำยังไงบ้าง"]


def _db_url(name: str) -> str:
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


def _drop(name: str) -> None:
    with psycopg.connect(_db_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Stack:
    env: dict[str, str]
    run_dir: Path
    gateway: str

    def make_staff(self, role: str, agency: str | None = None) -> tuple[str, str]:
        db_url = self.env["STAFF_DB_URL"]
        return make_staff_account(db_url, role, prefix=f"teach-{role}", agency=agency, env=self.env)

    def envelope(self, text: str) -> dict[str, Any]:
        message = {"sender": secrets.token_hex(16), "message": text}
        answer = httpx.post(f"{self.gateway}/web/chat", json=message, timeout=60)
        assert answer.status_code == 200, answer.text
        return answer.json()["envelope"]

    def trainer_log(self) -> str:
        path = self.run_dir / "trainer.log"
        return path.read_text(encoding="utf-8", errors="replace")[-3000:] if path.exists() else ""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not MODEL.exists():
        pytest.skip(f"no trained model at {MODEL}: make train")
    run_dir = tmp_path_factory.mktemp("teach-stack")
    names = ("CATALOG_PORT", "ACTIONS_PORT", "RASA_PORT", "GATEWAY_PORT", "MODELS_PORT", "ANALYTICS_PORT")
    ports = {name: str(free_port()) for name in names}
    env = {k: v for k, v in os.environ.items() if k not in DERIVED}
    env.update(ports, RUN_DIR=str(run_dir), TRACKER_DB_NAME=TRACKER_DB, STAFF_DB_URL=_db_url(STAFF_DB),
               RASA_TOKEN=RASA_TOKEN, REST_TOKEN=REST_TOKEN, STACK_TIMEOUT="600", STACK_STORES="servers",
               OFFICE_HOURS_FILE="", LINE_CHANNEL_SECRET="", LINE_CHANNEL_ACCESS_TOKEN="")  # fmt: skip
    env.pop("CATALOG_ADMIN_TOKEN", None)  # one of its own, made in the run folder
    _drop(STAFF_DB)
    services = ["catalog", "actions", "models", "rasa", "gateway", "analytics", "trainer"]
    try:
        up = subprocess.run([str(STACK), "up", *services], cwd=REPO, env=env, capture_output=True, text=True)
        if up.returncode != 0:
            raise RuntimeError(f"scripts/stack up failed ({run_dir}):\n{up.stdout}\n{up.stderr}")
        yield Stack(env, run_dir, f"http://127.0.0.1:{ports['GATEWAY_PORT']}")
    finally:
        subprocess.run([str(STACK), "down"], cwd=REPO, env=env, capture_output=True, text=True)
        _drop(STAFF_DB)


def watch_candidate(page: Page, stack: Stack) -> list[tuple[str, int]]:
    """The candidate's page until it has passed or failed: the (status, progress %) it showed."""
    seen: list[tuple[str, int]] = []
    deadline = time.monotonic() + CANDIDATE_S
    while time.monotonic() < deadline:
        status = page.locator("#candidate-status").inner_text()
        progress = int(page.locator("#candidate-progress").get_attribute("value") or 0)
        if status and (not seen or seen[-1] != (status, progress)):
            seen.append((status, progress))
        if status in ("ผ่านการทดสอบ", "ไม่ผ่านการทดสอบ"):
            return seen
        time.sleep(3)
    raise AssertionError(f"the candidate did not finish in {CANDIDATE_S}s: {seen}\n{stack.trainer_log()}")


def test_an_officer_teaches_a_new_phrasing_watches_it_pass_and_deploys_it(
    stack: Stack, new_page: Callable[..., Page]
) -> None:
    # The live model does not know the phrasing (it answers out of scope, or asks back).
    assert stack.envelope(UNSEEN_VARIANT).get("service_id") != "passport"
    username, password = stack.make_staff("agency", "consular")
    officer = new_page()
    sign_in(officer, stack.gateway + "/agency/#service/passport/examples", username, password)
    expect(officer.get_by_role("tab", name="ตัวอย่างคำถาม")).to_have_attribute("aria-selected", "true")
    officer.get_by_label("ถามเรื่อง").select_option(label="เอกสารที่ต้องใช้")
    officer.get_by_label("ตัวอย่างคำถาม (บรรทัดละหนึ่งคำถาม)").fill("\n".join(NEW_PHRASING))
    with officer.expect_request("**/api/agency/examples") as sent:
        officer.get_by_role("button", name="ส่งตัวอย่างและเริ่มทดสอบ").click()
    body = json.loads(sent.value.post_data or "{}")
    assert body == {"service_id": "passport", "topic": "documents", "texts": NEW_PHRASING}

    # The candidate's page: its examples, its progress live, the deploy button off until it passes.
    expect(officer).to_have_url(re.compile(r"#candidate/c\d{14}-[0-9a-f]{6}$"))
    expect(officer.get_by_role("heading", name="โมเดลทดลอง", exact=True)).to_be_visible()
    expect(officer.locator("#candidate-examples li")).to_have_count(len(NEW_PHRASING))
    expect(officer.locator("#candidate-examples")).to_contain_text("หนังสือเดินทาง (พาสปอร์ต) · เอกสารที่ต้องใช้")
    deploy = officer.get_by_role("button", name="นำขึ้นใช้งาน")
    expect(deploy).to_be_disabled()
    seen = watch_candidate(officer, stack)
    statuses = [s for s, _ in seen]
    assert statuses[-1] == "ผ่านการทดสอบ", f"{seen}\n{officer.locator('#candidate-body').inner_text()}"
    assert "กำลังฝึกโมเดล" in statuses and "กำลังทดสอบ" in statuses, seen
    progress = [p for _, p in seen]
    assert progress == sorted(progress) and progress[-1] == 100, seen

    # The report in plain Thai: the verdict, before and after per service, what changed.
    expect(officer.locator("#candidate-verdict")).to_contain_text("ผ่าน: โมเดลทดลองตอบชุดคำถามทดสอบได้ไม่แย่ลง")
    expect(officer.locator("#candidate-report")).to_contain_text("ผลทดสอบกับชุดคำถามเดิม ก่อนและหลัง")
    expect(officer.locator("#candidate-report")).to_contain_text("คำถามที่ตอบต่างไปจากเดิม")
    expect(officer.locator("#candidate-report table.per-service tr")).not_to_have_count(0)
    expect(deploy).to_be_enabled()

    deploy.click()
    expect(officer.locator("#candidate-deploy-status")).to_contain_text(
        "นำขึ้นใช้งานแล้ว", timeout=DEPLOY_S * 1000
    )
    expect(officer.locator("#candidate-status")).to_have_text("ใช้งานจริงแล้ว")
    expect(officer.get_by_role("button", name="ใช้งานจริงแล้ว")).to_be_disabled()

    # The web chat understands a way of asking that none of the examples has.
    citizen = new_page(desk=False)
    citizen.goto(stack.gateway + "/")
    with citizen.expect_response("**/web/chat") as answered:
        chat(citizen, UNSEEN_VARIANT)
    envelope = answered.value.json()["envelope"]
    assert (envelope.get("service_id"), envelope.get("topic")) == ("passport", "documents"), envelope
    expect(citizen.locator("#log .msg-bot").last).to_contain_text("หนังสือเดินทาง")
    for page in (officer, citizen):
        assert page.errors == []  # type: ignore[attr-defined]


def test_the_backlog_turns_a_group_into_examples(stack: Stack, new_page: Callable[..., Page]) -> None:
    citizen = new_page(desk=False)
    citizen.goto(stack.gateway + "/")
    for question in UNANSWERED:
        chat(citizen, question)
    username, password = stack.make_staff("admin")
    board = new_page()
    sign_in(board, stack.gateway + "/dashboard/", username, password)

    # The consumer counts the turns within seconds; the backlog groups them.
    group = board.locator("#backlog-list li.cluster").filter(has_text=re.compile("วีซ่า"))
    deadline = time.monotonic() + 90
    while not group.count() and time.monotonic() < deadline:
        time.sleep(2)
        board.get_by_role("button", name="แสดงผล").click()
        expect(board.locator("#backlog-status")).not_to_have_text("กำลังจัดกลุ่มคำถาม…")
    expect(group.first).to_be_visible()
    group.first.get_by_role("button", name="สร้างตัวอย่างคำถาม").click()

    dialog = board.get_by_role("dialog", name="สร้างตัวอย่างคำถามจากกลุ่มนี้")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("บริการ", exact=True)).to_be_focused()
    dialog.get_by_role("button", name="เริ่มฝึกโมเดลทดลอง").click()  # no service chosen yet
    expect(dialog.get_by_role("alert")).to_contain_text("กรุณาเลือกบริการ")
    # The officer decides these belong with the passport's overview (where its answer can point on).
    dialog.get_by_label("บริการ", exact=True).select_option("passport")
    dialog.get_by_label("หัวข้อ").select_option("overview")
    texts = [
        t for t in dialog.locator("#example-lines input[type=text]").evaluate_all("l => l.map(i => i.value)")
    ]
    assert set(texts) & set(UNANSWERED), texts
    dialog.get_by_role("button", name="+ เพิ่มคำถาม").click()
    extra = "ขอวีซ่าต้องมีพาสปอร์ตก่อนไหม"
    board.keyboard.type(extra)
    with board.expect_request("**/api/agency/examples") as sent:
        dialog.get_by_role("button", name="เริ่มฝึกโมเดลทดลอง").click()
    body = json.loads(sent.value.post_data or "{}")
    assert body["service_id"] == "passport" and body["topic"] == "overview"
    assert body["texts"] == [*texts, extra]
    expect(dialog).to_be_hidden()

    # The candidate has started: the group says so and leads to its page on the agency portal.
    status = group.first.locator(".cluster-status")
    expect(status).to_contain_text("เริ่มฝึกโมเดลทดลองแล้ว")
    status.get_by_role("link", name="ดูความคืบหน้า").click()
    expect(board).to_have_url(re.compile(r"/agency/#candidate/c\d{14}-[0-9a-f]{6}$"))
    expect(board.locator("#candidate-status")).to_have_text(re.compile("รอคิว|กำลังฝึกโมเดล|กำลังทดสอบ"))
    expect(board.locator("#candidate-examples li")).to_have_count(len(body["texts"]))
    expect(board.get_by_role("button", name="นำขึ้นใช้งาน")).to_be_disabled()
    assert board.errors == [] and citizen.errors == []  # type: ignore[attr-defined]
