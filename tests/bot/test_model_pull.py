"""A Rasa worker pulls the live model from the model server and keeps answering while it loads it.

Rasa's own `_update_model_from_server` loads a pulled model on the event loop, which then answers
nobody for seconds; bot/patches.py builds it in a thread. Here the real model server
(staff/models.py) serves the trained model to an agent, while a ticker on the same event loop
measures the longest time the loop was not free.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import rasa.core.agent as rasa_agent
from rasa.core.agent import Agent
from rasa.utils.endpoints import EndpointConfig
from support import free_port

from bot import patches
from staff.models import ModelServer, Rollout, model_id_of, model_of_etag

pytestmark = pytest.mark.needs_model
MODEL = Path(__file__).resolve().parents[2] / "models" / "thai-eservice.tar.gz"


@pytest.fixture
def model_server(tmp_path: Path) -> Iterator[str]:
    if not MODEL.exists():
        pytest.skip("no trained model: make train")
    server = ModelServer(("127.0.0.1", free_port()), tmp_path / "store", MODEL, Rollout(pull_seconds=1))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/models/current"
    server.shutdown()
    server.server_close()


async def pull_while_ticking(url: str, agent: Agent) -> float:
    """Pull (Rasa's module function, patched or not) and return the longest stall of the event loop."""
    longest = 0.0
    done = asyncio.Event()

    async def tick() -> None:
        nonlocal longest
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            longest = max(longest, now - last)
            last = now

    ticker = asyncio.create_task(tick())
    await rasa_agent._update_model_from_server(EndpointConfig(url=url), agent)
    done.set()
    await ticker
    return longest


def test_the_pulled_model_is_loaded_without_stalling_the_worker(model_server: str) -> None:
    assert patches.install()
    agent = Agent()
    stall = asyncio.run(pull_while_ticking(model_server, agent))
    assert agent.is_ready()
    assert agent.model_id == model_id_of(MODEL)
    assert model_of_etag(agent.fingerprint.strip('"')) == agent.model_id
    # Loading this model takes seconds; the loop stays free but for the GIL's slices and the swap.
    assert stall < 1.0, f"the event loop stalled for {stall:.2f}s"
    # The same model again: 304, nothing loaded.
    processor = agent.processor
    asyncio.run(pull_while_ticking(model_server, agent))
    assert agent.processor is processor


def test_the_new_model_answers_at_once(model_server: str) -> None:
    assert patches.install()
    agent = Agent()
    asyncio.run(pull_while_ticking(model_server, agent))
    started = time.perf_counter()
    parse = asyncio.run(agent.parse_message("ต่อภาษีรถยนต์ออนไลน์ได้ไหม"))
    # Warmed up in the thread: e5 and the tokenizer were loaded before the swap.
    assert time.perf_counter() - started < 1.0
    assert parse["service"]["name"] == "vehicle-tax"
