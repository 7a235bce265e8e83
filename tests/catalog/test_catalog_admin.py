"""The catalog's admin API (the gateway's way to agencies' edits) and the ETag of a record, over
HTTP against real `python -m catalog` processes: validated edits, history, restore, the token,
the review flag, and edits kept over a restart with the seeds loaded again."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

httpx = pytest.importorskip("httpx", reason="catalog tests run in the services env")
pytest.importorskip("sqlalchemy", minversion="2", reason="catalog tests run in the services env")

from support import catalog_command, free_port, start_process, stop_process  # noqa: E402

from catalog.models import SEED_DIR  # noqa: E402
from catalog.store import merge_patch, review_due  # noqa: E402

TOKEN = "admin-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PASSPORT_FEES = json.loads((SEED_DIR / "passport.json").read_text(encoding="utf-8"))["fees"]


def bangkok_today() -> str:
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=7)).date().isoformat()


@contextmanager
def running_catalog(
    workdir: Path, *extra: str, token: str = TOKEN, database: Path | None = None
) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_process(
        catalog_command(port, f"sqlite:///{database or workdir / 'catalog.db'}", *extra),
        f"{url}/health",
        env={"CATALOG_ADMIN_TOKEN": token},
        log_path=workdir / f"catalog-{port}.log",
    )
    try:
        yield url
    finally:
        stop_process(proc)


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[str]:
    """A catalog of its own for each test: edits do not leak into the next one."""
    with running_catalog(tmp_path) as url:
        yield url


@pytest.fixture(scope="module")
def unchanged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One catalog for the tests whose every write is refused (each checks that nothing changed)."""
    with running_catalog(tmp_path_factory.mktemp("unchanged")) as url:
        yield url


def edit(url: str, service_id: str, fields: dict[str, Any], **extra: Any) -> httpx.Response:
    return httpx.patch(
        f"{url}/admin/services/{service_id}",
        json={"by": "dlt-editor", "fields": fields, **extra},
        headers=AUTH,
        timeout=10,
    )


def history(url: str, service_id: str, **params: Any) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{url}/admin/services/{service_id}/history", params=params, headers=AUTH, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()["versions"]


def restore(url: str, service_id: str, version: int, **extra: Any) -> httpx.Response:
    return httpx.post(
        f"{url}/admin/services/{service_id}/history/{version}/restore",
        json={"by": "dlt-editor", **extra},
        headers=AUTH,
        timeout=10,
    )


def errors_of(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    return {error["field"]: error["message"] for error in response.json()["errors"]}


# -- edits ----------------------------------------------------------------------------------------------
def test_an_edit_goes_live_dated_today_with_a_new_etag(catalog: str) -> None:
    before = httpx.get(f"{catalog}/services/passport", timeout=10)
    fees = [{**PASSPORT_FEES[0], "amount": 1234}, PASSPORT_FEES[1]]
    response = edit(catalog, "passport", {"fees": fees})
    assert response.status_code == 200, response.text
    record = response.json()["record"]
    assert (response.json()["version"], response.json()["changed"]) == (2, ["fees"])
    assert record["fees"][0]["amount"] == 1234 and record["fees"][1] == PASSPORT_FEES[1]
    assert record["updated"] == bangkok_today()
    assert record["source_url"] == before.json()["source_url"]  # kept
    live = httpx.get(f"{catalog}/services/passport", timeout=10)
    assert live.json() == record
    assert live.headers["etag"] == response.headers["etag"] != before.headers["etag"]


def test_an_edit_merges_objects_and_replaces_lists(catalog: str) -> None:
    seed = httpx.get(f"{catalog}/services/passport", timeout=10).json()
    record = edit(catalog, "passport", {"contact": {"hotline": "1111"}, "steps": ["จองคิวออนไลน์"]}).json()[
        "record"
    ]
    assert record["contact"] == {**seed["contact"], "hotline": "1111"}  # the website stays
    assert record["steps"] == ["จองคิวออนไลน์"]
    assert [v["changed"] for v in history(catalog, "passport")] == [[], ["steps", "contact"]]


def test_a_new_source_url_may_be_given(catalog: str) -> None:
    record = edit(catalog, "passport", {"source_url": "https://www.consular.go.th/passport"}).json()["record"]
    assert record["source_url"] == "https://www.consular.go.th/passport"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"fees": [{"item": "เล่มอายุ 5 ปี", "amount": -1}]}, "fees.0.amount", "ต้องไม่น้อยกว่า 0"),
        ({"fees": [{"item": "เล่มอายุ 5 ปี", "amount": "1000"}]}, "fees.0.amount", "ต้องเป็นตัวเลข"),
        ({"fees": [{"item": "เล่มอายุ 5 ปี", "amount": 100_000_000}]}, "fees.0.amount", "ต้องไม่เกิน 10,000,000"),
        ({"fees": [{"item": "5-year book", "amount": 1000}]}, "fees.0.item", "ภาษาไทย"),
        (
            {"fees": [{"item": "เล่ม", "amount": 1, "applies_to": {"colour": "red"}}]},
            "fees.0.applies_to.colour",
            "",
        ),
        (
            {"fees": [{"item": "เล่ม", "amount": 1, "applies_to": {"age_min": 60, "age_max": 20}}]},
            "fees.0.applies_to",
            "age_min",
        ),
        (
            {"benefits": [{"item": "เงิน", "amount": 600, "applies_to": {"vehicle": "bus"}}]},
            "benefits.0.applies_to.vehicle",
            "car",
        ),
        ({"source_url": None}, "source_url", "ต้องมี"),
        ({"source_url": ""}, "source_url", "http"),
        ({"source_url": "http://www.consular.go.th"}, "source_url", "https://"),
        ({"description": "ok\x00"}, "description", ""),
        ({"eligibility": [""]}, "eligibility.0", "ต้องกรอก"),
        ({"category": "food"}, "category", "welfare"),
        ({"contact": {"hotline": "call us"}}, "contact.hotline", ""),
        ({"review_days": 0}, "review_days", ""),
        ({"price": 1}, "price", "ไม่มีช่องนี้"),
        ({"id": "visa"}, "id", ""),
        ({"competent_authority": {"id": "Consular Affairs"}}, "competent_authority.id", ""),
    ],
)
def test_an_invalid_edit_is_422_with_the_field_and_nothing_changes(
    unchanged: str, fields: dict[str, Any], field: str, message: str
) -> None:
    before = httpx.get(f"{unchanged}/services/passport", timeout=10).json()
    errors = errors_of(edit(unchanged, "passport", fields))
    assert field in errors, errors
    assert message in errors[field]
    assert httpx.get(f"{unchanged}/services/passport", timeout=10).json() == before
    assert len(history(unchanged, "passport")) == 1


