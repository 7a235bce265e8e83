"""LINE chats known only by a keyed hash, and the ids the pushes need kept encrypted.

Rasa's tracker store, the handoff desk and every log know a LINE user (or group, or room) as
`line:<HMAC-SHA256 of the id under PII_KEY>` and nothing more. Pushing an agent's message needs
the id itself, so the ids of chats handed to a person are kept in the staff database
(`line_recipient`), sealed with AES-GCM under a key derived from the same secret and bound to
their hash: a gateway that restarts still delivers what agents wrote meanwhile, and a copy of the
database without PII_KEY names nobody. An id is kept only while its chat needs pushes: once the
handoff is closed and everything for it is delivered, `forget_idle` deletes it.
"""

from __future__ import annotations

import os
import time

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from psycopg_pool import AsyncConnectionPool

from privacy import keyed_hash, masked_logger
from privacy.pseudonyms import subkey

log = masked_logger(__name__)

HASH_PURPOSE = "line-id"
SEAL_PURPOSE = "line-id-aes-gcm"
NONCE_BYTES = 12
# A sealed id is kept this long after the chat's last handoff turn even when nothing is pending,
# so a row is never taken away between a handoff's opening and the agent's first message.
IDLE_MINUTES = 10
# forget_idle runs after every delivery round (every few seconds); the deletion at most this often.
FORGET_EVERY_SECONDS = 60.0


def line_sender(chat_id: str, key: str) -> str:
    """The sender id of a LINE chat for Rasa and the desk: `line:` and the id's keyed hash."""
    return "line:" + keyed_hash(chat_id, key, HASH_PURPOSE)


class LineRecipients:
    def __init__(self, pool: AsyncConnectionPool | None, key: str) -> None:
        # No pool: the staff side is off, so no handoff can need a push; the hashes still work.
        self._pool = pool
        self._key = key
        self._aead = AESGCM(subkey(key, SEAL_PURPOSE))
        self._unreadable: set[str] = set()
        self._next_forget = 0.0

    def sender(self, chat_id: str) -> str:
        return line_sender(chat_id, self._key)

    def seal(self, sender: str, chat_id: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        # The sender is the associated data: a sealed id moved to another row does not open.
        return nonce + self._aead.encrypt(nonce, chat_id.encode(), sender.encode())

    def open(self, sender: str, sealed: bytes) -> str | None:
        try:
            return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], sender.encode()).decode()
        except InvalidTag:
            if sender not in self._unreadable:
                self._unreadable.add(sender)
                log.error("the LINE id of %s does not open: sealed under another PII_KEY?", sender[:16])
            return None

    async def remember(self, sender: str, chat_id: str) -> None:
        """Keep the chat's id for pushes (a handoff is open for it)."""
        if self._pool is None:
            return
        async with self._pool.connection() as conn:
            await conn.execute(
                """INSERT INTO line_recipient (sender, sealed) VALUES (%s, %s)
                   ON CONFLICT (sender) DO UPDATE SET sealed = EXCLUDED.sealed, seen_at = now()""",
                (sender, self.seal(sender, chat_id)),
            )

    async def recipient(self, sender: str) -> str | None:
        """The LINE id to push to for `sender`, or None when none is kept (or it does not open)."""
        if self._pool is None:
            return None
        async with self._pool.connection() as conn:
            cur = await conn.execute("SELECT sealed FROM line_recipient WHERE sender = %s", (sender,))
            row = await cur.fetchone()
        return self.open(sender, bytes(row["sealed"])) if row else None

    async def forget_idle(self) -> int:
        """Delete the ids no open handoff and no undelivered message needs; how many."""
        if self._pool is None or time.monotonic() < self._next_forget:
            return 0
        self._next_forget = time.monotonic() + FORGET_EVERY_SECONDS
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                """DELETE FROM line_recipient r
                    WHERE r.seen_at < now() - make_interval(mins => %s)
                      AND NOT EXISTS (SELECT 1 FROM handoff_conversation c
                                       WHERE c.sender = r.sender AND c.status <> 'closed')
                      AND NOT EXISTS (SELECT 1 FROM handoff_message m
                                        JOIN handoff_conversation c ON c.id = m.conversation_id
                                       WHERE c.sender = r.sender AND m.delivered_at IS NULL
                                         AND m.author IN ('agent', 'system'))""",
                (IDLE_MINUTES,),
            )
            return cur.rowcount
