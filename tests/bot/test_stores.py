"""The tracker store and the lock store, against the machine's PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import time
import uuid
from pathlib import Path
from typing import Any

import aio_pika
import pytest
import redis
import sqlalchemy as sa
from rasa.core.brokers.broker import EventBroker
from rasa.core.lock_store import LockStore
from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import read_endpoint_config

from bot.lock_store import AtomicRedisLockStore
from bot.tracker_store import FastSQLTrackerStore

pytestmark = pytest.mark.postgres  # and Redis
REPO_ROOT = Path(__file__).resolve().parents[2]
DOMAIN = Domain.load(str(REPO_ROOT / "domain.yml"))
DB_NAME = "rasa_store_test"
PG = {
    "host": os.environ.get("TRACKER_DB_HOST", "127.0.0.1"),
    "port": int(os.environ.get("TRACKER_DB_PORT", "5432")),
    "username": os.environ.get("TRACKER_DB_USER", "postgres"),
    "password": os.environ.get("TRACKER_DB_PASSWORD", ""),
}
REDIS = {"host": os.environ.get("REDIS_HOST", "127.0.0.1"), "port": int(os.environ.get("REDIS_PORT", "6379"))}
REDIS_TEST_DB = 9


@pytest.fixture(scope="module")
def database() -> str:
    admin = sa.create_engine(
        sa.engine.URL.create(
            "postgresql", PG["username"], PG["password"] or None, PG["host"], PG["port"], "postgres"
        ),
        isolation_level="AUTOCOMMIT",
    )
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{DB_NAME}"'))
            connection.execute(sa.text(f'CREATE DATABASE "{DB_NAME}"'))
    except sa.exc.OperationalError as error:
        pytest.fail(f"PostgreSQL at {PG['host']}:{PG['port']} is needed: {error}")
    return DB_NAME


def stores(database: str) -> tuple[SQLTrackerStore, FastSQLTrackerStore]:
    options = {"domain": DOMAIN, "dialect": "postgresql", "db": database, **PG}
    return SQLTrackerStore(**options), FastSQLTrackerStore(**options)


def one_turn(tracker: DialogueStateTracker, text: str) -> None:
    tracker.update(UserUttered(text, {"name": "ask_service", "confidence": 0.9},
                               parse_data={"intent": {"name": "ask_service", "confidence": 0.9},
                                           "entities": [], "text": text}))
    tracker.update(SlotSet("service", "passport"))
    tracker.update(ActionExecuted("action_answer_service"))
    tracker.update(BotUttered("ค่าธรรมเนียม 1,000 บาทค่ะ", {"custom": {"kind": "answer"}}))
    tracker.update(ActionExecuted("action_listen"))


def user_texts(tracker: DialogueStateTracker) -> list[str]:
    return [e.text for e in tracker.events if isinstance(e, UserUttered)]


def same_events(a: DialogueStateTracker, b: DialogueStateTracker) -> bool:
    return [e.as_dict() for e in a.events] == [e.as_dict() for e in b.events]


def new_tracker(sender: str) -> DialogueStateTracker:
    tracker = DialogueStateTracker(sender, DOMAIN.slots)
    for event in (ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")):
        tracker.update(event)
    return tracker


def endpoint_environment(monkeypatch: pytest.MonkeyPatch, database: str) -> None:
    """What scripts/stack exports for endpoints.yml, pointed at the test database and Redis db."""
    for key, value in {"ACTION_ENDPOINT_URL": "http://127.0.0.1:1/webhook",
                       "TRACKER_DB_HOST": PG["host"], "TRACKER_DB_PORT": str(PG["port"]),
                       "TRACKER_DB_NAME": database, "TRACKER_DB_USER": PG["username"],
                       "TRACKER_DB_PASSWORD": PG["password"], "REDIS_HOST": REDIS["host"],
                       "REDIS_PORT": str(REDIS["port"]), "REDIS_LOCK_DB": str(REDIS_TEST_DB),
                       "RABBITMQ_HOST": "127.0.0.1", "RABBITMQ_PORT": "5672", "RABBITMQ_USER": "guest",
                       "RABBITMQ_PASSWORD": "guest", "RABBITMQ_EXCHANGE": "rasa.test",
                       "RABBITMQ_QUEUE": "rasa_events.test",
                       "MODEL_SERVER_URL": "http://127.0.0.1:1/models/current"}.items():
        monkeypatch.setenv(key, value)


# -- tracker store ---------------------------------------------------------------------------
def test_endpoints_yml_builds_the_fast_sql_store(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Rasa falls back to an in-memory store, with only a warning, when a custom class does
    # not load: conversations would then be lost on restart.
    endpoint_environment(monkeypatch, database)
    config = read_endpoint_config(str(REPO_ROOT / "endpoints.yml"), "tracker_store")
    store = TrackerStore.create(config, DOMAIN)
    assert isinstance(getattr(store, "_tracker_store", store), FastSQLTrackerStore)


def test_fast_store_reads_and_writes_what_rasas_store_does(database: str) -> None:
    stock, fast = stores(database)
    sender = f"t-{uuid.uuid4()}"

    async def scenario() -> None:
        tracker = new_tracker(sender)
        one_turn(tracker, "ทำพาสปอร์ตกี่บาท")
        await fast.save(tracker)
        tracker = await stock.retrieve(sender)
        one_turn(tracker, "ใช้เอกสารอะไร")
        await stock.save(tracker)
        tracker = await fast.retrieve(sender)
        one_turn(tracker, "ต่ออายุได้ที่ไหน")
        await fast.save(tracker)
        from_fast = await fast.retrieve(sender)
        assert same_events(from_fast, await stock.retrieve(sender))
        assert user_texts(from_fast) == ["ทำพาสปอร์ตกี่บาท", "ใช้เอกสารอะไร", "ต่ออายุได้ที่ไหน"]

    asyncio.run(scenario())


def test_fast_store_returns_the_latest_session_only(database: str) -> None:
    stock, fast = stores(database)
    sender = f"t-{uuid.uuid4()}"

    async def scenario() -> None:
        tracker = new_tracker(sender)
        one_turn(tracker, "เก่า")
        await fast.save(tracker)
        time.sleep(0.01)
        tracker.update(ActionExecuted("action_session_start"))
        tracker.update(SessionStarted())
        one_turn(tracker, "ใหม่")
        await fast.save(tracker)
        latest = await fast.retrieve(sender)
        assert user_texts(latest) == ["ใหม่"]
        assert same_events(latest, await stock.retrieve(sender))
        # Saving the latest session again adds nothing.
        await fast.save(latest)
        assert user_texts(await stock.retrieve_full_tracker(sender)) == ["เก่า", "ใหม่"]

    asyncio.run(scenario())


class RecordingBroker(EventBroker):
    """What the store publishes, and how many events were stored when it did."""

    def __init__(self, database: str) -> None:
        self.published: list[tuple[dict, int]] = []
        self._engine = sa.create_engine(sa.engine.URL.create(
            "postgresql", PG["username"], PG["password"] or None, PG["host"], PG["port"], database))

    def publish(self, event: dict) -> None:
        with self._engine.connect() as connection:
            stored = connection.execute(sa.text("SELECT count(*) FROM events WHERE sender_id = :s"),
                                        {"s": event["sender_id"]}).scalar()
        self.published.append((event, stored))

    def is_ready(self) -> bool:
        return True


def test_endpoints_yml_publishes_to_the_stacks_own_rabbitmq_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint_environment(monkeypatch, DB_NAME)
    config = read_endpoint_config(str(REPO_ROOT / "endpoints.yml"), "event_broker")
    assert config.type == "bot.event_broker.LeanPikaEventBroker" and config.url == "127.0.0.1"
    assert config.kwargs["queues"] == ["rasa_events.test"] and config.kwargs["exchange_name"] == "rasa.test"


def test_lean_broker_publishes_what_rasas_pika_broker_publishes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Built by Rasa's own factory from endpoints.yml (a class Rasa cannot import would leave the
    stack with no broker and only a warning), against the machine's RabbitMQ."""
    queue = f"rasa_events.test-{uuid.uuid4().hex[:8]}"
    endpoint_environment(monkeypatch, DB_NAME)
    monkeypatch.setenv("RABBITMQ_EXCHANGE", f"rasa.{queue}")
    monkeypatch.setenv("RABBITMQ_QUEUE", queue)
    config = read_endpoint_config(str(REPO_ROOT / "endpoints.yml"), "event_broker")
    event = {"sender_id": "s-1", **UserUttered("ทำพาสปอร์ตกี่บาท", parse_data={
        "intent": {"name": "ask_service", "confidence": 0.9}, "entities": [], "text": "ทำพาสปอร์ตกี่บาท",
        "service_ranking": [{"name": "passport", "confidence": 0.9}]}).as_dict()}

    async def publish(broker_config: Any) -> tuple[str, bytes, Any]:
        broker = await EventBroker.create(broker_config)
        assert broker is not None and broker.is_ready()
        broker.publish(event)
        await asyncio.gather(*broker._background_tasks)
        connection = await aio_pika.connect(host="127.0.0.1", login="guest", password="guest")
        async with connection:
            channel = await connection.channel()
            received = await channel.get_queue(queue)
            message = await received.get(timeout=5)
            await message.ack()
            await received.delete(if_unused=False, if_empty=False)
            await (await channel.get_exchange(f"rasa.{queue}")).delete()
        await broker.close()
        return type(broker).__name__, message.body, message.delivery_mode

    lean_class, lean_body, lean_mode = asyncio.run(publish(config))
    config.type = "pika"
    rasa_class, rasa_body, rasa_mode = asyncio.run(publish(config))
    assert (lean_class, rasa_class) == ("LeanPikaEventBroker", "PikaEventBroker")
    assert (lean_body, lean_mode) == (rasa_body, rasa_mode) and json.loads(lean_body) == event