def test_every_problem_is_reported_at_once(unchanged: str) -> None:
    errors = errors_of(
        edit(
            unchanged, "passport", {"fees": [{"item": "x", "amount": -5}], "source_url": None, "steps": "one"}
        )
    )
    assert {"fees.0.item", "fees.0.amount", "source_url", "steps"} <= set(errors)
    assert len(errors) == len(set(errors))  # a union's two branches give one message


def test_updated_is_the_catalogs_to_set(catalog: str) -> None:
    record = edit(
        catalog, "passport", {"updated": "2020-01-01", "processing_time": "ประมาณ 3 วันทำการ"}
    ).json()["record"]
    assert record["updated"] == bangkok_today()


def test_the_same_content_again_adds_no_version(catalog: str) -> None:
    edit(catalog, "passport", {"processing_time": "ประมาณ 3 วันทำการ"})
    again = edit(catalog, "passport", {"processing_time": "ประมาณ 3 วันทำการ"})
    assert again.status_code == 200
    assert [v["version"] for v in history(catalog, "passport")] == [1, 2]


def test_an_unknown_record_is_404(catalog: str) -> None:
    assert edit(catalog, "no-such-service", {"processing_time": "ทันที"}).status_code == 404
    assert httpx.get(f"{catalog}/admin/services/no-such-service/history", headers=AUTH).status_code == 404
    assert restore(catalog, "no-such-service", 1).status_code == 404
    assert restore(catalog, "passport", 7).status_code == 404


# -- history and restore ------------------------------------------------------------------------------------
def test_history_says_who_when_which_fields_before_and_after(catalog: str) -> None:
    fees = [{**PASSPORT_FEES[0], "amount": 1234}, PASSPORT_FEES[1]]
    edit(catalog, "passport", {"fees": fees})
    first, second = history(catalog, "passport")
    assert (first["version"], first["by"], first["changed"], first["restored_from"]) == (1, "seed", [], None)
    assert (second["version"], second["by"], second["changed"]) == (2, "dlt-editor", ["fees"])
    assert second["before"] == {"fees": PASSPORT_FEES} and second["after"] == {"fees": fees}
    at = dt.datetime.fromisoformat(second["at"])
    assert at.utcoffset() == dt.timedelta(hours=7)
    assert abs(dt.datetime.now(dt.timezone.utc) - at) < dt.timedelta(minutes=1)


