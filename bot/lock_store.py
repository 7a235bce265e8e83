"""A Redis lock store that stays correct when several Rasa processes share it.

Rasa keeps one ticket lock per conversation so that two messages of one citizen are
handled one after the other. Its ``RedisLockStore`` reads the lock, changes it in Python
and writes it back: two Rasa workers (``SANIC_WORKERS``) or replicas that issue a ticket
at the same moment both read the same lock, hand out the same ticket number, and both
go ahead, and a worker that deletes a lock it thinks is finished can delete a ticket
another worker has just issued. Here every change to a lock is a Redis transaction
(``WATCH`` / ``MULTI``, retried by redis-py when another client changed the lock in
between), so ticket numbers are unique and a lock is only deleted when it is empty.

Rasa also waits a whole second between two looks at a busy lock; a citizen who sends
two messages in a row would wait that second for the second answer, so the wait here
is short.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, TypeVar

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

T = TypeVar("T")

# Seconds between two looks at a lock that another message of the conversation holds.
POLL_SECONDS = 0.02


class AtomicRedisLockStore(RedisLockStore):
    """``RedisLockStore`` whose read-change-write steps are Redis transactions."""

    def __init__(self, endpoint_config: EndpointConfig | None = None, **kwargs: Any) -> None:
        # Rasa builds a custom lock store from its endpoint: `url` is the Redis host.
        if endpoint_config is not None:
            kwargs = {"host": endpoint_config.url, **endpoint_config.kwargs, **kwargs}
        self.poll_seconds = float(kwargs.pop("poll_seconds", POLL_SECONDS))
        super().__init__(**kwargs)

    def _change(self, conversation_id: str, change: Callable[[TicketLock], T]) -> T:
        """Apply `change` to the stored lock (a new one if none) in one transaction."""
        key = self.key_prefix + conversation_id
        result: list[T] = []

        def transaction(pipe: Any) -> None:
            stored = pipe.get(key)
            lock = TicketLock.from_dict(json.loads(stored)) if stored else self.create_lock(conversation_id)
            result[:] = [change(lock)]
            pipe.multi()
            if lock.tickets:
                pipe.set(key, lock.dumps())
            else:
                pipe.delete(key)

        self.red.transaction(transaction, key)
        return result[0]

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        try:
            return self._change(conversation_id, lambda lock: lock.issue_ticket(lock_lifetime))
        except Exception as error:  # Rasa's callers expect a LockError
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def update_lock(self, conversation_id: str) -> None:
        self._change(conversation_id, TicketLock.remove_expired_tickets)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        self._change(conversation_id, lambda lock: lock.remove_ticket_for(ticket_number))

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        # The lock is deleted in the same transaction when its last ticket goes.
        self.finish_serving(conversation_id, ticket_number)

    async def _acquire_lock(
        self, conversation_id: str, ticket: int, wait_time_in_seconds: float
    ) -> TicketLock:
        wait = min(wait_time_in_seconds, self.poll_seconds)
        while True:
            lock = self.get_lock(conversation_id)
            if not lock:
                break
            if not lock.is_locked(ticket):
                return lock
            await asyncio.sleep(wait)
            self.update_lock(conversation_id)
        raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")
