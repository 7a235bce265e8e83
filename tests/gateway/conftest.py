"""Fixtures for the gateway tests: the LINE API double, the gateway in-process and as a process, a browser.

`rasa_url` (the real assistant) comes from tests/conftest.py. For gateway development before the bot is
ready, set GATEWAY_DEV_STUB_RASA to the path of a throwaway stub Rasa REST server kept outside the repo
(`1` means /tmp/stub_rasa.py); it is started with `--port N` and overrides `rasa_url`. Never set it in CI.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# tests/gateway (this folder, for gw_harness and line_double) is put on the path by pytest
# itself: a test folder without __init__.py is (pytest's default "prepend" import mode).
from gw_harness import ACCESS_TOKEN, InProcessGateway, line_settings
from line_double import LineApiDouble
from support import free_port, rasa_token, rest_token, staff_test_db_url, start_process, stop_process

from gateway.config import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]

if os.environ.get("GATEWAY_DEV_STUB_RASA"):

    @pytest.fixture(scope="session")
    def rasa_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
        script = os.environ["GATEWAY_DEV_STUB_RASA"]
        script = "/tmp/stub_rasa.py" if script == "1" else script
        port = free_port()
        log_path = tmp_path_factory.mktemp("stub-rasa") / "stub.log"
        proc = start_process(
            [sys.executable, script, "--port", str(port)],
            f"http://127.0.0.1:{port}/",
            timeout=20,
            log_path=log_path,
        )
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            stop_process(proc)


@pytest.fixture
def closed_port_url() -> str:
    """A URL where nothing listens: the assistant is down."""
    return f"http://127.0.0.1:{free_port()}"


# ---- LINE ----


@pytest.fixture(scope="session")
def _line_double() -> Iterator[LineApiDouble]:
    with LineApiDouble(ACCESS_TOKEN) as double:
        yield double


@pytest.fixture
def line_api(_line_double: LineApiDouble) -> LineApiDouble:
    _line_double.reset()
    return _line_double


@pytest.fixture
def gateway_factory() -> Iterator[Callable[[Settings], InProcessGateway]]:
    started: list[InProcessGateway] = []

    def make(settings: Settings) -> InProcessGateway:
        gateway = InProcessGateway(settings).start()
        started.append(gateway)
        return gateway

    yield make
    for gateway in started:
        gateway.stop()


@pytest.fixture
def line_gateway(
    rasa_url: str, line_api: LineApiDouble, gateway_factory: Callable[[Settings], InProcessGateway]
) -> InProcessGateway:
    return gateway_factory(line_settings(rasa_url, line_api))


@pytest.fixture
def line_gateway_rasa_down(
    closed_port_url: str, line_api: LineApiDouble, gateway_factory: Callable[[Settings], InProcessGateway]
) -> InProcessGateway:
    return gateway_factory(line_settings(closed_port_url, line_api, rasa_timeout=3.0))


# ---- web: the gateway as a real process (`python -m gateway`), one per assistant URL ----


class _ProcessPool:
    def __init__(self, workdir: Path) -> None:
        self._workdir = workdir
        self._procs: dict[str, tuple[Any, str]] = {}

    def get(self, rasa: str) -> str:
        if rasa not in self._procs:
            port = free_port()
            base_url = f"http://127.0.0.1:{port}"
            env = {
                "RASA_URL": rasa,
                "RASA_TIMEOUT": "10",
                "LINE_CHANNEL_SECRET": "",
                "LINE_CHANNEL_ACCESS_TOKEN": "",
                "WEB_ALLOWED_ORIGINS": "http://localhost:*,http://127.0.0.1:*",
                "RASA_TOKEN": rasa_token(),
                "REST_TOKEN": rest_token(),
                "STAFF_DB_URL": staff_test_db_url(),
            }
            proc = start_process(
                [sys.executable, "-m", "gateway", "--host", "127.0.0.1", "--port", str(port)],
                f"{base_url}/health",
                env=env,
                timeout=60,
                cwd=REPO_ROOT,
                log_path=self._workdir / f"gateway-{port}.log",
            )
            self._procs[rasa] = (proc, base_url)
        return self._procs[rasa][1]

    def close(self) -> None:
        for proc, _ in self._procs.values():
            stop_process(proc)


@pytest.fixture(scope="session")
def _gateway_processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_ProcessPool]:
    pool = _ProcessPool(tmp_path_factory.mktemp("gateway"))
    yield pool
    pool.close()


@pytest.fixture
def web_gateway(rasa_url: str, _gateway_processes: _ProcessPool) -> str:
    """Base URL of a gateway process talking to the real assistant (function scope fits any `rasa_url`)."""
    return _gateway_processes.get(rasa_url)


@pytest.fixture
def web_gateway_rasa_down(closed_port_url: str, _gateway_processes: _ProcessPool) -> str:
    return _gateway_processes.get(closed_port_url)


# ---- browser (the `browser` fixture is tests/conftest.py's) ----


@pytest.fixture
def phone_page(browser: Any) -> Iterator[Any]:
    """A phone-size page (390x844) in a fresh context, so storage starts empty."""
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="th-TH",
    )
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()
