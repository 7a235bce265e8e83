"""An agency edits its services' FAQ entries over HTTP (staff/api/faq.py): the gateway app with its
lifespan against a real catalog process (`catalog_url`), accounts signed in with their passwords.

The entries changed here are the passport's and the vehicle tax's in `catalog_url`'s catalog; each
test puts back what it changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from support import TEST_CATALOG_ADMIN_TOKEN

from staff.api.faq import FaqAdmin

pytestmark = pytest.mark.postgres

MakeAccount = Callable[..., tuple[str, str]]
Headers = dict[str, str]
SignIn = Callable[..., Headers]
Sql = Callable[..., list[dict[str, Any]]]
ENTRY = "/api/agency/services/vehicle-tax/faq/vehicle-tax-late"


@pytest.fixture(scope="module")
def catalog(client: TestClient, catalog_url: str) -> Iterator[str]:
    """The gateway's FAQ client pointed at `catalog_url` for this module (the app is the session's)."""
    before = client.app.state.faq_admin
    client.app.state.faq_admin = FaqAdmin(catalog_url, TEST_CATALOG_ADMIN_TOKEN)
    try:
        yield catalog_url
    finally:
        assert client.portal is not None
        client.portal.call(client.app.state.faq_admin.aclose)
        client.app.state.faq_admin = before


@pytest.fixture
def sign_in(client: TestClient, make_account: MakeAccount) -> Callable[..., Headers]:
    """sign_in(role, agency=None) -> the headers of a new account, signed in with its password."""

    def make(role: str, agency: str | None = None) -> Headers:
        username, password = make_account(role, agency)
        answer = client.post("/api/auth/login", json={"username": username, "password": password})
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['token']}"}

    return make


def live(catalog_url: str, service_id: str, faq_id: str) -> dict[str, Any]:
    return httpx.get(f"{catalog_url}/services/{service_id}/faq/{faq_id}", timeout=10).json()


def test_only_the_services_agency_or_an_admin(
    client: TestClient, catalog: str, sign_in: SignIn
) -> None:
    dlt, consular, admin = sign_in("agency", "dlt"), sign_in("agency", "consular"), sign_in("admin")
    assert client.get("/api/agency/services/vehicle-tax/faq", headers=dlt).status_code == 200
    assert client.get("/api/agency/services/vehicle-tax/faq", headers=admin).status_code == 200
    items = client.get("/api/agency/services/vehicle-tax/faq", headers=dlt).json()["items"]
    assert "vehicle-tax-late" in {e["id"] for e in items}
    # Another agency reads and writes nothing of the DLT's services.
    assert client.get("/api/agency/services/vehicle-tax/faq", headers=consular).status_code == 403
    assert client.patch(ENTRY, json={"answer": "ไม่โดนค่ะ"}, headers=consular).status_code == 403
    new = {"topic": "fee", "question": "ต่อภาษีรถต้องจ่ายเท่าไหร่", "answer": "ตามประเภทรถค่ะ",
           "variants": [], "source_url": "https://www.dlt.go.th"}  # fmt: skip
    assert client.post("/api/agency/services/vehicle-tax/faq", json=new, headers=consular).status_code == 403
    assert live(catalog, "vehicle-tax", "vehicle-tax-late")["answer"].startswith("โดนค่ะ")
    # A call-centre agent, nobody.
    assert client.get("/api/agency/services/vehicle-tax/faq", headers=sign_in("agent")).status_code == 403
    assert client.get("/api/agency/services/vehicle-tax/faq").status_code == 401
    assert client.get("/api/agency/services/no-such/faq", headers=admin).status_code == 404
    nothing = "/api/agency/services/vehicle-tax/faq/nothing"
    assert client.patch(nothing, json={}, headers=dlt).status_code == 404


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"answer": "Yes, you will be fined."}, "answer"),
        ({"source_url": "http://www.dlt.go.th"}, "source_url"),
        ({"topic": "fines"}, "topic"),
        ({"variants": ["late tax"]}, "variants.0"),
        ({"question": ""}, "question"),
    ],
)
def test_invalid_edits_are_422_with_the_field(
    client: TestClient, catalog: str, sign_in: SignIn, fields: dict[str, Any], field: str
) -> None:
    before = live(catalog, "vehicle-tax", "vehicle-tax-late")
    answer = client.patch(ENTRY, json=fields, headers=sign_in("agency", "dlt"))
    assert answer.status_code == 422, answer.text
    errors = answer.json()["errors"]
    assert [e["field"] for e in errors] == [field]
    assert all(e["message"] for e in errors)
    assert live(catalog, "vehicle-tax", "vehicle-tax-late") == before


def test_a_body_that_is_no_object_is_422(client: TestClient, catalog: str, sign_in: SignIn) -> None:
    dlt = sign_in("agency", "dlt")
    for body in (b"[1, 2]", b"not json"):
        answer = client.patch(ENTRY, content=body, headers={**dlt, "Content-Type": "application/json"})
        assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "(entry)"
    bad_new = client.post("/api/agency/services/vehicle-tax/faq", json={"question": "hello"}, headers=dlt)
    assert bad_new.status_code == 422
    assert {e["field"] for e in bad_new.json()["errors"]} >= {"question", "topic", "answer", "source_url"}


def test_an_edited_answer_is_live_at_once_and_needs_no_model(
    client: TestClient, catalog: str, sign_in: SignIn, sql: Sql
) -> None:
    dlt = sign_in("agency", "dlt")
    before = live(catalog, "vehicle-tax", "vehicle-tax-late")
    answer = "โดนค่ะ ชำระล่าช้าเสียเงินเพิ่มร้อยละ 1 ต่อเดือน (ทดสอบการแก้ไข)"
    try:
        edited = client.patch(ENTRY, json={"answer": answer}, headers=dlt)
        assert edited.status_code == 200, edited.text
        assert edited.json()["entry"]["answer"] == answer and edited.json()["candidate"] is None
        # The catalog serves it now: the answer action reads the entry there on every answer.
        assert live(catalog, "vehicle-tax", "vehicle-tax-late")["answer"] == answer
        rows = sql("SELECT detail FROM staff_audit WHERE action = 'faq_edit' AND target = 'vehicle-tax'"
                   " ORDER BY id DESC LIMIT 1")  # fmt: skip
        assert "answer" in rows[0]["detail"]["changed"] and rows[0]["detail"]["candidate"] is None
    finally:
        client.patch(ENTRY, json={"answer": before["answer"], "updated": before["updated"]}, headers=dlt)
    assert live(catalog, "vehicle-tax", "vehicle-tax-late")["answer"] == before["answer"]


def test_new_questions_start_a_candidate_model(
    client: TestClient, catalog: str, sign_in: SignIn, sql: Sql
) -> None:
    consular = sign_in("agency", "consular")
    new = {
        "topic": "channels",
        "question": "พาสปอร์ตหายตอนอยู่ต่างประเทศต้องทำยังไง",
        "variants": ["ทำพาสหายที่ญี่ปุ่น ทำไงดีคะ", "หนังสือเดินทางหายในต่างแดนติดต่อใคร"],
        "answer": "ติดต่อสถานเอกอัครราชทูตหรือสถานกงสุลใหญ่ไทยในประเทศนั้นค่ะ",
        "source_url": "https://consular.mfa.go.th",
    }
    made = client.post("/api/agency/services/passport/faq", json=new, headers=consular)
    assert made.status_code == 201, made.text
    entry, candidate = made.json()["entry"], made.json()["candidate"]
    assert entry["id"].startswith("passport-") and entry["service"] == "passport" and candidate
    assert live(catalog, "passport", entry["id"])["question"] == new["question"]
    queued = sql("SELECT faq_entries FROM model_candidate WHERE id = %s", candidate)
    assert [e["id"] for e in queued[0]["faq_entries"]] == [entry["id"]]
    # New variants need a model too; an answer alone did not (above).
    path = f"/api/agency/services/passport/faq/{entry['id']}"
    edited = client.patch(path, json={"variants": [*new["variants"], "พาสหายตอนเที่ยวเกาหลี"]}, headers=consular)
    assert edited.status_code == 200 and edited.json()["candidate"] not in (None, candidate)
