"""Fixtures for analytics against the running assistant: the analytics consumer next to `rasa_url`'s
stack, a gateway process on the same staff database, and that database and the tracker store's.

`make test` starts the consumer with its test stack and exports ANALYTICS_URL; otherwise one is
started here for the stack `rasa_url` started (tracker database `rasa_test`, its exchange and
queue derived from that name as scripts/stack does). TRACKER_DB_NAME and STAFF_TEST_DB_URL point
the tests at another stack's databases.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import free_port, rasa_token, services_python, staff_test_db_url, start_process, stop_process

from analytics.tracker import tracker_db_url

REPO_ROOT = Path(__file__).resolve().parents[2]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


@pytest.fixture(scope="session")
def tracker_db() -> str:
    """The tracker store of the stack under test."""
    return tracker_db_url({**os.environ, "TRACKER_DB_NAME": os.environ.get("TRACKER_DB_NAME") or "rasa_test"})


@pytest.fixture(scope="session")
def analytics_db() -> str:
    """The staff database the consumer writes into and the gateway reads."""
    return staff_test_db_url()


@pytest.fixture(scope="session")
def analytics_consumer(
    rasa_url: str, analytics_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Base URL of the analytics consumer's health check for the stack at `rasa_url`."""
    external = os.environ.get("ANALYTICS_URL", "").rstrip("/")
    if external and _answers(f"{external}/health"):
        yield external
        return
    port = free_port()
    env = {
        "ANALYTICS_PORT": str(port),
        "TRACKER_DB_NAME": os.environ.get("TRACKER_DB_NAME") or "rasa_test",
        "STAFF_DB_URL": analytics_db,
        "PYTHONPATH": str(REPO_ROOT),
    }
    proc = start_process(
        [services_python(), "-m", "analytics"],
        f"http://127.0.0.1:{port}/health",
        env=env,
        timeout=60,
        cwd=REPO_ROOT,
        log_path=tmp_path_factory.mktemp("analytics") / "analytics.log",
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(proc)


@pytest.fixture(scope="session")
def analytics_gateway(
    rasa_url: str, analytics_db: str, analytics_consumer: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Base URL of a gateway process (web chat and staff API) on the consumer's staff database."""
    port = free_port()
    env = {
        "RASA_URL": rasa_url,
        "RASA_TIMEOUT": "15",
        "LINE_CHANNEL_SECRET": "",
        "LINE_CHANNEL_ACCESS_TOKEN": "",
        "WEB_ALLOWED_ORIGINS": "http://localhost:*,http://127.0.0.1:*",
        "RASA_TOKEN": rasa_token(),
        "STAFF_DB_URL": analytics_db,
    }
    proc = start_process(
        [sys.executable, "-m", "gateway", "--host", "127.0.0.1", "--port", str(port)],
        f"http://127.0.0.1:{port}/health",
        env=env,
        timeout=60,
        cwd=REPO_ROOT,
        log_path=tmp_path_factory.mktemp("gateway") / "gateway.log",
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(proc)
