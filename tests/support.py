"""Helpers to run the project's servers as real processes in tests.

Standard library only: this module is imported from both the Rasa env (Python 3.10) and the
services env (Python 3.11).
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SERVICES_PYTHON = ".venv/services/bin/python"
# The test stack's Rasa HTTP API token (`make test` exports the same) and the staff side's
# database for tests, never the `staff` database `make run` uses.
TEST_RASA_TOKEN = "test-rasa-token"
TEST_STAFF_DB_URL = "postgresql://postgres@127.0.0.1:5432/staff_test"
# The catalog's admin API token (the gateway's agency edits) of the catalogs tests start, and of
# the test stack (`make test` exports the same).
TEST_CATALOG_ADMIN_TOKEN = "test-catalog-admin-token"


def rasa_token() -> str:
    return os.environ.get("RASA_TOKEN") or TEST_RASA_TOKEN


def catalog_admin_token() -> str:
    """The admin token of the running stack's catalog (the `rasa_url` fixture's)."""
    return os.environ.get("CATALOG_ADMIN_TOKEN") or TEST_CATALOG_ADMIN_TOKEN


def rest_token(run_dir: str | Path | None = None) -> str:
    """Rasa's REST channel token: REST_TOKEN, else the one scripts/stack keeps in the run folder
    (`run_dir`, else RUN_DIR, else run/), as every tool that talks to Rasa directly finds it."""
    token = os.environ.get("REST_TOKEN", "").strip()
    if token:
        return token
    stored = Path(run_dir or os.environ.get("RUN_DIR") or REPO_ROOT / "run") / "rest-token"
    return stored.read_text(encoding="utf-8").strip() if stored.exists() else ""


def staff_test_db_url() -> str:
    return os.environ.get("STAFF_TEST_DB_URL") or TEST_STAFF_DB_URL


def database_url(url: str, name: str) -> str:
    """The PostgreSQL URL `url` (any postgresql+driver scheme) naming the database `name` instead."""
    scheme, rest = url.split("://", 1)
    parts = urlsplit("postgresql://" + rest if scheme.startswith("postgres") else url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def drop_database(url: str, name: str) -> None:
    """Drops a test's own database `name` on the server of `url`, its connections too (psycopg:
    the services env)."""
    import psycopg

    with psycopg.connect(database_url(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def services_python() -> str:
    """The services env interpreter: env SERVICES_PYTHON, relative paths taken from the repo root."""
    path = Path(os.environ.get("SERVICES_PYTHON") or DEFAULT_SERVICES_PYTHON)
    if not path.is_absolute():
        path = REPO_ROOT / path
    return str(path)


def make_staff_account(
    staff_db_url: str,
    role: str,
    *,
    prefix: str = "staff",
    agency: str | None = None,
    display_name: str | None = None,
    env: Mapping[str, str] | None = None,
) -> tuple[str, str]:
    """A new staff account made as staff make one (`python -m staff.users`): (username, password)."""
    username, password = f"{prefix}-{secrets.token_hex(4)}", secrets.token_urlsafe(12)
    named = ["--display-name", display_name] if display_name else []
    done = subprocess.run(
        [services_python(), "-m", "staff.users", username, role, *([agency] if agency else []), *named],
        cwd=REPO_ROOT,
        env={**(os.environ if env is None else env), "USER_PASSWORD": password, "STAFF_DB_URL": staff_db_url},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return username, password


def signed_in(base_url: str, username: str, password: str) -> dict[str, str]:
    """The Authorization header of a staff account signed in at the gateway `base_url` (httpx:
    the services env)."""
    import httpx

    login = {"username": username, "password": password}
    answer = httpx.post(f"{base_url}/api/auth/login", json=login, timeout=10)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


_HANDED_OUT: set[int] = set()
# The ports scripts/stack listens on for a stack of a test's own: each chosen, none left to its defaults
# (the model server's is RASA_PORT + 1, which may be taken).
STACK_PORTS = ("CATALOG_PORT", "ACTIONS_PORT", "RASA_PORT", "GATEWAY_PORT", "MODELS_PORT")


def free_port() -> int:
    """A TCP port that was free a moment ago and not handed out before in this test run (the usual
    small race with other processes is acceptable in tests). The kernel may offer the same free port
    twice in a row, and a stack given one port for two of its services finds the second "already
    answering" and never starts it: the likeliest cause of a run whose analytics consumer never
    started (its health port answered before it was started)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def _log_tail(path: Path, chars: int = 4000) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-chars:]
    except OSError:
        return "(no log)"


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def start_process(
    cmd: Sequence[str],
    health_url: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 60,
    *,
    cwd: str | Path | None = None,
    log_path: str | Path | None = None,
) -> subprocess.Popen:
    """Start `cmd` and return once `health_url` answers 2xx.

    `env` is added to the current environment. Output goes to `log_path` (a temp file by
    default, kept as `proc.log_path`) rather than a pipe, which could fill up and block the
    server. If the process exits or is not healthy within `timeout` seconds it is stopped and
    RuntimeError carries the end of its log.
    """
    full_env = dict(os.environ)
    full_env.update(env or {})
    if log_path is None:
        handle, name = tempfile.mkstemp(prefix="proc-", suffix=".log")
        os.close(handle)
        log_path = name
    log_file = Path(log_path)
    with open(log_file, "wb") as out:
        proc = subprocess.Popen(
            list(cmd),
            cwd=str(cwd or REPO_ROOT),
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    proc.log_path = log_file  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"{cmd[0]} exited with code {proc.returncode} before {health_url} was up:\n"
                f"{_log_tail(log_file)}"
            )
        if _healthy(health_url):
            return proc
        time.sleep(0.2)
    stop_process(proc)
    raise RuntimeError(f"{health_url} not healthy after {timeout}s:\n{_log_tail(log_file)}")


def stop_process(proc: subprocess.Popen, timeout: float = 10) -> None:
    """Terminate politely (SIGTERM lets uvicorn shut down cleanly), then kill."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


def catalog_command(port: int, database_url: str, *extra: str) -> list:
    """Command line that runs the catalog service from the services env."""
    return [
        services_python(),
        "-m",
        "catalog",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--database",
        database_url,
        *extra,
    ]
