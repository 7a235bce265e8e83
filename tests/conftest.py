"""Shared fixtures and markers. Standard library + pytest only: loaded by the Rasa env (3.10, no fastapi) too.

The repository root and tests/ are on the path by pyproject.toml (`pythonpath`); the
markers are registered there too and selected by the Makefile (`make test`, `make unit`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import (
    STACK_PORTS,
    TEST_CATALOG_ADMIN_TOKEN,
    TEST_RASA_TOKEN,
    catalog_admin_token,
    catalog_command,
    free_port,
    start_process,
    stop_process,
)
from support import rasa_token as _rasa_token
from support import rest_token as _rest_token

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark by what a test needs, so that no marker can be forgotten: the running assistant
    (`rasa_url`) is end to end and needs the trained model; the `browser` fixture a browser."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "rasa_url" in fixtures:
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.needs_model)
        if "browser" in fixtures:
            item.add_marker(pytest.mark.browser)


# -- a browser: Debian's Chromium through Playwright (the services env; `make browser`) ---------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: make browser (never `playwright install`)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def catalog_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL (no trailing slash) of a seeded catalog service on a temp SQLite database; its
    admin API takes TEST_CATALOG_ADMIN_TOKEN."""
    workdir = tmp_path_factory.mktemp("catalog")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    proc = start_process(
        catalog_command(port, f"sqlite:///{workdir / 'catalog.db'}"),
        f"{base_url}/health",
        env={"CATALOG_ADMIN_TOKEN": TEST_CATALOG_ADMIN_TOKEN},
        log_path=workdir / "catalog.log",
    )
    try:
        yield base_url
    finally:
        stop_process(proc)


# -- the running assistant ------------------------------------------------------------------------------
MODEL_PATH = REPO_ROOT / "models" / "thai-eservice.tar.gz"
STACK = REPO_ROOT / "scripts" / "stack"
# Derived by scripts/stack from the ports unless set; a stale value would point the stack elsewhere.
_STACK_DERIVED = ("CATALOG_URL", "ACTION_ENDPOINT_URL", "RASA_URL", "MODELS_PORT", "MODEL_SERVER_URL",
                  "TRAINER_LOCK_FILE")
# The action server of the stack `rasa_url` started, if it started one (agent assist calls it directly).
_STARTED: dict[str, str] = {}


def _rasa_answers(url: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/", timeout=3) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _wait_for_webhook(url: str, timeout: float) -> None:
    """Until one message goes through the REST channel (model loaded, action server reachable)."""
    import json
    import os
    import time
    import urllib.error
    import urllib.request

    body = json.dumps({"sender": "conftest-warmup", "message": "สวัสดีค่ะ"}).encode()
    headers = {"Content-Type": "application/json"}
    if os.environ.get("REST_TOKEN"):
        headers["Authorization"] = f"Bearer {os.environ['REST_TOKEN']}"
    deadline = time.monotonic() + timeout
    while True:
        request = urllib.request.Request(f"{url}/webhooks/rest/webhook", data=body, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url}/webhooks/rest/webhook did not answer within {timeout:.0f}s")
        time.sleep(1)


@pytest.fixture(scope="session")
def rasa_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL (no trailing slash) of the real assistant: catalog, action server and Rasa.

    RASA_URL is used when it answers (`make test` starts one stack for every suite). Otherwise
    scripts/stack starts catalog, actions and Rasa on free ports with their own run directory and
    the tracker database `rasa_test`, and stops them at the end of the session.
    """
    import os
    import subprocess

    external = os.environ.get("RASA_URL", "").rstrip("/")
    if external and _rasa_answers(external):
        yield external
        return
    if not MODEL_PATH.exists():
        pytest.skip(f"no trained model at {MODEL_PATH}: run `make train` before the end-to-end tests")
    run_dir = tmp_path_factory.mktemp("stack")
    ports = {name: str(free_port()) for name in STACK_PORTS}
    env = {k: v for k, v in os.environ.items() if k not in _STACK_DERIVED}
    env.update(ports, RUN_DIR=str(run_dir), TRACKER_DB_NAME="rasa_test")
    env.setdefault("RASA_TOKEN", TEST_RASA_TOKEN)
    env.setdefault("CATALOG_ADMIN_TOKEN", TEST_CATALOG_ADMIN_TOKEN)
    env.setdefault("STACK_TIMEOUT", "600")
    url = f"http://127.0.0.1:{ports['RASA_PORT']}"
    try:
        up = subprocess.run(
            [str(STACK), "up", "catalog", "actions", "rasa"],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if up.returncode != 0:
            raise RuntimeError(f"scripts/stack up failed ({run_dir}):\n{up.stdout}\n{up.stderr}")
        # The REST channel's token (REST_TOKEN, else the one the stack made in its run folder),
        # where the tests and the gateways they start look for it.
        os.environ["REST_TOKEN"] = _rest_token(run_dir)
        _wait_for_webhook(url, timeout=180)
        _STARTED["actions_url"] = f"http://127.0.0.1:{ports['ACTIONS_PORT']}/webhook"
        _STARTED["catalog_url"] = f"http://127.0.0.1:{ports['CATALOG_PORT']}"
        yield url
    finally:
        subprocess.run([str(STACK), "down"], cwd=REPO_ROOT, env=env, capture_output=True, check=False)


@pytest.fixture(scope="session")
def rasa_token() -> str:
    """The token of the test stack's Rasa HTTP API (tracker events, parse)."""
    return _rasa_token()


@pytest.fixture(scope="session")
def rest_token(rasa_url: str) -> str:
    """The token of the running assistant's REST channel (bot/channels/rest.py)."""
    return _rest_token()


@pytest.fixture(scope="session")
def actions_url(rasa_url: str) -> str:
    """The action server's webhook next to `rasa_url`: the one started with it, else
    ACTION_ENDPOINT_URL (`make test` exports its test stack's)."""
    import os

    return _STARTED.get("actions_url") or os.environ.get("ACTION_ENDPOINT_URL") or "http://127.0.0.1:5055/webhook"


@pytest.fixture(scope="session")
def stack_catalog(rasa_url: str) -> tuple[str, str]:
    """(base URL, admin token) of the catalog the assistant at `rasa_url` answers from: the one
    started with it, else CATALOG_URL and CATALOG_ADMIN_TOKEN (`make test` exports its test stack's)."""
    import os

    url = _STARTED.get("catalog_url") or os.environ.get("CATALOG_URL") or "http://127.0.0.1:8001"
    return url.rstrip("/"), catalog_admin_token()
