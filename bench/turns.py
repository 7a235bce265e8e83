"""CPU time of Rasa's own work for a turn, in one process, without HTTP or other users.

    make up    # the action server, PostgreSQL and Redis it talks to
    PYTHONPATH=. .venv/rasa/bin/python -m bench.turns [--turns 200] [--profile 40]

Plays questions from the training data (four to a conversation) through
`Agent.handle_message` with the stores and action server of endpoints.yml, and prints
the CPU time a turn of this process (NLU, policies, stores, action calls; not the action
server's). `--profile N` also prints the N dearest functions by cumulative CPU time
(cProfile, which slows Python code more than C code such as e5). Training questions are
easier than real ones, so e5 runs on fewer of them: the NLU share is a lower bound.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import os
import pstats
import random
import time
import uuid

os.environ.setdefault("PYTHAINLP_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# As scripts/stack runs Rasa: one thread per numeric library, and its endpoints.yml defaults.
for name, value in {
    "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
    "ACTION_ENDPOINT_URL": "http://127.0.0.1:5055/webhook", "TRACKER_DB_HOST": "127.0.0.1",
    "TRACKER_DB_PORT": "5432", "TRACKER_DB_NAME": "rasa", "TRACKER_DB_USER": "postgres",
    "TRACKER_DB_PASSWORD": "", "REDIS_HOST": "127.0.0.1", "REDIS_PORT": "6379", "REDIS_LOCK_DB": "1",
    # Read with the rest of endpoints.yml, though this benchmark's store publishes nowhere.
    "RABBITMQ_HOST": "127.0.0.1", "RABBITMQ_PORT": "5672", "RABBITMQ_USER": "guest",
    "RABBITMQ_PASSWORD": "guest", "RABBITMQ_EXCHANGE": "rasa.rasa", "RABBITMQ_QUEUE": "rasa_events.rasa",
    # Read too; this benchmark loads its model from the file.
    "MODEL_SERVER_URL": "http://127.0.0.1:5006/models/current",
}.items():
    os.environ.setdefault(name, value)

from rasa.core.agent import Agent  # noqa: E402
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage  # noqa: E402
from rasa.core.lock_store import LockStore  # noqa: E402
from rasa.core.tracker_store import TrackerStore  # noqa: E402
from rasa.core.utils import AvailableEndpoints  # noqa: E402
from rasa.shared.nlu.training_data.loading import load_data  # noqa: E402
from rasa.utils.log_utils import configure_structlog  # noqa: E402

import bot.nlu  # noqa: E402,F401  (Rasa patches, our components)


async def play(agent: Agent, texts: list[str]) -> None:
    conversation = uuid.uuid4().hex[:8]
    for i, text in enumerate(texts):
        sender = f"turns-{conversation}-{i // 4}"
        await agent.handle_message(UserMessage(text, CollectingOutputChannel(), sender))


async def measure(agent: Agent, texts: list[str], profiler: cProfile.Profile | None) -> None:
    await play(agent, texts[:20])  # warm up
    start = time.process_time()
    if profiler:
        profiler.enable()
    await play(agent, texts)
    if profiler:
        profiler.disable()
    print(f"CPU a turn in Rasa's process: {1000 * (time.process_time() - start) / len(texts):.1f} ms "
          f"({len(texts)} turns{', under cProfile' if profiler else ''})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--profile", type=int, default=0, metavar="N")
    parser.add_argument("--model", default="models/thai-eservice.tar.gz")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    configure_structlog(logging.WARNING)

    questions = [m.get("text") for m in load_data("data/nlu").training_examples
                 if m.get("text") and m.get("intent") == "ask_service"]
    texts = random.Random(2).sample(questions, args.turns)
    endpoints = AvailableEndpoints.read_endpoints("endpoints.yml")
    agent = Agent.load(
        args.model,
        action_endpoint=endpoints.action,
        tracker_store=TrackerStore.create(endpoints.tracker_store),
        lock_store=LockStore.create(endpoints.lock_store),
    )
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    asyncio.run(measure(agent, texts, profiler))
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.profile)


if __name__ == "__main__":
    main()
