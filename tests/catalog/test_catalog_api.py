"""The catalog over HTTP: a real `python -m catalog` process on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx", reason="catalog tests run in the services env")
sqlalchemy = pytest.importorskip("sqlalchemy", minversion="2", reason="catalog tests run in the services env")

from support import catalog_command, free_port, start_process, stop_process  # noqa: E402

from catalog.models import SEED_DIR, load_seeds  # noqa: E402
from catalog.store import normalize_url  # noqa: E402

POSTGRES_ADMIN_URL = os.environ.get("CATALOG_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
SEEDS = {record.id: record for record in load_seeds(SEED_DIR)}


@dataclass(frozen=True)
class Server:
    url: str
    database_url: str


@contextmanager
def _run_catalog(workdir: Path, database_url: str, *extra: str) -> Iterator[Server]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_process(
        catalog_command(port, database_url, *extra), f"{url}/health", log_path=workdir / "catalog.log"
    )
    try:
        yield Server(url, database_url)
    finally:
        stop_process(proc)


@contextmanager
def _postgres_database() -> Iterator[str]:
    psycopg = pytest.importorskip("psycopg")
    admin_url = normalize_url(POSTGRES_ADMIN_URL).replace("postgresql+psycopg://", "postgresql://")
    try:
        admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {str(exc).strip()}")
    # A fresh database per run, so parallel runs and leftovers from a crashed run cannot interfere.
    name = f"catalog_test_{uuid.uuid4().hex[:8]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            base = admin_url.rsplit("/", 1)[0]
            yield f"postgresql+psycopg://{base.split('://', 1)[1]}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp(f"catalog-{request.param}")
    if request.param == "sqlite":
        with _run_catalog(workdir, f"sqlite:///{workdir / 'catalog.db'}") as started:
            yield started
    else:
        with _postgres_database() as database_url, _run_catalog(workdir, database_url) as started:
            yield started


def get(server: Server, path: str, **params: object) -> httpx.Response:
    return httpx.get(f"{server.url}{path}", params=params, timeout=10)


def test_health_counts_every_seed(server: Server) -> None:
    response = get(server, "/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "services": len(SEEDS)}


def test_metadata(server: Server) -> None:
    body = get(server, "/").json()
    assert body["name"] and body["publisher"]


def test_records_are_rows(server: Server) -> None:
    engine = sqlalchemy.create_engine(normalize_url(server.database_url))
    try:
        with engine.connect() as conn:
            rows = conn.execute(sqlalchemy.text("SELECT id, category, name_th FROM catalog_service")).all()
    finally:
        engine.dispose()
    assert {row.id: (row.category, row.name_th) for row in rows} == {
        r.id: (r.category, r.name.th) for r in SEEDS.values()
    }


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("เบี้ยคนแก่", "elderly-allowance"),  # colloquial synonym
        ("ผู้สูงอาย", "elderly-allowance"),  # typo, found as a substring
        ("บัตรทอง", "gold-card"),
        ("ม.39", "social-security-39"),
        ("ม 40", "social-security-40"),
        ("UNEMPLOYMENT", "unemployment-benefit"),  # English, any case
        ("กยศ", "student-loan"),
        ("ค่าเล่าเรียน", "student-loan"),  # words of the description only
    ],
)
def test_search_by_thai_text(server: Server, q: str, expected: str) -> None:
    response = get(server, "/services", q=q)
    assert response.status_code == 200
    body = response.json()
    ids = [item["id"] for item in body["items"]]
    assert expected in ids
    assert body["total"] == len(ids)


def test_search_item_shape(server: Server) -> None:
    item = get(server, "/services", q="เบี้ยยังชีพผู้สูงอายุ").json()["items"][0]
    assert set(item) == {"id", "category", "name", "competent_authority", "source_url", "updated"}
    assert item["name"]["th"] == "เบี้ยยังชีพผู้สูงอายุ"
    assert item["source_url"] == "https://www.dla.go.th"
    assert item["updated"] == "2026-11-01"


def test_search_ranks_own_name_first(server: Server) -> None:
    items = get(server, "/services", q="บัตรประจำตัวคนพิการ").json()["items"]
    assert items[0]["id"] == "disability-card"


def test_search_wildcards_are_literal(server: Server) -> None:
    assert get(server, "/services", q="%").json() == {"items": [], "total": 0}
    assert get(server, "/services", q="_").json()["total"] == 0


def test_filter_by_category(server: Server) -> None:
    body = get(server, "/services", category="welfare", limit=200).json()
    welfare = {r.id for r in SEEDS.values() if r.category == "welfare"}
    assert {item["id"] for item in body["items"]} == welfare
    assert body["total"] == len(welfare)


def test_filter_combines_with_search(server: Server) -> None:
    body = get(server, "/services", q="ประกันสังคม", category="welfare").json()
    assert {"social-security-39", "social-security-40", "unemployment-benefit"} <= {
        item["id"] for item in body["items"]
    }
    assert all(item["category"] == "welfare" for item in body["items"])
    assert get(server, "/services", q="ประกันสังคม", category="tax").json()["total"] == 0


def test_filter_by_agency(server: Server) -> None:
    body = get(server, "/services", agency="สำนักงานประกันสังคม").json()
    assert {item["id"] for item in body["items"]} == {
        r.id for r in SEEDS.values() if "สำนักงานประกันสังคม" in r.competent_authority.name_th
    }


def test_limit_cuts_items_not_total(server: Server) -> None:
    body = get(server, "/services", limit=2).json()
    assert len(body["items"]) == 2
    assert body["total"] == len(SEEDS)
    assert get(server, "/services", limit=0).status_code == 422


def test_full_record(server: Server) -> None:
    response = get(server, "/services/elderly-allowance")
    assert response.status_code == 200
    assert response.json() == SEEDS["elderly-allowance"].document()
    # Thai travels as UTF-8, not \u escapes.
    assert "เบี้ยยังชีพผู้สูงอายุ".encode() in response.content
    assert "utf-8" in response.headers["content-type"].lower()


def test_every_seed_is_served_unchanged(server: Server) -> None:
    for service_id, record in SEEDS.items():
        assert get(server, f"/services/{service_id}").json() == record.document(), service_id


def test_unknown_id_is_404(server: Server) -> None:
    response = get(server, "/services/no-such-service")
    assert response.status_code == 404
    assert "no-such-service" in response.json()["detail"]


def test_openapi_docs(server: Server) -> None:
    assert get(server, "/docs").status_code == 200
    assert "/services/{service_id}" in get(server, "/openapi.json").json()["paths"]


def test_catalog_url_fixture(catalog_url: str) -> None:
    assert httpx.get(f"{catalog_url}/health", timeout=10).json()["status"] == "ok"


def test_no_seed_starts_empty(tmp_path: Path) -> None:
    with _run_catalog(tmp_path, f"sqlite:///{tmp_path / 'empty.db'}", "--no-seed") as started:
        assert get(started, "/health").json() == {"status": "ok", "services": 0}
        assert get(started, "/services").json() == {"items": [], "total": 0}


def test_access_log_masks_personal_data(tmp_path: Path) -> None:
    with _run_catalog(tmp_path, f"sqlite:///{tmp_path / 'log.db'}", "--no-seed") as started:
        get(started, "/services", q="1234567890123 somchai@example.com", category="welfare")
        get(started, "/services/0812345678")
    log = (tmp_path / "catalog.log").read_text(encoding="utf-8")
    assert "/services?q=***&category=welfare" in log
    for secret in ("1234567890123", "somchai", "0812345678"):
        assert secret not in log
