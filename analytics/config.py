"""The analytics consumer's settings, from the environment (scripts/stack sets the defaults)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from analytics.tracker import tracker_db_url

DEFAULT_STAFF_DB_URL = "postgresql://postgres@127.0.0.1:5432/staff"


def _int(raw: str | None, default: int) -> int:
    try:
        return int(raw) if raw else default
    except ValueError:
        return default


def broker_names(tracker_db: str) -> tuple[str, str]:
    """The exchange and queue of one tracker database's events (as scripts/stack derives them):
    two stacks on one machine (the dev stack, the tests') must not read each other's events, and
    Rasa's fanout exchange would hand every queue bound to it every stack's events."""
    return f"rasa.{tracker_db}", f"rasa_events.{tracker_db}"


@dataclass(frozen=True)
class AnalyticsSettings:
    staff_db_url: str = DEFAULT_STAFF_DB_URL
    tracker_db_url: str = "postgresql://postgres@127.0.0.1:5432/rasa"
    rabbitmq_host: str = "127.0.0.1"
    rabbitmq_port: int = 5672
    rabbitmq_user: str = "guest"
    rabbitmq_password: str = "guest"
    exchange: str = "rasa.rasa"
    queue: str = "rasa_events.rasa"
    # The health check's port (loopback).
    port: int = 8002
    # Texts of turns older than this many days are cleared (the counts stay).
    retention_days: int = 90
    # How often the tracker store is read again to fill in what the broker lost.
    reconcile_seconds: int = 300
    # At the start, conversations with events in the last this many days are reconciled.
    startup_days: int = 2

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AnalyticsSettings:
        env = os.environ if env is None else env
        exchange, queue = broker_names(env.get("TRACKER_DB_NAME") or "rasa")
        return cls(
            staff_db_url=env.get("STAFF_DB_URL") or DEFAULT_STAFF_DB_URL,
            tracker_db_url=tracker_db_url(env),
            rabbitmq_host=env.get("RABBITMQ_HOST") or "127.0.0.1",
            rabbitmq_port=_int(env.get("RABBITMQ_PORT"), 5672),
            rabbitmq_user=env.get("RABBITMQ_USER") or "guest",
            rabbitmq_password=env.get("RABBITMQ_PASSWORD") or "guest",
            exchange=env.get("RABBITMQ_EXCHANGE") or exchange,
            queue=env.get("RABBITMQ_QUEUE") or queue,
            port=_int(env.get("ANALYTICS_PORT"), 8002),
            retention_days=max(1, _int(env.get("ANALYTICS_RETENTION_DAYS"), 90)),
            reconcile_seconds=max(5, _int(env.get("ANALYTICS_RECONCILE_SECONDS"), 300)),
            startup_days=max(0, _int(env.get("ANALYTICS_STARTUP_DAYS"), 2)),
        )
