"""Example questions and candidate models over HTTP (../shared/spec/staff-api.md, "Agency API"), and the
worker's queue and conflict check, on the staff test database; no Rasa, no training.

The gateway's catalog client is pointed at a real seeded catalog (`catalog_url`), whose records name
their agency as `competent_authority.id` (vehicle-tax and the driving licences: dlt). The questions
are written for these tests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.rows import dict_row
from support import free_port

from staff.candidates import worker
from staff.candidates.trainingdata import read_examples

pytestmark = pytest.mark.postgres

Sql = Callable[..., list[dict[str, Any]]]
Headers = dict[str, str]
REPO = Path(__file__).resolve().parents[2]


@contextmanager
def catalog_of_the_candidates(client: TestClient, url: str) -> Iterator[None]:
    before = client.app.state.candidates_catalog
    client.app.state.candidates_catalog = httpx.AsyncClient(base_url=url, timeout=10.0)
    try:
        yield
    finally:
        assert client.portal is not None
        client.portal.call(client.app.state.candidates_catalog.aclose)
        client.app.state.candidates_catalog = before


@pytest.fixture(scope="module")
def catalog(client: TestClient, catalog_url: str) -> Iterator[str]:
    with catalog_of_the_candidates(client, catalog_url):
        yield catalog_url


@pytest.fixture
def sign_in(client: TestClient, make_account: Callable[..., tuple[str, str]]) -> Callable[..., Headers]:
    def make(role: str, agency: str | None = None) -> Headers:
        username, password = make_account(role, agency)
        answer = client.post("/api/auth/login", json={"username": username, "password": password})
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['token']}"}

    return make


@pytest.fixture(autouse=True)
def no_jobs_left(sql: Sql) -> Iterator[None]:
    """No worker trains what these tests queue (none runs on this database; and none should)."""
    yield
    sql("DELETE FROM candidate_job")


def add(client: TestClient, headers: Headers, **body: Any) -> httpx.Response:
    payload = {"service_id": "vehicle-tax", "topic": "fee", "texts": ["ต่อภาษีรถกระบะเก่าสิบปีจ่ายกี่บาท"]}
    return client.post("/api/agency/examples", json={**payload, **body}, headers=headers)


def test_an_agency_adds_examples_and_a_candidate_is_queued(
    client: TestClient, catalog: str, sign_in: Callable[..., Headers], sql: Sql
) -> None:
    dlt = sign_in("agency", "dlt")
    texts = ["ต่อภาษีรถกระบะเก่าสิบปีจ่ายกี่บาท", "รถตู้อายุเจ็ดปีภาษีประจำปีเท่าไร"]
    answer = add(client, dlt, texts=texts)
    assert answer.status_code == 202, answer.text
    candidate_id = answer.json()["candidate"]
    shown = client.get(f"/api/agency/candidates/{candidate_id}", headers=dlt)
    assert shown.status_code == 200
    body = shown.json()
    assert (body["status"], body["progress"], body["agency"]) == ("queued", 0.0, "dlt")
    assert {"before", "after", "changed", "conflicts"} <= set(body["report"])
    assert [e["text"] for e in body["examples"]] == texts
    assert sql("SELECT candidate_id FROM candidate_job WHERE candidate_id = %s", candidate_id)
    audit = sql("SELECT action, target FROM staff_audit WHERE detail->>'candidate' = %s", candidate_id)
    assert audit == [{"action": "candidate_examples", "target": "vehicle-tax"}]


def test_only_agencies_and_admins_add_examples_and_an_agency_only_for_its_services(
    client: TestClient, catalog: str, sign_in: Callable[..., Headers]
) -> None:
    assert add(client, {}).status_code == 401
    assert add(client, sign_in("agent")).status_code == 403
    assert add(client, sign_in("agency", "consular")).status_code == 403
    assert add(client, sign_in("admin")).status_code == 202
    assert add(client, sign_in("agency", "consular"), service_id="passport").status_code == 202


def test_invalid_examples_are_422_with_the_fields(
    client: TestClient, catalog: str, sign_in: Callable[..., Headers]
) -> None:
    dlt = sign_in("agency", "dlt")
    for body, field in [
        ({"topic": "weather"}, "topic"),
        ({"texts": []}, "texts"),
        ({"texts": ["ok question", "  "]}, "texts[1]"),
        ({"service_id": "no-such-service"}, "service_id"),
    ]:
        answer = add(client, dlt, **body)
        assert answer.status_code == 422, (body, answer.text)
        assert field in [e["field"] for e in answer.json()["errors"]]


def test_candidates_are_listed_newest_first_and_only_to_their_agency(
    client: TestClient, catalog: str, sign_in: Callable[..., Headers]
) -> None:
    dlt, consular, admin = sign_in("agency", "dlt"), sign_in("agency", "consular"), sign_in("admin")
    first = add(client, dlt).json()["candidate"]
    time.sleep(0.01)
    second = add(client, dlt, topic="channels").json()["candidate"]
    listed = [c["id"] for c in client.get("/api/agency/candidates", headers=dlt).json()["candidates"]]
    assert listed.index(second) < listed.index(first)
    def ids(headers: Headers) -> list[str]:
        return [c["id"] for c in client.get("/api/agency/candidates", headers=headers).json()["candidates"]]

    assert first not in ids(consular) and first in ids(admin)
    assert client.get(f"/api/agency/candidates/{first}", headers=consular).status_code == 403
    assert client.get(f"/api/agency/candidates/{first}", headers=admin).status_code == 200
    assert client.get("/api/agency/candidates/c-none", headers=dlt).status_code == 404


def test_a_candidate_that_has_not_passed_is_not_deployed(
    client: TestClient, catalog: str, sign_in: Callable[..., Headers]
) -> None:
    dlt = sign_in("agency", "dlt")
    candidate_id = add(client, dlt).json()["candidate"]
    answer = client.post(f"/api/agency/candidates/{candidate_id}/deploy", headers=dlt)
    assert answer.status_code == 409
    agent = sign_in("agent")
    assert client.post(f"/api/agency/candidates/{candidate_id}/deploy", headers=agent).status_code == 403


# -- the worker ------------------------------------------------------------------------------------------
@pytest.fixture
def worker_db(staff_db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(staff_db_url, autocommit=True, row_factory=dict_row) as conn:
        yield conn


def test_examples_that_contradict_the_training_data_fail_untrained(
    client: TestClient, catalog: str, sign_in: Callable[..., Headers], worker_db: psycopg.Connection,
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    monkeypatch.setenv("RUN_DIR", str(tmp_path))
    monkeypatch.setenv("CATALOG_URL", catalog)
    # Questions about vehicle tax from the training data, labelled as a new driving licence.
    data = read_examples(REPO / "data")
    tax = [e.text for e in data if e.service == "vehicle-tax" and e.source == "tax.yml" and len(e.text) > 20]
    taken = tax[:3]
    dlt = sign_in("agency", "dlt")
    answer = add(client, dlt, service_id="driving-licence-new", topic="fee",
                 texts=[*taken, "สอบใบขับขี่รถยนต์ครั้งแรกที่ขนส่งต้องจองคิวล่วงหน้านานไหม"])
    candidate_id = answer.json()["candidate"]
    started = time.monotonic()
    worker.Job(worker_db, candidate_id).run()
    assert time.monotonic() - started < 60
    body = client.get(f"/api/agency/candidates/{candidate_id}", headers=dlt).json()
    assert (body["status"], body["step"], body["progress"]) == ("failed", "conflicts", 1.0)
    conflicts = body["report"]["conflicts"]
    assert {c["text"] for c in conflicts} == set(taken)
    assert {c["conflicts_with"] for c in conflicts} == {"vehicle-tax"}
    assert all(c["service_id"] == "driving-licence-new" for c in conflicts)
    assert not (tmp_path / "candidates" / candidate_id / "model.tar.gz").exists()
    # The candidate's data were prepared as the project's: its examples in Rasa's format.
    written = read_examples(tmp_path / "candidates" / candidate_id / "data")
    assert any(e.source == worker.CANDIDATE_FILE and e.service == "driving-licence-new" for e in written)
    assert client.post(f"/api/agency/candidates/{candidate_id}/deploy", headers=dlt).status_code == 409


def test_two_workers_never_take_the_same_job(
    client: TestClient, catalog: str, sign_in: Callable[..., Headers], staff_db_url: str,
    monkeypatch: pytest.MonkeyPatch, sql: Sql,
) -> None:
    sql("DELETE FROM candidate_job")
    dlt = sign_in("agency", "dlt")
    ids = [add(client, dlt).json()["candidate"] for _ in range(2)]
    taken: list[str] = []
    holding = threading.Event()
    release = threading.Event()

    def run(self: worker.Job) -> None:
        taken.append(self.id)
        if len(taken) == 1:
            holding.set()
            release.wait(10)

    monkeypatch.setattr(worker.Job, "run", run)

    def one_worker() -> None:
        with psycopg.connect(staff_db_url) as jobs, psycopg.connect(staff_db_url, autocommit=True) as db:
            worker.take_and_run(jobs, db)

    first = threading.Thread(target=one_worker)
    first.start()
    assert holding.wait(10)
    one_worker()  # the second worker skips the locked job and takes the next one
    release.set()
    first.join(10)
    assert sorted(taken) == sorted(ids)
    assert sql("SELECT * FROM candidate_job") == []


@pytest.fixture(scope="module")
def catalog_with_a_new_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A catalog whose records include one the repository does not have: a new service of dlt."""
    import json
    import shutil

    from support import catalog_command, start_process, stop_process

    seeds = tmp_path_factory.mktemp("seeds")
    for path in (REPO / "catalog" / "seed").glob("*.json"):
        shutil.copy(path, seeds)
    record = json.loads((REPO / "catalog" / "seed" / "vehicle-tax.json").read_text(encoding="utf-8"))
    record.update(id="vehicle-transfer", name={"th": "โอนกรรมสิทธิ์รถ", "en": "Vehicle ownership transfer"},
                  synonyms=["โอนรถ", "โอนรถมือสอง", "โอนเล่มทะเบียนรถ"],
                  description="ผู้ซื้อและผู้ขายรถแจ้งโอนกรรมสิทธิ์รถที่สำนักงานขนส่ง")
    (seeds / "vehicle-transfer.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    port = free_port()
    workdir = tmp_path_factory.mktemp("catalog-new-service")
    proc = start_process(
        catalog_command(port, f"sqlite:///{workdir / 'catalog.db'}", "--seed-dir", str(seeds)),
        f"http://127.0.0.1:{port}/health", log_path=workdir / "catalog.log",
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(proc)


def test_a_new_service_is_learnt_from_its_record_and_examples_with_no_code(
    client: TestClient, catalog_with_a_new_service: str, sign_in: Callable[..., Headers],
    worker_db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    monkeypatch.setenv("RUN_DIR", str(tmp_path))
    monkeypatch.setenv("CATALOG_URL", catalog_with_a_new_service)
    texts = ["ซื้อรถมือสองต่อจากเพื่อน ต้องไปโอนที่ขนส่งไหน", "โอนรถให้ลูกต้องเตรียมอะไรบ้าง"]
    with catalog_of_the_candidates(client, catalog_with_a_new_service):
        answer = add(client, sign_in("agency", "dlt"), service_id="vehicle-transfer", topic="documents",
                     texts=texts)
    assert answer.status_code == 202, answer.text
    job = worker.Job(worker_db, answer.json()["candidate"])
    examples = [{"service_id": "vehicle-transfer", "topic": "documents", "text": t} for t in texts]
    data = job.prepare_data(examples, [])
    lexicon = (data / "nlu" / "lexicon.yml").read_text(encoding="utf-8")
    assert "lookup: service:vehicle-transfer" in lexicon and "โอนรถมือสอง" in lexicon
    assert job.report["lexicon"] == "catalog (31 services)"
    written = [e for e in read_examples(data) if e.service == "vehicle-transfer"]
    assert {e.text for e in written} >= set(texts)
    assert job.conflicts(data, examples, []) == []
    # Cross-validation's "before": the same data without the candidate's examples.
    before = job.before_data(data, [])
    assert not (before / "nlu" / worker.CANDIDATE_FILE).exists()
    assert (before / "nlu" / "lexicon.yml").read_text(encoding="utf-8") == lexicon
