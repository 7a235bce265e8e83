"""Fixtures for the staff side: a throwaway PostgreSQL database, the gateway app with its lifespan,
accounts made for one test each.

The database is `staff_test_<pid>` (this session's own) on the PostgreSQL of STAFF_DB_URL (the
machine's by default), dropped before and after the session; never the `staff` database itself.
Lockout counters live in the Redis of REDIS_URL under names made for this session, removed at
its end.
"""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
import redis
from fastapi.testclient import TestClient
from support import database_url, drop_database, free_port

from gateway.app import create_app
from gateway.config import DEFAULT_REDIS_URL, DEFAULT_STAFF_DB_URL, Settings
from staff.accounts import save_account

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

# One database per test session: a session drops its own at the start and the end, and two
# sessions at once (a developer's run beside CI's) must not drop each other's.
TEST_DB = f"staff_test_{os.getpid()}"
# Every account a test makes starts with this, so the session's lockout keys can be found again.
RUN_PREFIX = f"t{secrets.token_hex(3)}-"


@pytest.fixture(scope="session")
def staff_db_url() -> Iterator[str]:
    url = database_url(os.environ.get("STAFF_DB_URL") or DEFAULT_STAFF_DB_URL, TEST_DB)
    drop_database(url, TEST_DB)  # the gateway's start creates it again, with the schema
    yield url
    drop_database(url, TEST_DB)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    yield url
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"staff:login/{RUN_PREFIX}*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(scope="session")
def settings(staff_db_url: str, redis_url: str) -> Settings:
    # Nothing listens at rasa_url: these tests never reach the assistant.
    return Settings(
        rasa_url=f"http://127.0.0.1:{free_port()}", staff_db_url=staff_db_url, redis_url=redis_url
    )


@pytest.fixture(scope="session")
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def sql(staff_db_url: str) -> Iterator[Callable[..., list[dict[str, Any]]]]:
    """Run one statement on the test database; the rows as dicts (none for a statement without)."""
    from psycopg.rows import dict_row

    with psycopg.connect(staff_db_url, autocommit=True, row_factory=dict_row) as conn:

        def run(query: str, *params: Any) -> list[dict[str, Any]]:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []

        yield run


def _unique_name(label: str = "user") -> str:
    return f"{RUN_PREFIX}{label}-{secrets.token_hex(4)}"


@pytest.fixture
def unique_name() -> Callable[..., str]:
    """unique_name(label) -> a username no other test uses (and no earlier run: lockouts last)."""
    return _unique_name


@pytest.fixture
def make_account(client: TestClient) -> Callable[..., tuple[str, str]]:
    """make_account(role="agent", agency=None, display_name=None) -> (username, password), a new account."""

    def make(
        role: str = "agent", agency: str | None = None, display_name: str | None = None
    ) -> tuple[str, str]:
        username, password = _unique_name(role), secrets.token_urlsafe(12)
        save = functools.partial(
            save_account, client.app.state.staff_db, username, password, role, agency, display_name
        )
        assert client.portal is not None
        client.portal.call(save)
        return username, password

    return make


# ---- browsers (the staff pages' tests: test_console_browser.py, test_agency*_browser.py) -------------
# The `browser` fixture is tests/conftest.py's.

# How long a page waits for what it expects (an answer of the real assistant, on a busy machine).
ANSWER_MS = 30_000


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """new_page(desk=True): a page in a context of its own (a desk 1366x768, or a phone). Its
    `errors` are the page's uncaught script errors."""
    contexts: list[Any] = []

    def make(desk: bool = True) -> Page:
        if desk:
            context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="th-TH")
        else:
            context = browser.new_context(
                viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="th-TH"
            )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(ANSWER_MS)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.errors = errors  # type: ignore[attr-defined]
        return page

    yield make
    for context in contexts:
        context.close()