def test_fast_store_publishes_each_new_event_once_after_storing_it(database: str) -> None:
    options = {"domain": DOMAIN, "dialect": "postgresql", "db": database, **PG}
    broker = RecordingBroker(database)
    fast = FastSQLTrackerStore(**options, event_broker=broker)
    sender = f"t-{uuid.uuid4()}"

    async def scenario() -> None:
        tracker = new_tracker(sender)
        one_turn(tracker, "ทำพาสปอร์ตกี่บาท")
        await fast.save(tracker)
        tracker = await fast.retrieve(sender)
        one_turn(tracker, "ใช้เอกสารอะไร")
        await fast.save(tracker)
        await fast.save(tracker)  # nothing new: nothing published

    asyncio.run(scenario())
    stored = asyncio.run(fast.retrieve_full_tracker(sender))
    assert [event for event, _ in broker.published] == [
        {"sender_id": sender, **event.as_dict()} for event in stored.events
    ]
    # Each one published after its save was committed: a consumer reading the store finds it.
    assert [count for _, count in broker.published] == [8] * 8 + [13] * 5


def test_unknown_conversation_is_none(database: str) -> None:
    _, fast = stores(database)
    assert asyncio.run(fast.retrieve("nobody-" + uuid.uuid4().hex)) is None


# -- lock store ------------------------------------------------------------------------------
@pytest.fixture()
def lock_store() -> AtomicRedisLockStore:
    try:
        redis.Redis(**REDIS, db=REDIS_TEST_DB).ping()
    except redis.exceptions.ConnectionError as error:
        pytest.fail(f"Redis at {REDIS['host']}:{REDIS['port']} is needed: {error}")
    return AtomicRedisLockStore(**REDIS, db=REDIS_TEST_DB, key_prefix="test")


