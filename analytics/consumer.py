"""The analytics consumer: Rasa's events from RabbitMQ into one row per turn, reconciled with the
tracker store, texts cleared after the retention period, unanswered questions embedded.

Rasa publishes without waiting for RabbitMQ (fire and forget), so an event may be lost or come
twice. Each row has a natural key and each write is idempotent (analytics/store.py); what the
stream missed, the periodic reconciliation rebuilds from the tracker store, which is the record.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import time
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import psycopg
from aio_pika.abc import AbstractIncomingMessage
from psycopg_pool import AsyncConnectionPool

from analytics import store
from analytics.config import AnalyticsSettings
from analytics.tracker import TrackerStore
from analytics.turns import (
    Change,
    Envelope,
    OpenTurn,
    Rating,
    TurnStream,
    build_turns,
    conversation_id,
    is_unanswered,
)
from contract.replies import FEEDBACK_UNHELPFUL
from privacy import masked_logger

log = masked_logger("analytics")

EMBED_BATCH = 32
# The embedder looks for new unanswered questions at least this often, and at once when told.
EMBED_IDLE_SECONDS = 30.0


def text_cutoff(retention_days: int, now: float | None = None) -> float:
    """Turns before this time (seconds since 1970) keep no text."""
    return (time.time() if now is None else now) - retention_days * 86400


@dataclass
class ReconcileResult:
    conversations: int = 0
    turns: int = 0


async def reconcile(
    pool: AsyncConnectionPool, tracker: TrackerStore, since: float, retention_days: int
) -> ReconcileResult:
    """Every conversation with an event since `since`, its rows rebuilt from the tracker store."""
    result = ReconcileResult()
    cutoff = text_cutoff(retention_days)
    async for sender, events in tracker.iter_conversations(since):
        turns = build_turns(sender, events, text_until=cutoff)
        stamps = [e["timestamp"] for e in events if isinstance(e.get("timestamp"), int | float)]
        known_until = max(stamps, default=0.0)
        async with pool.connection() as conn:
            written = await store.replace_conversation(conn, conversation_id(sender), turns, known_until)
        result.turns += written
        result.conversations += 1
    return result


async def purge(pool: AsyncConnectionPool, retention_days: int) -> int:
    cutoff = dt.datetime.fromtimestamp(text_cutoff(retention_days), dt.UTC)
    async with pool.connection() as conn:
        return await store.purge(conn, cutoff)


async def embed_missing(pool: AsyncConnectionPool, limit: int = EMBED_BATCH) -> int:
    """Embed up to `limit` unanswered questions that have no vector yet; how many were."""
    from analytics.embed import embed

    async with pool.connection() as conn:
        rows = await store.texts_to_embed(conn, limit)
    if not rows:
        return 0
    vectors = await asyncio.to_thread(embed, [r["text"] for r in rows])
    async with pool.connection() as conn:
        await store.save_embeddings(
            conn, {r["text_hash"]: v.tolist() for r, v in zip(rows, vectors, strict=True)}
        )
    return len(rows)


@dataclass
class Health:
    connected: bool = False
    events: int = 0
    turns: int = 0
    last_event_at: float | None = None
    last_reconcile_at: float | None = None
    errors: int = 0
    started_at: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.connected else "connecting",
            "broker_connected": self.connected,
            "events": self.events,
            "turns": self.turns,
            "last_event_at": self.last_event_at,
            "last_reconcile_at": self.last_reconcile_at,
            "errors": self.errors,
        }


class Consumer:
    def __init__(self, settings: AnalyticsSettings) -> None:
        self.settings = settings
        self.stream = TurnStream()
        self.health = Health()
        self._embed_wanted = asyncio.Event()
        self._pool: AsyncConnectionPool | None = None
        self._tracker = TrackerStore(settings.tracker_db_url)
        self._reconcile_lock = asyncio.Lock()

    @property
    def pool(self) -> AsyncConnectionPool:
        assert self._pool is not None, "run() opens the pool"
        return self._pool

    # ---- one event -------------------------------------------------------------------------------

    async def handle(self, body: dict[str, Any]) -> None:
        """One event from the broker: the changes it makes to the table, written."""
        self.health.events += 1
        sender = body.get("sender_id")
        if body.get("event") == "user" and isinstance(sender, str) and self.stream.session_of(sender) is None:
            # After a restart the session's start went by unseen; the tracker store has it.
            timestamp = body.get("timestamp")
            if isinstance(timestamp, int | float):
                try:
                    session = await self._tracker.session_at(sender, float(timestamp))
                except psycopg.Error as exc:
                    # Not worth holding the stream up: reconciliation fills the session in.
                    log.warning("tracker store not read for a session start: %s", exc)
                    session = None
                self.stream.set_session(sender, session)
        changes = self.stream.feed(body, text_until=text_cutoff(self.settings.retention_days))
        if changes:
            await self.apply(changes)

    async def apply(self, changes: list[Change]) -> None:
        async with self.pool.connection() as conn:
            for change in changes:
                if isinstance(change, OpenTurn):
                    await store.open_turn(conn, change.turn)
                    self.health.turns += 1
                elif isinstance(change, Envelope):
                    await store.close_turn(conn, change.turn)
                    if is_unanswered(change.turn.kind, change.turn.intent, None):
                        self._embed_wanted.set()
                elif isinstance(change, Rating):
                    await store.rate(conn, change.conversation, change.before_ts, change.value)
                    if change.value == FEEDBACK_UNHELPFUL:
                        self._embed_wanted.set()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        try:
            body = json.loads(message.body)
        except ValueError:
            log.warning("an event that is not JSON was dropped")
            await message.ack()
            return
        if not isinstance(body, dict):
            await message.ack()
            return
        try:
            await self.handle(body)
        except Exception:
            # The database is away: the event comes back; meanwhile do not spin on it.
            self.health.errors += 1
            log.exception("writing an event failed; it is put back on the queue")
            await asyncio.sleep(1.0)
            await message.nack(requeue=True)
            return
        self.health.last_event_at = time.time()
        await message.ack()

    # ---- loops -----------------------------------------------------------------------------------

    async def consume(self) -> None:
        """Read the queue for ever, connecting again after RabbitMQ went away."""
        s = self.settings
        while True:
            try:
                connection = await aio_pika.connect_robust(
                    host=s.rabbitmq_host, port=s.rabbitmq_port, login=s.rabbitmq_user,
                    password=s.rabbitmq_password,
                )  # fmt: skip
                async with connection:
                    channel = await connection.channel()
                    # Handled one at a time, in order (a conversation's events depend on those before it).
                    await channel.set_qos(prefetch_count=50)
                    # Declared exactly as Rasa's PikaEventBroker does (rasa/core/brokers/pika.py: a
                    # fanout exchange, a durable queue bound to it), so either may start first.
                    exchange = await channel.declare_exchange(s.exchange, aio_pika.ExchangeType.FANOUT)
                    queue = await channel.declare_queue(s.queue, durable=True)
                    await queue.bind(exchange, "")
                    self.health.connected = True
                    log.info("reading %s (exchange %s)", s.queue, s.exchange)
                    async with queue.iterator() as messages:
                        async for message in messages:
                            await self._on_message(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.health.connected = False
                log.warning("RabbitMQ at %s:%d: %s; trying again", s.rabbitmq_host, s.rabbitmq_port, exc)
                await asyncio.sleep(2.0)

    async def reconcile_once(self, since: float) -> ReconcileResult:
        async with self._reconcile_lock:
            started = time.time()
            result = await reconcile(self.pool, self._tracker, since, self.settings.retention_days)
            cleared = await purge(self.pool, self.settings.retention_days)
            self.health.last_reconcile_at = started
            log.info(
                "reconciled %d conversations (%d turns) since %s; %d texts past retention cleared",
                result.conversations, result.turns, dt.datetime.fromtimestamp(since, dt.UTC).isoformat(),
                cleared,
            )  # fmt: skip
            self._embed_wanted.set()
            return result

    async def reconcile_forever(self) -> None:
        interval = self.settings.reconcile_seconds
        since = time.time() - self.settings.startup_days * 86400
        while True:
            started = time.time()
            try:
                await self.reconcile_once(since)
                # The next run reads again a margin of the last interval: a turn saved while this
                # one read is not missed.
                since = started - 2 * interval
            except asyncio.CancelledError:
                raise
            except psycopg.OperationalError as exc:
                # No tracker database yet (Rasa creates it) or PostgreSQL away: no traceback each time.
                self.health.errors += 1
                log.warning("reconciliation could not read a database (%s); trying again later", exc)
            except Exception:
                self.health.errors += 1
                log.exception("reconciliation failed; trying again at the next interval")
            await asyncio.sleep(interval)

    async def embed_forever(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._embed_wanted.wait(), EMBED_IDLE_SECONDS)
            self._embed_wanted.clear()
            try:
                while await embed_missing(self.pool) == EMBED_BATCH:
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                self.health.errors += 1
                log.exception("embedding unanswered questions failed")

    # ---- health ----------------------------------------------------------------------------------

    async def _health_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass
            path = request.split()[1].decode() if len(request.split()) > 1 else "/"
            if path.split("?")[0] != "/health":
                status, body = "404 Not Found", {"detail": "Not Found"}
            else:
                ok = self.health.connected
                status = "200 OK" if ok else "503 Service Unavailable"
                body = self.health.to_dict()
            data = json.dumps(body).encode()
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n"
                f"Connection: close\r\n\r\n".encode()
                + data
            )
            await writer.drain()
        except (TimeoutError, ConnectionError, IndexError):
            pass
        finally:
            writer.close()

    async def run(self) -> None:
        self._pool = await store.open_store(self.settings.staff_db_url)
        server = await asyncio.start_server(self._health_client, "127.0.0.1", self.settings.port)
        log.info("health at http://127.0.0.1:%d/health", self.settings.port)
        tasks = [
            asyncio.create_task(self.consume(), name="consume"),
            asyncio.create_task(self.reconcile_forever(), name="reconcile"),
            asyncio.create_task(self.embed_forever(), name="embed"),
        ]
        try:
            async with server:
                await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._tracker.close()
            await self.pool.close()
