"""Sign-in, who am I and sign-out over HTTP, through the gateway app with its lifespan
(../shared/spec/staff-api.md, "Accounts and sign-in")."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from support import free_port

from gateway.app import create_app
from gateway.config import Settings
from staff.accounts import LOCKOUT_FAILURES
from staff.auth import token_hash

pytestmark = pytest.mark.postgres

Sql = Callable[..., list[dict[str, Any]]]
MakeAccount = Callable[..., tuple[str, str]]


def login(client: TestClient, username: str, password: str) -> httpx.Response:
    return client.post("/api/auth/login", json={"username": username, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def audit(sql: Sql, name: str) -> list[dict[str, Any]]:
    return sql("SELECT username, action, target, detail FROM staff_audit WHERE target = %s ORDER BY id", name)


def test_login_gives_a_token_that_says_who_is_calling(client: TestClient, make_account: MakeAccount) -> None:
    username, password = make_account("agent", display_name="สมชาย ใจดี")
    response = login(client, username, password)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token", "role", "agency", "expires_at"}
    assert body["role"] == "agent" and body["agency"] is None
    expires = datetime.fromisoformat(body["expires_at"])
    assert abs(expires - (datetime.now(UTC) + timedelta(minutes=480))) < timedelta(minutes=2)

    me = client.get("/api/auth/me", headers=bearer(body["token"]))
    assert me.status_code == 200
    assert me.json() == {"username": username, "role": "agent", "agency": None, "display_name": "สมชาย ใจดี"}


def test_agency_account_carries_its_agency(client: TestClient, make_account: MakeAccount) -> None:
    username, password = make_account("agency", agency="dlt")
    body = login(client, username, password).json()
    assert (body["role"], body["agency"]) == ("agency", "dlt")
    me = client.get("/api/auth/me", headers=bearer(body["token"])).json()
    assert me == {"username": username, "role": "agency", "agency": "dlt", "display_name": username}


def test_only_a_hash_of_the_token_and_an_argon2_hash_of_the_password_are_stored(
    client: TestClient, make_account: MakeAccount, sql: Sql
) -> None:
    username, password = make_account()
    token = login(client, username, password).json()["token"]
    assert len(token) >= 43  # secrets.token_urlsafe(32)
    stored = sql("SELECT token_hash FROM staff_token WHERE username = %s", username)
    assert stored == [{"token_hash": token_hash(token)}]
    [user] = sql("SELECT password_hash FROM staff_user WHERE username = %s", username)
    assert user["password_hash"].startswith("$argon2")
    assert password not in user["password_hash"]


def test_wrong_password_and_unknown_name_get_the_same_answer(
    client: TestClient, make_account: MakeAccount, unique_name: Callable[..., str]
) -> None:
    username, password = make_account()
    wrong_password = login(client, username, password + "x")
    unknown_name = login(client, unique_name("nobody"), password)
    assert wrong_password.status_code == unknown_name.status_code == 401
    assert wrong_password.content == unknown_name.content
    drop = {"date", "content-length"}
    assert {k: v for k, v in wrong_password.headers.items() if k not in drop} == {
        k: v for k, v in unknown_name.headers.items() if k not in drop
    }


def test_unknown_name_takes_as_long_as_a_wrong_password(
    client: TestClient, make_account: MakeAccount, unique_name: Callable[..., str]
) -> None:
    # An unknown name is checked against a dummy argon2 hash; without it, it would answer at once.
    username, password = make_account()

    def timed(name: str) -> float:
        start = time.perf_counter()
        assert login(client, name, password + "x").status_code == 401
        return time.perf_counter() - start

    known = statistics.median(timed(username) for _ in range(3))
    nobody = unique_name("nobody")
    unknown = statistics.median(timed(nobody) for _ in range(3))
    assert 0.3 < unknown / known < 3, (known, unknown)


@pytest.mark.parametrize(
    "body",
    [{"username": "somchai"}, {"password": "x" * 10}, {"username": "a", "password": 12345678},
     {"username": "", "password": "x" * 10}, ["somchai", "password"]],
)
def test_malformed_login_body_is_422(client: TestClient, body: object) -> None:
    assert client.post("/api/auth/login", json=body).status_code == 422


def test_login_body_that_is_not_json_is_422(client: TestClient) -> None:
    response = client.post("/api/auth/login", content=b"username=a&password=b",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 422


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic c29tY2hhaTpwdw=="}]
)
def test_me_without_a_valid_token_is_401(client: TestClient, headers: dict[str, str]) -> None:
    response = client.get("/api/auth/me", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_expired_token_is_401(client: TestClient, make_account: MakeAccount, sql: Sql) -> None:
    username, password = make_account()
    token = login(client, username, password).json()["token"]
    assert client.get("/api/auth/me", headers=bearer(token)).status_code == 200
    sql("UPDATE staff_token SET expires_at = now() - interval '1 minute' WHERE token_hash = %s",
        token_hash(token))
    assert client.get("/api/auth/me", headers=bearer(token)).status_code == 401


def test_logout_ends_that_token_only(client: TestClient, make_account: MakeAccount, sql: Sql) -> None:
    username, password = make_account()
    first = login(client, username, password).json()["token"]
    second = login(client, username, password).json()["token"]
    assert client.post("/api/auth/logout", headers=bearer(first)).status_code == 204
    assert client.get("/api/auth/me", headers=bearer(first)).status_code == 401
    assert client.post("/api/auth/logout", headers=bearer(first)).status_code == 401
    assert client.get("/api/auth/me", headers=bearer(second)).status_code == 200
    assert sql("SELECT token_hash FROM staff_token WHERE username = %s", username) == [
        {"token_hash": token_hash(second)}
    ]
    assert [row["action"] for row in audit(sql, username)][-1] == "logout"


def test_logout_without_a_token_is_401(client: TestClient) -> None:
    assert client.post("/api/auth/logout").status_code == 401


def _fail(client: TestClient, username: str, times: int) -> list[int]:
    return [login(client, username, "not-the-password").status_code for _ in range(times)]


def test_repeated_failures_lock_the_name_out_even_for_the_right_password(
    client: TestClient, make_account: MakeAccount, sql: Sql
) -> None:
    username, password = make_account()
    assert _fail(client, username, LOCKOUT_FAILURES) == [401] * LOCKOUT_FAILURES
    locked = login(client, username, "not-the-password")
    assert locked.status_code == 429
    assert 0 < int(locked.headers["retry-after"]) <= 15 * 60
    right = login(client, username, password)
    assert right.status_code == 429
    assert "token" not in right.json()
    assert not sql("SELECT 1 FROM staff_token WHERE username = %s", username)


def test_unknown_names_are_locked_out_too(client: TestClient, unique_name: Callable[..., str]) -> None:
    # Otherwise a 429 would tell that a name exists.
    nobody = unique_name("nobody")
    assert _fail(client, nobody, LOCKOUT_FAILURES + 1) == [401] * LOCKOUT_FAILURES + [429]


def test_lockout_counts_per_name(client: TestClient, make_account: MakeAccount) -> None:
    target, _ = make_account()
    other, other_password = make_account()
    assert _fail(client, target, LOCKOUT_FAILURES - 1) == [401] * (LOCKOUT_FAILURES - 1)
    # Another account's sign-in neither resets this name's count nor is hindered by it.
    assert login(client, other, other_password).status_code == 200
    assert _fail(client, target, 2) == [401, 429]
    assert login(client, other, other_password).status_code == 200


def test_a_correct_password_before_the_lockout_starts_the_count_again(
    client: TestClient, make_account: MakeAccount
) -> None:
    username, password = make_account()
    assert _fail(client, username, LOCKOUT_FAILURES - 1) == [401] * (LOCKOUT_FAILURES - 1)
    assert login(client, username, password).status_code == 200
    assert _fail(client, username, LOCKOUT_FAILURES - 1) == [401] * (LOCKOUT_FAILURES - 1)
    assert login(client, username, password).status_code == 200


def test_sign_ins_failures_lockouts_and_logouts_are_audited_without_the_password(
    client: TestClient, make_account: MakeAccount, sql: Sql, unique_name: Callable[..., str]
) -> None:
    username, password = make_account()
    token = login(client, username, password).json()["token"]
    client.post("/api/auth/logout", headers=bearer(token))
    _fail(client, username, LOCKOUT_FAILURES + 1)
    login(client, username, password)
    rows = audit(sql, username)
    assert [(row["username"], row["action"], row["detail"].get("reason")) for row in rows] == [
        (None, "account_created", None),
        (username, "login", None),
        (username, "logout", None),
        *[(None, "login_failed", "wrong_password")] * LOCKOUT_FAILURES,
        (None, "login_locked_out", None),
        (None, "login_failed", "locked_out"),
        (None, "login_failed", "locked_out"),
    ]
    nobody = unique_name("nobody")
    login(client, nobody, password)
    assert [(r["action"], r["detail"]) for r in audit(sql, nobody)] == [
        ("login_failed", {"reason": "unknown_user"})
    ]
    leaks = sql("SELECT id FROM staff_audit WHERE detail::text LIKE %s OR target LIKE %s",
                f"%{password}%", f"%{password}%")
    assert leaks == []


def test_an_outdated_hash_is_replaced_at_sign_in(
    client: TestClient, make_account: MakeAccount, sql: Sql
) -> None:
    username, password = make_account()
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(password)
    sql("UPDATE staff_user SET password_hash = %s WHERE username = %s", weak, username)
    assert login(client, username, password).status_code == 200
    [row] = sql("SELECT password_hash FROM staff_user WHERE username = %s", username)
    assert row["password_hash"] != weak
    assert not PasswordHasher().check_needs_rehash(row["password_hash"])
    assert login(client, username, password).status_code == 200


def test_sign_in_is_refused_when_the_lockout_store_is_down(
    settings: Settings, client: TestClient, make_account: MakeAccount
) -> None:
    # `client` first: its gateway made the schema this second gateway uses.
    username, password = make_account()
    down = Settings(
        rasa_url=settings.rasa_url, staff_db_url=settings.staff_db_url,
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
    )
    with TestClient(create_app(down)) as other:
        response = login(other, username, password)
    assert response.status_code == 503
    assert "token" not in response.json()