def test_endpoints_yml_builds_the_atomic_lock_store(monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint_environment(monkeypatch, DB_NAME)
    config = read_endpoint_config(str(REPO_ROOT / "endpoints.yml"), "lock_store")
    store = LockStore.create(config)
    assert isinstance(store, AtomicRedisLockStore)
    assert store.red.connection_pool.connection_kwargs["db"] == REDIS_TEST_DB


def test_lock_is_deleted_with_its_last_ticket(lock_store: AtomicRedisLockStore) -> None:
    conversation = uuid.uuid4().hex

    async def scenario() -> None:
        async with lock_store.lock(conversation):
            assert lock_store.get_lock(conversation) is not None
        assert lock_store.get_lock(conversation) is None

    asyncio.run(scenario())


def test_rasa_reads_the_lock_while_it_is_held(lock_store: AtomicRedisLockStore) -> None:
    conversation = uuid.uuid4().hex

    async def scenario() -> None:
        async with lock_store.lock(conversation):
            second = lock_store.issue_ticket(conversation)
            lock = lock_store.get_lock(conversation)
            assert [ticket.number for ticket in lock.tickets] == [0, 1]
            assert lock.is_locked(second) and lock.now_serving == 0
            lock_store.finish_serving(conversation, second)

    asyncio.run(scenario())


def test_a_holder_that_never_came_back_is_passed_over_when_its_ticket_expires(
    lock_store: AtomicRedisLockStore,
) -> None:
    conversation = uuid.uuid4().hex
    lock_store.issue_ticket(conversation, lock_lifetime=0.1)  # a worker that died holding it

    async def scenario() -> float:
        start = time.monotonic()
        async with lock_store.lock(conversation):
            return time.monotonic() - start

    assert 0.05 < asyncio.run(scenario()) < 2
    assert lock_store.get_lock(conversation) is None


def _hold_lock_many_times(conversation: str, rounds: int, log_key: str) -> None:
    """In a process of its own, like a second Rasa worker: take the lock, log enter/leave."""
    store = AtomicRedisLockStore(**REDIS, db=REDIS_TEST_DB, key_prefix="test")
    log = redis.Redis(**REDIS, db=REDIS_TEST_DB)

    async def one(i: int) -> None:
        async with store.lock(conversation, lock_lifetime=30):
            log.rpush(log_key, f"in {os.getpid()}-{i}")
            await asyncio.sleep(0.002)
            log.rpush(log_key, f"out {os.getpid()}-{i}")

    async def main() -> None:
        await asyncio.gather(*(one(i) for i in range(rounds)))

    asyncio.run(main())


def test_two_workers_never_hold_one_conversation_at_once(lock_store: AtomicRedisLockStore) -> None:
    conversation, log_key = uuid.uuid4().hex, f"log-{uuid.uuid4().hex}"
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_hold_lock_many_times, args=(conversation, 15, log_key)) for _ in range(3)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    log = [entry.decode() for entry in redis.Redis(**REDIS, db=REDIS_TEST_DB).lrange(log_key, 0, -1)]
    assert len(log) == 2 * 3 * 15
    # Strictly alternating: every holder leaves before the next one enters.
    for enter, leave in zip(log[::2], log[1::2], strict=True):
        assert enter.startswith("in ") and leave == "out " + enter[3:]
    assert lock_store.get_lock(conversation) is None
