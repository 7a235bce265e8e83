"""An agency edits its own catalog records over HTTP (../shared/spec/staff-api.md, Agency API):
the gateway app with its lifespan against a real catalog process (`catalog_url`), accounts signed
in with their passwords. The last test changes a fee in the running assistant's catalog, asks the
bot (`rasa_url`) at once, and restores the record.

`catalog_url`'s catalog is the session's: a test that changes a record counts versions from
where it found them (on a fresh catalog the passport's are 1, 2, 3).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import string
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from support import TEST_CATALOG_ADMIN_TOKEN

from staff.catalog_admin import CatalogAdmin

pytestmark = pytest.mark.postgres

Sql = Callable[..., list[dict[str, Any]]]
MakeAccount = Callable[..., tuple[str, str]]
Headers = dict[str, str]
FIVE_YEARS = {"validity_years": 5}


def bangkok_today() -> str:
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=7)).date().isoformat()


@contextmanager
def catalog_of_the_gateway(client: TestClient, url: str, token: str) -> Iterator[None]:
    """The gateway's catalog admin client pointed at `url` for a while (the app is the session's)."""
    before = client.app.state.catalog_admin
    client.app.state.catalog_admin = CatalogAdmin(url, token)
    try:
        yield
    finally:
        assert client.portal is not None
        client.portal.call(client.app.state.catalog_admin.aclose)
        client.app.state.catalog_admin = before


@pytest.fixture(scope="module")
def catalog(client: TestClient, catalog_url: str) -> Iterator[str]:
    with catalog_of_the_gateway(client, catalog_url, TEST_CATALOG_ADMIN_TOKEN):
        yield catalog_url


@pytest.fixture
def sign_in(client: TestClient, make_account: MakeAccount) -> Callable[..., Headers]:
    """sign_in(role, agency=None) -> the headers of a new account, signed in with its password."""

    def make(role: str, agency: str | None = None) -> Headers:
        username, password = make_account(role, agency)
        answer = client.post("/api/auth/login", json={"username": username, "password": password})
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['token']}"}

    return make


def user_of(client: TestClient, headers: Headers) -> str:
    return client.get("/api/auth/me", headers=headers).json()["username"]


def live(catalog_url: str, service_id: str) -> dict[str, Any]:
    return httpx.get(f"{catalog_url}/services/{service_id}", timeout=10).json()


def with_five_year_fee(record: dict[str, Any], amount: int) -> list[dict[str, Any]]:
    return [{**fee, "amount": amount} if fee["applies_to"] == FIVE_YEARS else fee for fee in record["fees"]]


def five_year_fee(record: dict[str, Any]) -> int:
    return next(fee["amount"] for fee in record["fees"] if fee["applies_to"] == FIVE_YEARS)


# -- an agency's own record --------------------------------------------------------------------------------
def test_an_agency_edits_its_fee_and_restores_it(
    client: TestClient, catalog: str, sign_in: Callable[..., Headers], sql: Sql
) -> None:
    consular = sign_in("agency", "consular")
    seed = live(catalog, "passport")
    fees = with_five_year_fee(seed, 1234)
    found = client.get("/api/agency/services/passport/history", headers=consular).json()["versions"]
    assert found[0]["version"] == 1 and found[0]["by"] == "seed"
    start = len(found)

    response = client.patch("/api/agency/services/passport", json={"fees": fees}, headers=consular)
    assert response.status_code == 200, response.text
    record = response.json()
    assert record["fees"] == fees and record["updated"] == bangkok_today()
    assert record["source_url"] == seed["source_url"]
    assert live(catalog, "passport") == record  # live at once

    history = client.get("/api/agency/services/passport/history", headers=consular)
    assert history.status_code == 200
    versions = history.json()["versions"]
    assert [v["version"] for v in versions] == list(range(1, start + 2))  # [1, 2] on a fresh catalog
    edited = versions[-1]
    assert (edited["by"], edited["changed"]) == (user_of(client, consular), ["fees"])
    assert {"version", "by", "at", "changed"} <= set(edited)
    assert dt.datetime.fromisoformat(edited["at"]).tzinfo is not None
    assert edited["before"] == {"fees": seed["fees"]} and edited["after"] == {"fees": fees}

    # The version found before the edit: version 1, the seed, on a fresh catalog.
    restored = client.post(f"/api/agency/services/passport/history/{start}/restore", headers=consular)
    assert restored.status_code == 200, restored.text
    assert five_year_fee(restored.json()) == five_year_fee(seed)
    assert live(catalog, "passport")["fees"] == seed["fees"]
    versions = client.get("/api/agency/services/passport/history", headers=consular).json()["versions"]
    assert [v["version"] for v in versions] == list(range(1, start + 3))  # [1, 2, 3] on a fresh catalog
    assert versions[-1]["restored_from"] == start and versions[-1]["changed"] == ["fees"]

    rows = sql(
        "SELECT action, detail FROM staff_audit WHERE target = 'passport' AND username = %s ORDER BY id",
        user_of(client, consular),
    )
    assert [(r["action"], r["detail"]) for r in rows] == [
        ("record_edit", {"version": start + 1, "changed": ["fees"]}),
        ("record_restore", {"version": start + 2, "restored_from": start, "changed": ["fees"]}),
    ]


def test_another_agencys_record_is_403(
    client: TestClient, catalog: str, sign_in: Callable[..., Headers]
) -> None:
    dlt = sign_in("agency", "dlt")
    before = live(catalog, "passport")
    fees = with_five_year_fee(before, 1)
    assert client.patch("/api/agency/services/passport", json={"fees": fees}, headers=dlt).status_code == 403
    assert client.get("/api/agency/services/passport/history", headers=dlt).status_code == 403
    assert client.post("/api/agency/services/passport/history/1/restore", headers=dlt).status_code == 403
    assert client.get("/api/agency/services/passport", headers=dlt).status_code == 403
    assert live(catalog, "passport") == before


def test_an_agency_may_not_hand_its_record_to_another(
    client: TestClient, catalog: str, sign_in: Callable[..., Headers]
) -> None:
    consular = sign_in("agency", "consular")
    moved = {"competent_authority": {"id": "dlt"}}
    assert client.patch("/api/agency/services/passport", json=moved, headers=consular).status_code == 403
    assert live(catalog, "passport")["competent_authority"]["id"] == "consular"


@pytest.mark.parametrize("role", ["agent", "supervisor"])
def test_the_call_centre_may_not_edit(
    client: TestClient, catalog: str, sign_in: Callable[..., Headers], role: str
) -> None:
    headers = sign_in(role)
    assert client.patch("/api/agency/services/passport", json={}, headers=headers).status_code == 403
    assert client.get("/api/agency/services/passport/history", headers=headers).status_code == 403
    assert client.get("/api/agency/services", headers=headers).status_code == 403


def test_without_signing_in_401(client: TestClient, catalog: str) -> None:
    assert client.patch("/api/agency/services/passport", json={}).status_code == 401
    assert client.get("/api/agency/services").status_code == 401


# -- validation -----------------------------------------------------------------------------------------
def test_an_invalid_amount_is_422_with_the_field(
    client: TestClient, catalog: str, sign_in: Callable[..., Headers]
) -> None:
    consular = sign_in("agency", "consular")
    before = live(catalog, "passport")
    fees = [{**before["fees"][0], "amount": -500}]
    response = client.patch("/api/agency/services/passport", json={"fees": fees}, headers=consular)
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == ["fees.0.amount"] and errors[0]["message"]
    assert live(catalog, "passport") == before


def test_dropping_the_source_url_is_422(
    client: TestClient, catalog: str, sign_in: Callable[..., Headers]
) -> None:
    consular = sign_in("agency", "consular")
    before = live(catalog, "passport")
    for body in ({"source_url": None}, {"source_url": ""}, {"source_url": "http://www.consular.go.th"}):
        response = client.patch("/api/agency/services/passport", json=body, headers=consular)
        assert response.status_code == 422, body
        assert [e["field"] for e in response.json()["errors"]] == ["source_url"]
    assert live(catalog, "passport") == before


@pytest.mark.parametrize("body", [b"[1, 2]", b"not json", b'"fees"'])
def test_a_body_that_is_not_an_object_is_422(
    client: TestClient, catalog: str, sign_in: Callable[..., Headers], body: bytes
) -> None:
    consular = sign_in("agency", "consular")
    response = client.patch(
        "/api/agency/services/passport",
        content=body,
        headers={**consular, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "(record)"


def test_an_unknown_record_is_404(client: TestClient, catalog: str, sign_in: Callable[..., Headers]) -> None:
    admin = sign_in("admin")
    assert client.patch("/api/agency/services/no-such-service", json={}, headers=admin).status_code == 404
    assert client.get("/api/agency/services/no-such-service/history", headers=admin).status_code == 404
    assert client.post("/api/agency/services/passport/history/99/restore", headers=admin).status_code == 404
    assert client.get("/api/agency/services/..", headers=admin).status_code == 404


# -- the list, the review flag, an admin -------------------------------------------------------------------
def test_an_agency_lists_its_own_records_with_the_review_flag(
    client: TestClient, catalog: str, sign_in: Callable[..., Headers]
) -> None:
    response = client.get("/api/agency/services", headers=sign_in("agency", "dlt"))
    assert response.status_code == 200
    services = response.json()["services"]
    assert {s["id"] for s in services} == {"driving-licence-new", "driving-licence-renewal", "vehicle-tax"}
    assert all(s["review_due"] is False and s["review_days"] == 365 for s in services)
    everything = client.get("/api/agency/services", headers=sign_in("admin")).json()["services"]
    assert len(everything) == httpx.get(f"{catalog}/health", timeout=10).json()["services"]


def test_an_admin_edits_any_record(
    client: TestClient, catalog: str, sign_in: Callable[..., Headers], sql: Sql
) -> None:
    admin = sign_in("admin")
    before = live(catalog, "building-permit")
    response = client.patch(
        "/api/agency/services/building-permit", json={"processing_time": "ภายใน 45 วัน"}, headers=admin
    )
    assert response.status_code == 200 and response.json()["processing_time"] == "ภายใน 45 วัน"
    versions = client.get("/api/agency/services/building-permit/history", headers=admin).json()["versions"]
    assert versions[-1]["changed"] == ["processing_time"]
    restored = client.post(
        f"/api/agency/services/building-permit/history/{versions[-2]['version']}/restore", headers=admin
    )
    assert restored.json()["processing_time"] == before["processing_time"]


def test_no_catalog_token_is_503(client: TestClient, catalog: str, sign_in: Callable[..., Headers]) -> None:
    consular = sign_in("agency", "consular")
    with catalog_of_the_gateway(client, catalog, ""):
        response = client.patch("/api/agency/services/passport", json={}, headers=consular)
    assert response.status_code == 503 and response.json()["detail"]


# -- live at once, in the assistant's answer ----------------------------------------------------------------
def ask(rasa_url: str, text: str) -> str:
    headers = {"Authorization": f"Bearer {os.environ['REST_TOKEN']}"} if os.environ.get("REST_TOKEN") else {}
    sender = "agency-e2e-" + "".join(random.choices(string.ascii_lowercase, k=16))
    response = httpx.post(
        f"{rasa_url}/webhooks/rest/webhook",
        json={"sender": sender, "message": text},
        headers=headers,
        timeout=120,
    )
    assert response.status_code == 200, response.text
    return "\n".join(message.get("text", "") for message in response.json())


def test_the_bot_answers_with_the_new_fee_at_once(
    client: TestClient, rasa_url: str, stack_catalog: tuple[str, str], sign_in: Callable[..., Headers]
) -> None:
    url, token = stack_catalog
    consular = sign_in("agency", "consular")
    question = "ทำพาสปอร์ตเล่ม 5 ปีกี่บาท"
    with catalog_of_the_gateway(client, url, token):
        history = client.get("/api/agency/services/passport/history", headers=consular)
        assert history.status_code == 200, history.text
        last = history.json()["versions"][-1]["version"]
        before = live(url, "passport")
        assert f"{five_year_fee(before):,} บาท" in ask(rasa_url, question)  # the catalog's copy is cached now
        try:
            response = client.patch(
                "/api/agency/services/passport",
                json={"fees": with_five_year_fee(before, 1234)},
                headers=consular,
            )
            assert response.status_code == 200, response.text
            assert "1,234 บาท" in ask(rasa_url, question)
        finally:
            restored = client.post(f"/api/agency/services/passport/history/{last}/restore", headers=consular)
            assert restored.status_code == 200, restored.text
        assert f"{five_year_fee(before):,} บาท" in ask(rasa_url, question)
