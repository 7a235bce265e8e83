"""A Redis lock store that stays correct when several Rasa processes share it.

Rasa keeps one ticket lock per conversation so that two messages of one citizen are
handled one after the other. Its ``RedisLockStore`` reads the lock, changes it in Python
and writes it back: two Rasa workers (``SANIC_WORKERS``) or replicas that issue a ticket
at the same moment both read the same lock, hand out the same ticket number, and both
go ahead, and a worker that deletes a lock it thinks is finished can delete a ticket
another worker has just issued. Here every change to a lock is one Lua script, which
Redis runs atomically: ticket numbers are unique, and a lock is deleted only when its
last ticket goes. The stored lock is Rasa's own JSON, so Rasa's methods still read it.

A turn costs two round trips to Redis (take a ticket, which also says who is served;
give it back) instead of seven, and each one blocks the worker's event loop. A busy
lock is looked at every 20 ms, not every second as in Rasa: a citizen who sends two
messages in a row would wait that second for the second answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

from bot.patches import install

install()  # Rasa loads this store: see bot/patches.py

# Seconds between two looks at a lock that another message of the conversation holds.
POLL_SECONDS = 0.02

# KEYS[1]: the lock. ARGV: operation, now, conversation id, then the lifetime of a new
# ticket ("issue") or the ticket to give back ("finish"); "expire" only drops expired
# tickets. Returns {the ticket issued or 0, the ticket served now or -1 if no lock}.
# A ticket has expired when now > expires, as in rasa.core.lock.Ticket.
_CHANGE_LOCK = """
local operation, now, conversation = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local tickets = {}
local stored = redis.call('GET', KEYS[1])
if stored then
  for _, serialised in ipairs(cjson.decode(stored)['tickets'] or {}) do
    local ticket = cjson.decode(serialised)
    if now <= tonumber(ticket['expires']) then table.insert(tickets, ticket) end
  end
end
local issued = 0
if operation == 'issue' then
  issued = #tickets > 0 and tickets[#tickets]['number'] + 1 or 0
  table.insert(tickets, {number = issued, expires = now + tonumber(ARGV[4])})
elseif operation == 'finish' then
  for i, ticket in ipairs(tickets) do
    if ticket['number'] == tonumber(ARGV[4]) then table.remove(tickets, i) break end
  end
end
if #tickets == 0 then
  redis.call('DEL', KEYS[1])
  return {issued, -1}
end
local serialised = {}
for i, ticket in ipairs(tickets) do serialised[i] = cjson.encode(ticket) end
redis.call('SET', KEYS[1], cjson.encode({conversation_id = conversation, tickets = serialised}))
return {issued, tickets[1]['number']}
"""


class AtomicRedisLockStore(RedisLockStore):
    """``RedisLockStore`` whose lock changes are atomic Lua scripts."""

    def __init__(self, endpoint_config: EndpointConfig | None = None, **kwargs: Any) -> None:
        # Rasa builds a custom lock store from its endpoint: `url` is the Redis host.
        if endpoint_config is not None:
            kwargs = {"host": endpoint_config.url, **endpoint_config.kwargs, **kwargs}
        self.poll_seconds = float(kwargs.pop("poll_seconds", POLL_SECONDS))
        super().__init__(**kwargs)
        self._change_lock = self.red.register_script(_CHANGE_LOCK)

    def _change(self, conversation_id: str, operation: str, argument: float = 0) -> tuple[int, int]:
        """Apply one change; the ticket it issued, and the ticket served now (-1: no lock)."""
        issued, serving = self._change_lock(
            keys=[self.key_prefix + conversation_id],
            args=[operation, repr(time.time()), conversation_id, repr(argument)],
        )
        return int(issued), int(serving)

    def _issue(self, conversation_id: str, lock_lifetime: float) -> tuple[int, int]:
        try:
            return self._change(conversation_id, "issue", lock_lifetime)
        except Exception as error:  # Rasa's callers expect a LockError
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        return self._issue(conversation_id, lock_lifetime)[0]

    def update_lock(self, conversation_id: str) -> None:
        self._change(conversation_id, "expire")

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        self._change(conversation_id, "finish", ticket_number)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        # The lock is deleted in the same script when its last ticket goes.
        self.finish_serving(conversation_id, ticket_number)

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = 1,
    ) -> AsyncGenerator[TicketLock, None]:
        """Rasa's ticket lock: wait for this message's turn, then hold the conversation."""
        ticket, serving = self._issue(conversation_id, lock_lifetime)
        try:
            wait = min(wait_time_in_seconds, self.poll_seconds)
            while serving != ticket:
                if serving == -1:  # every ticket expired, ours too, as in Rasa
                    raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")
                await asyncio.sleep(wait)
                serving = self._change(conversation_id, "expire")[1]
            yield TicketLock(conversation_id)
        finally:
            self.cleanup(conversation_id, ticket)