def test_restore_makes_a_new_version_that_says_so(catalog: str) -> None:
    seed = httpx.get(f"{catalog}/services/passport", timeout=10).json()
    edit(catalog, "passport", {"fees": [{**PASSPORT_FEES[0], "amount": 1234}], "processing_time": "ทันที"})
    response = restore(catalog, "passport", 1)
    assert response.status_code == 200, response.text
    record = response.json()["record"]
    assert (response.json()["version"], response.json()["restored_from"]) == (3, 1)
    assert record == {**seed, "updated": bangkok_today()}
    assert httpx.get(f"{catalog}/services/passport", timeout=10).json() == record
    versions = history(catalog, "passport")
    assert [v["version"] for v in versions] == [1, 2, 3]
    assert versions[2]["restored_from"] == 1 and versions[2]["changed"] == ["fees", "processing_time"]
    assert versions[2]["after"]["fees"] == PASSPORT_FEES


# -- an agency's own records ----------------------------------------------------------------------------
def test_with_an_agency_only_its_records(catalog: str) -> None:
    assert edit(catalog, "passport", {"processing_time": "ทันที"}, agency="dlt").status_code == 403
    assert edit(catalog, "passport", {"processing_time": "ทันที"}, agency="consular").status_code == 200
    response = httpx.get(
        f"{catalog}/admin/services/passport/history", params={"agency": "dlt"}, headers=AUTH, timeout=10
    )
    assert response.status_code == 403
    assert restore(catalog, "passport", 1, agency="dlt").status_code == 403


def test_an_agency_may_not_hand_its_record_to_another(catalog: str) -> None:
    moved = edit(catalog, "passport", {"competent_authority": {"id": "dlt"}}, agency="consular")
    assert moved.status_code == 403
    # Nor get another's record back by restoring a state from when it was theirs.
    assert edit(catalog, "passport", {"competent_authority": {"id": "dlt"}}).status_code == 200  # an admin
    assert restore(catalog, "passport", 1, agency="dlt").status_code == 403
    assert restore(catalog, "passport", 1, agency="consular").status_code == 403


def test_the_records_of_an_agency_with_their_review_flag(catalog: str) -> None:
    items = httpx.get(f"{catalog}/admin/services", params={"agency": "dlt"}, headers=AUTH, timeout=10).json()
    assert {item["id"] for item in items["items"]} == {
        "driving-licence-new",
        "driving-licence-renewal",
        "vehicle-tax",
    }
    item = items["items"][0]
    assert {"id", "name", "competent_authority", "updated", "review_days", "review_due", "version"} <= set(
        item
    )
    assert (item["review_days"], item["version"]) == (365, 1)
    everything = httpx.get(f"{catalog}/admin/services", headers=AUTH, timeout=10).json()["items"]
    assert len(everything) == len(list(SEED_DIR.glob("*.json")))


