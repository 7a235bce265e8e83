"""`make run` on a laptop: without PostgreSQL, Redis and RabbitMQ (here: pointed at a closed port)
scripts/stack runs Rasa on the embedded stores, says so in one line, and the web chat answers; the
staff side is off (503) and says why. With the servers (every other end-to-end test) it uses them."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support import STACK_PORTS, free_port

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "thai-eservice.tar.gz"
SENDER = "0123456789abcdef0123456789abcdef"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.needs_model,
    pytest.mark.skipif(not MODEL.exists(), reason="no trained model (make train)"),
]


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    run_dir = tmp_path_factory.mktemp("embedded")
    closed = str(free_port())
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "CATALOG_URL",
            "ACTION_ENDPOINT_URL",
            "RASA_URL",
            "REST_TOKEN",
            "STACK_ENDPOINTS",
            "STACK_STORES",
        )
    }
    env.update(
        {name: str(free_port()) for name in STACK_PORTS},
        RUN_DIR=str(run_dir),
        TRACKER_DB_PORT=closed,
        REDIS_PORT=closed,
        RABBITMQ_PORT=closed,
        STAFF_DB_URL=f"postgresql://postgres@127.0.0.1:{closed}/staff",
        REDIS_URL=f"redis://127.0.0.1:{closed}/2",
        STACK_TIMEOUT="600",
    )
    stack = [str(ROOT / "scripts" / "stack")]
    try:
        up = subprocess.run([*stack, "up"], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        assert up.returncode == 0, f"{up.stdout}\n{up.stderr}"
        yield f"http://127.0.0.1:{env['GATEWAY_PORT']}", up.stdout, run_dir
    finally:
        subprocess.run([*stack, "down"], cwd=ROOT, env=env, capture_output=True, check=False)


def test_the_stack_says_in_one_line_that_it_runs_on_embedded_stores(embedded: tuple[str, str, Path]) -> None:
    _, output, run_dir = embedded
    said = [line for line in output.splitlines() if line.startswith("stores: embedded")]
    assert len(said) == 1
    for words in (
        "SQLite tracker store",
        "in-process lock store",
        "one Rasa worker",
        "SQL event broker",
        "STACK_STORES=servers",
    ):
        assert words in said[0]
    assert "analytics:" not in output  # its consumer reads RabbitMQ: not started
    assert (run_dir / "stores").read_text().strip() == "endpoints-embedded.yml"


def test_the_web_chat_answers_and_the_conversation_is_kept_in_sqlite(embedded: tuple[str, str, Path]) -> None:
    gateway, _, run_dir = embedded
    for message in ("ทำพาสปอร์ตกี่บาท", "ต้องใช้เอกสารอะไรบ้าง"):
        reply = httpx.post(f"{gateway}/web/chat", json={"sender": SENDER, "message": message}, timeout=60)
        assert reply.status_code == 200
        assert reply.json()["envelope"]["kind"]
    assert (run_dir / "rasa.db").stat().st_size > 0
    assert (run_dir / "events.db").stat().st_size > 0


def test_the_staff_side_is_off_and_says_why(embedded: tuple[str, str, Path]) -> None:
    gateway, _, _ = embedded
    response = httpx.post(f"{gateway}/api/auth/login", json={"username": "x", "password": "y"}, timeout=10)
    assert response.status_code == 503
    assert "PostgreSQL" in response.json()["detail"]
