"""Shared fixtures. Standard library + pytest only: loaded by the Rasa env (3.10, no fastapi) too."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
# `support` lives next to this file and the project packages at the repo root; neither is
# on sys.path when pytest is started as `.venv/<env>/bin/pytest tests/...`.
for path in (str(TESTS_DIR), str(REPO_ROOT)):
    if path not in sys.path:
        sys.path.insert(0, path)

from support import catalog_command, free_port, start_process, stop_process  # noqa: E402


@pytest.fixture(scope="session")
def catalog_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL (no trailing slash) of a seeded catalog service on a temp SQLite database."""
    workdir = tmp_path_factory.mktemp("catalog")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    proc = start_process(
        catalog_command(port, f"sqlite:///{workdir / 'catalog.db'}"),
        f"{base_url}/health",
        log_path=workdir / "catalog.log",
    )
    try:
        yield base_url
    finally:
        stop_process(proc)