def test_a_record_older_than_its_review_period_is_flagged(tmp_path: Path) -> None:
    seeds = tmp_path / "seed"
    shutil.copytree(SEED_DIR, seeds)
    path = seeds / "vehicle-tax.json"
    path.write_text(
        json.dumps(
            {**json.loads(path.read_text(encoding="utf-8")), "updated": "2024-01-01", "review_days": 180},
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    with running_catalog(tmp_path, "--seed-dir", str(seeds)) as url:
        items = httpx.get(f"{url}/admin/services", params={"agency": "dlt"}, headers=AUTH, timeout=10).json()
        due = {item["id"]: item["review_due"] for item in items["items"]}
        assert due == {"driving-licence-new": False, "driving-licence-renewal": False, "vehicle-tax": True}
        # A change (here: confirming the period) dates the record today, which clears the flag.
        assert edit(url, "vehicle-tax", {"review_days": 365}).status_code == 200
        items = httpx.get(f"{url}/admin/services", params={"agency": "dlt"}, headers=AUTH, timeout=10).json()
        assert not any(item["review_due"] for item in items["items"])


def test_review_due_counts_whole_days() -> None:
    record = {"updated": "2026-01-01", "review_days": 30}
    assert not review_due(record, dt.date(2026, 1, 31))
    assert review_due(record, dt.date(2026, 2, 1))
    assert review_due({"updated": "2025-01-01"}, dt.date(2026, 1, 2))  # 365 when absent


def test_merge_patch_is_rfc_7396() -> None:
    target = {"a": {"b": 1, "c": 2}, "d": [1, 2], "e": 1}
    assert merge_patch(target, {"a": {"b": None, "x": 3}, "d": [3], "e": None}) == {
        "a": {"c": 2, "x": 3},
        "d": [3],
    }
    assert target == {"a": {"b": 1, "c": 2}, "d": [1, 2], "e": 1}  # not changed in place


# -- the token ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}])
def test_the_admin_api_needs_the_token(unchanged: str, headers: dict[str, str]) -> None:
    body = {"by": "x", "fields": {"processing_time": "ทันที"}}
    assert httpx.patch(f"{unchanged}/admin/services/passport", json=body, headers=headers).status_code == 401
    assert httpx.get(f"{unchanged}/admin/services/passport/history", headers=headers).status_code == 401
    assert (
        httpx.post(
            f"{unchanged}/admin/services/passport/history/1/restore", json={"by": "x"}, headers=headers
        ).status_code
        == 401
    )
    assert httpx.get(f"{unchanged}/admin/services", headers=headers).status_code == 401
    assert len(history(unchanged, "passport")) == 1


def test_without_a_token_configured_the_admin_api_is_off(tmp_path: Path) -> None:
    with running_catalog(tmp_path, token="") as url:
        response = httpx.patch(
            f"{url}/admin/services/passport",
            json={"by": "x", "fields": {}},
            headers=AUTH,
        )
        assert response.status_code == 503
        assert httpx.get(f"{url}/services/passport").status_code == 200


def test_the_admin_api_is_not_in_the_public_docs(unchanged: str) -> None:
    paths = httpx.get(f"{unchanged}/openapi.json").json()["paths"]
    assert not [path for path in paths if path.startswith("/admin")]


# -- ETag -----------------------------------------------------------------------------------------------
def test_a_copy_that_is_still_current_is_304(catalog: str) -> None:
    first = httpx.get(f"{catalog}/services/passport")
    etag = first.headers["etag"]
    assert etag.startswith('"') and first.headers["cache-control"] == "no-cache"
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = httpx.get(f"{catalog}/services/passport", headers={"If-None-Match": header})
        assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag), header
    assert httpx.get(f"{catalog}/services/passport", headers={"If-None-Match": '"other"'}).status_code == 200
    edit(catalog, "passport", {"processing_time": "ทันที"})
    changed = httpx.get(f"{catalog}/services/passport", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.json()["processing_time"] == "ทันที"


# -- a restart ------------------------------------------------------------------------------------------
def test_edits_survive_a_restart_and_a_changed_seed_loads_only_where_nobody_edited(tmp_path: Path) -> None:
    seeds, database = tmp_path / "seed", tmp_path / "kept.db"
    shutil.copytree(SEED_DIR, seeds)
    with running_catalog(tmp_path, "--seed-dir", str(seeds), database=database) as url:
        edited = edit(url, "passport", {"processing_time": "ประมาณ 3 วันทำการ"}).json()["record"]
    for service_id in ("passport", "id-card"):
        path = seeds / f"{service_id}.json"
        path.write_text(
            json.dumps(
                {**json.loads(path.read_text(encoding="utf-8")), "processing_time": "ภายใน 1 วัน"},
                ensure_ascii=False,
            ),
            encoding="utf-8",
        )
    with running_catalog(tmp_path, "--seed-dir", str(seeds), database=database) as url:
        assert httpx.get(f"{url}/services/passport").json() == edited
        assert [v["by"] for v in history(url, "passport")] == ["seed", "dlt-editor"]
        assert httpx.get(f"{url}/services/id-card").json()["processing_time"] == "ภายใน 1 วัน"
        reloaded = history(url, "id-card")
        assert [(v["by"], v["changed"]) for v in reloaded] == [("seed", []), ("seed", ["processing_time"])]
    log = "".join(p.read_text(encoding="utf-8") for p in tmp_path.glob("catalog-*.log"))
    assert "seed of passport changed, but the record was edited since" in log


# -- PostgreSQL -------------------------------------------------------------------------------------------
@pytest.mark.postgres
def test_edit_history_and_restore_on_postgresql(tmp_path: Path) -> None:
    psycopg = pytest.importorskip("psycopg")
    admin_url = os.environ.get("CATALOG_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"catalog_admin_test_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at {admin_url}: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            database_url = f"postgresql+psycopg://{admin_url.split('://', 1)[1].rsplit('/', 1)[0]}/{name}"
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            proc = start_process(
                catalog_command(port, database_url),
                f"{url}/health",
                env={"CATALOG_ADMIN_TOKEN": TOKEN},
                log_path=tmp_path / "catalog.log",
            )
            try:
                assert edit(url, "passport", {"processing_time": "ทันที"}).status_code == 200
                assert restore(url, "passport", 1).status_code == 200
                versions = history(url, "passport")
                assert [(v["version"], v["changed"], v["restored_from"]) for v in versions] == [
                    (1, [], None), (2, ["processing_time"], None), (3, ["processing_time"], 1),
                ]  # fmt: skip
                assert dt.datetime.fromisoformat(versions[1]["at"]).utcoffset() == dt.timedelta(hours=7)
            finally:
                stop_process(proc)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
