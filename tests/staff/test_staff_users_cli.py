"""`make user NAME=... ROLE=... [AGENCY=...]` (python -m staff.users): accounts from the command line,
the password from USER_PASSWORD only."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support import services_python

REPO_ROOT = Path(__file__).resolve().parents[2]
Sql = Callable[..., list[dict[str, Any]]]


def _env(staff_db_url: str, password: str | None) -> dict[str, str]:
    # A make that runs pytest passes its own flags down; this make is a separate one.
    drop = {"USER_PASSWORD", "MAKEFLAGS", "MFLAGS", "MAKELEVEL"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["STAFF_DB_URL"] = staff_db_url
    if password is not None:
        env["USER_PASSWORD"] = password
    return env


def make_user(staff_db_url: str, password: str | None, **variables: str) -> subprocess.CompletedProcess[str]:
    # -o: the environment is taken as installed, so a test never reinstalls it.
    command = ["make", "-s", "-o", ".venv/services/.installed", "user"]
    command += [f"{name}={value}" for name, value in variables.items()]
    return subprocess.run(command, cwd=REPO_ROOT, env=_env(staff_db_url, password),
                          capture_output=True, text=True, timeout=120, check=False)


def users_cli(staff_db_url: str, password: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([services_python(), "-m", "staff.users", *args], cwd=REPO_ROOT,
                          env=_env(staff_db_url, password), capture_output=True, text=True, timeout=120,
                          check=False)


def login(client: TestClient, username: str, password: str) -> Any:
    return client.post("/api/auth/login", json={"username": username, "password": password})


@pytest.mark.postgres
def test_make_user_twice_changes_password_and_role(
    client: TestClient, staff_db_url: str, sql: Sql, unique_name: Callable[..., str]
) -> None:
    name = unique_name("cli")
    first = make_user(staff_db_url, "first-password", NAME=name, ROLE="agent", DISPLAY_NAME="สมชาย ใจดี")
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [f"created staff account {name} (role agent)"]
    token = login(client, name, "first-password").json()["token"]

    second = make_user(staff_db_url, "second-password", NAME=name, ROLE="agency", AGENCY="dlt")
    assert second.returncode == 0, second.stderr
    [line] = second.stdout.splitlines()
    assert line.startswith(f"updated staff account {name} (role agency, agency dlt")
    for output in (first, second):
        assert "first-password" not in output.stdout + output.stderr
        assert "second-password" not in output.stdout + output.stderr

    # The new password and role hold at once; the old sign-in and password are over.
    assert client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert login(client, name, "first-password").status_code == 401
    body = login(client, name, "second-password").json()
    assert (body["role"], body["agency"]) == ("agency", "dlt")
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {body['token']}"}).json()
    assert me["display_name"] == "สมชาย ใจดี"  # kept: the second run named none
    [row] = sql("SELECT password_hash FROM staff_user WHERE username = %s", name)
    assert row["password_hash"].startswith("$argon2")
    actions = sql("SELECT action FROM staff_audit WHERE target = %s ORDER BY id", name)
    assert [a["action"] for a in actions][:3] == ["account_created", "login", "account_updated"]


@pytest.mark.postgres
@pytest.mark.parametrize("password", [None, "", "short7!"])
def test_refuses_without_a_password_of_eight_characters_in_the_environment(
    staff_db_url: str, sql: Sql, unique_name: Callable[..., str], password: str | None
) -> None:
    name = unique_name("cli")
    result = users_cli(staff_db_url, password, name, "agent")
    assert result.returncode == 2
    assert "USER_PASSWORD" in result.stderr
    assert result.stdout == ""
    assert sql("SELECT 1 FROM staff_user WHERE username = %s", name) == []


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["agency"], "agency code"),
        (["agent", "dlt"], "only with role agency"),
        (["agency", "DLT Bangkok"], "agency code"),
    ],
)
def test_refuses_an_agency_that_does_not_fit_the_role(
    staff_db_url: str, sql: Sql, unique_name: Callable[..., str], args: list[str], says: str
) -> None:
    name = unique_name("cli")
    result = users_cli(staff_db_url, "long-enough-password", name, *args)
    assert result.returncode == 2
    assert says in result.stderr
    assert sql("SELECT 1 FROM staff_user WHERE username = %s", name) == []


def test_refuses_an_unknown_role_and_a_password_as_an_argument() -> None:
    nowhere = "postgresql://postgres@127.0.0.1:1/staff_test_nowhere"  # refused before any connection
    unknown = users_cli(nowhere, "long-enough-password", "somchai", "boss")
    assert unknown.returncode == 2 and "invalid choice" in unknown.stderr
    extra = users_cli(nowhere, "long-enough-password", "somchai", "agency", "dlt", "hunter2hunter2")
    assert extra.returncode == 2 and "unrecognized arguments" in extra.stderr


def test_make_user_passes_agency_and_display_name_through() -> None:
    command = ["make", "-n", "-o", ".venv/services/.installed", "user",
               "NAME=dlt-editor", "ROLE=agency", "AGENCY=dlt", "DISPLAY_NAME=กรมการขนส่งทางบก"]
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
    dry = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    line = " ".join(dry.stdout.replace("\\\n", " ").split())
    assert '-m staff.users "dlt-editor" "agency" "dlt" --display-name "กรมการขนส่งทางบก"' in line
