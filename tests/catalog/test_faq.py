"""FAQ entries in the catalog (catalog/faq.py): the seed files, the public routes and the admin
routes, on the app in this process over a throwaway SQLite database; and the real catalog
process (`catalog_url`) serving them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

httpx = pytest.importorskip("httpx", reason="catalog tests run in the services env")
pytest.importorskip("sqlalchemy", minversion="2", reason="catalog tests run in the services env")

from fastapi import FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from catalog.faq import FaqInvalid, FaqStore, faq_router, load_faq_seeds, validate_entry  # noqa: E402
from catalog.faq_training import FAQ_DIR  # noqa: E402
from catalog.models import SEED_DIR, load_seeds  # noqa: E402
from catalog.store import CatalogStore  # noqa: E402
from contract.replies import TOPICS  # noqa: E402

TOKEN = "faq-test-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
SEEDS = {record.id: record for record in load_seeds(SEED_DIR)}
ENTRIES = load_faq_seeds(FAQ_DIR)
# How a yes/no answer may begin: the yes or the no (ได้/ไม่ได้, ต้อง/ไม่ต้อง, เสีย/ไม่เสีย...),
# or the condition it turns on when it is neither (ขึ้นกับ..., ถ้า..., บาง...).
YES_NO_LEADS = ("ได้", "ไม่ได้", "ต้อง", "ไม่ต้อง", "ไม่เสีย", "เสีย", "โดน", "ถูก", "ควร", "ยัง",
                "ขึ้นกับ", "ถ้า", "บาง", "ใช้ถ้ามี", "ไม่ได้ค่ะ")  # fmt: skip
YES_NO_QUESTION = re.compile(r"(ไหม|มั้ย|หรือเปล่า|ป่าว|ไหมคะ|ไหมครับ)$")
# Entries whose figures come from the agency page they cite rather than from the record (the
# Department of Land Transport's rule on how long a licence may have expired before a test).
FROM_THEIR_PAGE = {"driving-licence-renewal-expired-retest"}


def numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in re.findall(r"\d[\d,]*(?:\.\d+)?", text)}


def record_numbers(service_id: str) -> set[str]:
    return numbers(SEEDS[service_id].model_dump_json())


def test_every_service_has_two_to_four_entries_with_four_to_eight_variants() -> None:
    by_service: dict[str, list[Any]] = {}
    for entry in ENTRIES:
        by_service.setdefault(entry.service, []).append(entry)
    assert set(by_service) == set(SEEDS)
    for service, entries in by_service.items():
        assert 2 <= len(entries) <= 4, service
        for entry in entries:
            assert 4 <= len(entry.variants) <= 8, entry.id
            assert entry.id.startswith(f"{service}-"), entry.id
            assert entry.topic in TOPICS


def test_answers_are_short_polite_and_yes_or_no_first() -> None:
    for entry in ENTRIES:
        assert len(entry.answer) <= 300, entry.id
        assert entry.answer.endswith("ค่ะ"), entry.id
        if YES_NO_QUESTION.search(entry.question):
            assert entry.answer.startswith(YES_NO_LEADS), entry.id


def test_every_figure_of_an_answer_is_the_records() -> None:
    for entry in ENTRIES:
        if entry.id in FROM_THEIR_PAGE:
            continue
        missing = numbers(entry.answer) - record_numbers(entry.service)
        assert not missing, f"{entry.id}: {missing} not in catalog/seed/{entry.service}.json"


def test_sources_are_secure_agency_pages_dated_as_their_records() -> None:
    for entry in ENTRIES:
        assert re.match(r"https://[^/]+\.(go|or)\.th(/|$)", entry.source_url), entry.id
        # The facts are the record's (or its agency's page) as of the record's date.
        assert entry.updated == SEEDS[entry.service].updated, entry.id


def test_invalid_entries_are_refused_with_thai_field_errors() -> None:
    good = ENTRIES[0].document()
    cases = {
        "question": {**good, "question": "Do I need to pay?"},
        "source_url": {**good, "source_url": "http://www.dopa.go.th"},
        "topic": {**good, "topic": "price"},
        "answer": {**good, "answer": ""},
        "variants.0": {**good, "variants": ["hello"]},
        "colour": {**good, "colour": "red"},
    }
    for field, document in cases.items():
        with pytest.raises(FaqInvalid) as caught:
            validate_entry(document)
        assert [e["field"] for e in caught.value.errors] == [field], field
        assert re.search("[ก-๙]", caught.value.errors[0]["message"]), field


# -- the routes, in this process --------------------------------------------------------------------------
@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[tuple[TestClient, CatalogStore]]:
    store = CatalogStore.from_url(f"sqlite:///{tmp_path / 'catalog.db'}")
    store.create_schema()
    store.seed(SEEDS.values())
    app = FastAPI()
    app.include_router(faq_router(store, TOKEN))
    with TestClient(app) as client:
        yield client, store


def test_a_services_entries_and_one_entry_are_public(catalog: tuple[TestClient, CatalogStore]) -> None:
    client, _ = catalog
    listing = client.get("/services/driving-licence-renewal/faq")
    assert listing.status_code == 200
    ids = [e["id"] for e in listing.json()["items"]]
    assert "driving-licence-renewal-expired-retest" in ids and listing.json()["total"] == len(ids)
    entry = client.get("/services/driving-licence-renewal/faq/driving-licence-renewal-expired-retest")
    assert entry.status_code == 200
    assert entry.json()["answer"].startswith("ขึ้นกับ") and entry.json()["updated"] == "2026-11-01"
    assert entry.headers["content-type"].startswith("application/json")
    assert client.get("/services/no-such-service/faq").status_code == 404
    assert client.get("/services/passport/faq/driving-licence-renewal-expired-retest").status_code == 404
    assert client.get("/services/passport/faq/nothing").status_code == 404


def test_writes_need_the_admin_token(catalog: tuple[TestClient, CatalogStore]) -> None:
    client, _ = catalog
    path = "/admin/services/passport/faq/passport-queue"
    body = {"by": "x", "fields": {"answer": "ได้ค่ะ"}}
    assert client.patch(path, json=body).status_code == 401
    assert client.patch(path, json=body, headers={"Authorization": "Bearer nope"}).status_code == 401
    off = FastAPI()
    off.include_router(faq_router(catalog[1], "", seed_dir=None))
    with TestClient(off) as client_off:
        assert client_off.patch(path, json={"by": "x", "fields": {}}, headers=ADMIN).status_code == 503


def test_an_edited_answer_is_served_at_once_and_survives_the_seeds(
    catalog: tuple[TestClient, CatalogStore],
) -> None:
    client, store = catalog
    path = "/services/passport/faq/passport-queue"
    answer = "ต้องจองคิวค่ะ จองได้ที่ https://www.qpassport.in.th แล้วไปตามวันนัดค่ะ"
    def patch(fields: dict[str, Any]) -> Any:
        return client.patch(f"/admin{path}", json={"by": "somchai", "fields": fields}, headers=ADMIN)

    edited = patch({"answer": answer})
    assert edited.status_code == 200, edited.text
    assert edited.json()["answer"] == answer and edited.json()["id"] == "passport-queue"
    assert client.get(path).json()["answer"] == answer
    # The catalog starts again: the seed file does not take the agency's answer back.
    assert FaqStore(store.engine).seed(ENTRIES) == 0
    assert client.get(path).json()["answer"] == answer
    refused = patch({"id": "other"})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "id"
    bad = patch({"source_url": "ftp://x"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "source_url"


def test_a_new_entry(catalog: tuple[TestClient, CatalogStore]) -> None:
    client, _ = catalog
    entry = {
        "id": "passport-lost-abroad-test",
        "topic": "channels",
        "question": "พาสปอร์ตหายตอนอยู่ต่างประเทศต้องทำยังไง",
        "variants": ["ทำพาสหายที่ญี่ปุ่น ทำไงดีคะ"],
        "answer": "ติดต่อสถานเอกอัครราชทูตหรือสถานกงสุลใหญ่ไทยในประเทศนั้นค่ะ",
        "source_url": "https://consular.mfa.go.th",
    }

    def post(service: str, entry: dict[str, Any]) -> Any:
        body = {"by": "somchai", "entry": entry}
        return client.post(f"/admin/services/{service}/faq", json=body, headers=ADMIN)

    made = post("passport", entry)
    assert made.status_code == 201, made.text
    assert made.json()["service"] == "passport" and made.json()["updated"]
    assert client.get(f"/services/passport/faq/{entry['id']}").json()["question"] == entry["question"]
    again = post("passport", entry)
    assert again.status_code == 409
    bad = post("passport", {**entry, "id": "x2", "topic": "weather"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "topic"
    nowhere = post("nothing", entry)
    assert nowhere.status_code == 404


# -- the real catalog process ---------------------------------------------------------------------------
def test_the_catalog_serves_its_faq(catalog_url: str) -> None:
    listing = httpx.get(f"{catalog_url}/services/vehicle-tax/faq", timeout=10)
    assert listing.status_code == 200
    assert {e["id"] for e in listing.json()["items"]} >= {"vehicle-tax-late", "vehicle-tax-online"}
    entry = httpx.get(f"{catalog_url}/services/vehicle-tax/faq/vehicle-tax-late", timeout=10).json()
    assert entry["answer"].startswith("โดนค่ะ") and entry["topic"] == "penalty"
