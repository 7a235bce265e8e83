"""The handoff desk: conversations handed to a person, their messages, and callback requests.

PostgreSQL holds everything (nothing typed by either side is lost when a page reloads or a
process restarts); every change is also published on the event bus for the live pages.
Citizens' text is masked before it is stored; an agent's text is stored as written, since it
is delivered to the citizen verbatim.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from privacy import mask
from staff.events import QUEUE_CHANNEL, EventBus, citizen_channel

WAITING, TAKEN, CLOSED = "waiting", "taken", "closed"
# How a conversation ends; `released` hands it back to the bot without a verdict.
OUTCOMES = ("answered", "not_public_service", "referred", "no_response", "other", "released")
TRANSCRIPT_LIMIT = 50
# What the citizen is told, in their chat, when a person takes over and when the bot is back.
TAKEN_TH = "เจ้าหน้าที่{name}รับเรื่องแล้วค่ะ พิมพ์คุยต่อได้เลย"
BACK_TO_BOT_TH = "เจ้าหน้าที่ส่งเรื่องกลับให้ผู้ช่วยอัตโนมัติแล้วค่ะ พิมพ์ถามต่อได้เลยค่ะ"


class NotFound(Exception):
    pass


class HeldByOther(Exception):
    """Another agent holds the conversation (409)."""

    def __init__(self, agent: str | None) -> None:
        super().__init__(agent)
        self.agent = agent


class NotHolder(Exception):
    """Only the agent holding the conversation may do that (409)."""


@dataclass(frozen=True)
class Held:
    """An open handoff, as the gateway's routing sees it."""

    id: str
    status: str
    agent: str | None
    agent_name: str | None
    channel: str


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _masked(item: dict[str, Any]) -> str:
    # The bot's own words come from the catalog (an agency's phone number is not personal
    # data); it can only echo what the channel had masked already.
    return mask(item["text"]) if item["from"] == "citizen" else item["text"]


def _message_view(row: dict[str, Any]) -> dict[str, Any]:
    return {"from": row["author"], "text": row["text"], "at": _iso(row["at"]), "agent": row["display_name"]}


class HandoffDesk:
    def __init__(self, pool: AsyncConnectionPool, bus: EventBus) -> None:
        self._pool = pool
        self._bus = bus

    # ---- the citizen's side ------------------------------------------------------------------
    async def held(self, sender: str) -> Held | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                """SELECT c.id, c.status, c.agent, u.display_name AS agent_name, c.channel
                     FROM handoff_conversation c LEFT JOIN staff_user u ON u.username = c.agent
                    WHERE c.sender = %s AND c.status <> 'closed'""",
                (sender,),
            )
            row = await cur.fetchone()
        return Held(**row) if row else None

    async def open(
        self, sender: str, channel: str, summary: dict[str, Any], transcript: list[dict[str, Any]]
    ) -> tuple[Held, int]:
        """Put the conversation in the queue (once: a second handoff finds the open one).

        Returns it and the citizen's place in the queue (1 = next).
        """
        conversation_id = secrets.token_hex(8)
        async with self._pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                """INSERT INTO handoff_conversation (id, sender, channel, status, summary)
                   VALUES (%s, %s, %s, 'waiting', %s)
                   ON CONFLICT (sender) WHERE status <> 'closed' DO NOTHING RETURNING id""",
                (conversation_id, sender, channel, Jsonb(summary)),
            )
            created = await cur.fetchone() is not None
            if created:
                for item in transcript[-TRANSCRIPT_LIMIT:]:
                    await conn.execute(
                        "INSERT INTO handoff_message (conversation_id, author, text, at, delivered_at)"
                        " VALUES (%s, %s, %s, coalesce(%s, now()), now())",
                        (conversation_id, item["from"], _masked(item), item.get("at")),
                    )
        held = await self.held(sender)
        assert held is not None
        if created:
            await self._bus.publish(
                QUEUE_CHANNEL, {"type": "queue", "conversation_id": held.id, "change": "opened"}
            )
        return held, await self.position(held.id)

    async def position(self, conversation_id: str) -> int:
        """Place in the queue: 1 for the longest waiting; 0 once an agent has it."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                """SELECT count(*) AS ahead FROM handoff_conversation w, handoff_conversation c
                    WHERE c.id = %s AND c.status = 'waiting' AND w.status = 'waiting'
                      AND (w.waiting_since, w.id) <= (c.waiting_since, c.id)""",
                (conversation_id,),
            )
            row = await cur.fetchone()
        return int(row["ahead"]) if row else 0

    async def citizen_message(self, held: Held, text: str) -> None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "INSERT INTO handoff_message (conversation_id, author, text, delivered_at)"
                " VALUES (%s, 'citizen', %s, now()) RETURNING *",
                (held.id, mask(text)),
            )
            row = await cur.fetchone()
        await self._bus.publish(
            QUEUE_CHANNEL, {"type": "message", "conversation_id": held.id, "message": _message_view(row)}
        )

    async def updates(self, sender: str, after: int) -> tuple[list[dict[str, Any]], int]:
        """What people wrote to this citizen after message id `after`, and the new cursor."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                """SELECT m.* FROM handoff_message m JOIN handoff_conversation c ON c.id = m.conversation_id
                    WHERE c.sender = %s AND m.author IN ('agent', 'system') AND m.id > %s
                    ORDER BY m.id""",
                (sender, after),
            )
            rows = await cur.fetchall()
        messages = [self.citizen_view(row) for row in rows]
        return messages, (rows[-1]["id"] if rows else after)

    @staticmethod
    def citizen_view(row: dict[str, Any]) -> dict[str, Any]:
        view = {
            "type": "text",
            "text": row["text"],
            "from": row["author"],
            "at": _iso(row["at"]),
            "cursor": str(row["id"]),
        }
        if row["author"] == "agent":
            view["agent"] = row["display_name"]
        if row.get("event"):
            # A page that polls instead of listening learns of the change from the message.
            view["event"] = row["event"]
        return view

    # ---- the agents' side --------------------------------------------------------------------
    async def queue(self) -> list[dict[str, Any]]:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT * FROM handoff_conversation WHERE status <> 'closed' ORDER BY waiting_since, id"
            )
            conversations = await cur.fetchall()
            cur = await conn.execute(
                """SELECT m.* FROM handoff_message m JOIN handoff_conversation c ON c.id = m.conversation_id
                    WHERE c.status <> 'closed' ORDER BY m.id"""
            )
            messages = await cur.fetchall()
        transcripts: dict[str, list[dict[str, Any]]] = {}
        for row in messages:
            transcripts.setdefault(row["conversation_id"], []).append(_message_view(row))
        return [
            {
                "id": c["id"],
                "sender": c["sender"],
                "channel": c["channel"],
                "status": c["status"],
                "agent": c["agent"],
                "waiting_since": _iso(c["waiting_since"]),
                "summary": c["summary"],
                "transcript": transcripts.get(c["id"], []),
            }
            for c in conversations
        ]

    async def _conversation(self, conn: Any, conversation_id: str) -> dict[str, Any]:
        cur = await conn.execute("SELECT * FROM handoff_conversation WHERE id = %s", (conversation_id,))
        row = await cur.fetchone()
        if row is None:
            raise NotFound(conversation_id)
        return row

    async def take(self, conversation_id: str, username: str, display_name: str) -> dict[str, Any]:
        """The agent holds the conversation; exactly one of two agents taking at once wins.

        The row lock makes the second of two concurrent takers re-read the row, see the first
        one's agent and match nothing. Taking again what one holds already changes nothing.
        """
        async with self._pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                """UPDATE handoff_conversation SET status = 'taken', agent = %s, taken_at = now()
                    WHERE id = %s AND status = 'waiting' AND agent IS NULL RETURNING *""",
                (username, conversation_id),
            )
            row = await cur.fetchone()
            if row is None:
                current = await self._conversation(conn, conversation_id)
                if current["status"] == CLOSED:
                    raise NotFound(conversation_id)
                if current["agent"] != username:
                    raise HeldByOther(current["agent"])
                return current
            notice = await self._system_message(
                conn, conversation_id, TAKEN_TH.format(name=f" {display_name} "), "taken"
            )
        await self._bus.publish(
            QUEUE_CHANNEL, {"type": "queue", "conversation_id": conversation_id, "change": "taken"}
        )
        await self._bus.publish(citizen_channel(row["sender"]), {"type": "taken", "agent": display_name})
        await self._announce(row, notice)
        return row

    async def _system_message(self, conn: Any, conversation_id: str, text: str, event: str) -> dict[str, Any]:
        cur = await conn.execute(
            "INSERT INTO handoff_message (conversation_id, author, text, event)"
            " VALUES (%s, 'system', %s, %s) RETURNING *",
            (conversation_id, text, event),
        )
        return await cur.fetchone()

    async def holding(self, conversation_id: str, username: str) -> dict[str, Any]:
        """The open conversation `username` holds (NotFound, NotHolder otherwise)."""
        async with self._pool.connection() as conn:
            return await self._holding(conn, conversation_id, username)

    async def open_conversation(self, conversation_id: str) -> dict[str, Any]:
        async with self._pool.connection() as conn:
            row = await self._conversation(conn, conversation_id)
        if row["status"] == CLOSED:
            raise NotFound(conversation_id)
        return row

    async def _holding(self, conn: Any, conversation_id: str, username: str) -> dict[str, Any]:
        row = await self._conversation(conn, conversation_id)
        if row["status"] == CLOSED:
            raise NotFound(conversation_id)
        if row["agent"] != username:
            raise NotHolder(conversation_id)
        return row

    async def agent_message(
        self, conversation_id: str, username: str, display_name: str, text: str
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Store the agent's message for delivery; returns (conversation, message row)."""
        async with self._pool.connection() as conn, conn.transaction():
            conversation = await self._holding(conn, conversation_id, username)
            cur = await conn.execute(
                "INSERT INTO handoff_message (conversation_id, author, agent, display_name, text)"
                " VALUES (%s, 'agent', %s, %s, %s) RETURNING *",
                (conversation_id, username, display_name, text),
            )
            message = await cur.fetchone()
        await self._announce(conversation, message)
        return conversation, message

    async def _announce(self, conversation: dict[str, Any], message: dict[str, Any]) -> None:
        await self._bus.publish(
            QUEUE_CHANNEL,
            {"type": "message", "conversation_id": conversation["id"], "message": _message_view(message)},
        )
        await self._bus.publish(
            citizen_channel(conversation["sender"]),
            {"type": "message", "message": self.citizen_view(message), "cursor": str(message["id"])},
        )

    async def forward(self, conversation_id: str, username: str, to: str) -> None:
        async with self._pool.connection() as conn, conn.transaction():
            await self._holding(conn, conversation_id, username)
            cur = await conn.execute(
                "SELECT 1 FROM staff_user WHERE username = %s AND role IN ('agent', 'supervisor')", (to,)
            )
            if await cur.fetchone() is None:
                raise NotFound(to)
            await conn.execute(
                "UPDATE handoff_conversation SET agent = %s, taken_at = now() WHERE id = %s",
                (to, conversation_id),
            )
        await self._bus.publish(
            QUEUE_CHANNEL,
            {"type": "queue", "conversation_id": conversation_id, "change": "forwarded", "to": to},
        )

    async def close(
        self, conversation_id: str, username: str, outcome: str, note: str = "", *, force: bool = False
    ) -> dict[str, Any]:
        """End the handoff with an outcome; the caller resumes the bot. `force`: a supervisor."""
        async with self._pool.connection() as conn, conn.transaction():
            conversation = (
                await self._conversation(conn, conversation_id)
                if force
                else await self._holding(conn, conversation_id, username)
            )
            if conversation["status"] == CLOSED:
                raise NotFound(conversation_id)
            await conn.execute(
                """UPDATE handoff_conversation
                      SET status = 'closed', closed_at = now(), outcome = %s,
                          summary = summary || jsonb_build_object('closing_note', %s::text)
                    WHERE id = %s""",
                (outcome, mask(note), conversation_id),
            )
            notice = await self._system_message(conn, conversation_id, BACK_TO_BOT_TH, "released")
        await self._bus.publish(
            QUEUE_CHANNEL, {"type": "queue", "conversation_id": conversation_id, "change": "closed"}
        )
        await self._announce(conversation, notice)
        await self._bus.publish(citizen_channel(conversation["sender"]), {"type": "released"})
        return conversation

    async def undelivered_line(self, limit: int = 50) -> list[dict[str, Any]]:
        """Agent messages to LINE users not pushed yet, oldest first (each claimed by one process)."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                """SELECT m.id, m.text, m.display_name, c.sender FROM handoff_message m
                     JOIN handoff_conversation c ON c.id = m.conversation_id
                    WHERE c.channel = 'line' AND m.author IN ('agent', 'system') AND m.delivered_at IS NULL
                    ORDER BY m.id LIMIT %s""",
                (limit,),
            )
            return await cur.fetchall()

    async def claim_delivery(self, message_id: int) -> bool:
        """Mark one message delivered; False when another process got it first."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "UPDATE handoff_message SET delivered_at = now() WHERE id = %s AND delivered_at IS NULL"
                " RETURNING id",
                (message_id,),
            )
            return await cur.fetchone() is not None

    async def unclaim_delivery(self, message_id: int) -> None:
        async with self._pool.connection() as conn:
            await conn.execute("UPDATE handoff_message SET delivered_at = NULL WHERE id = %s", (message_id,))

    # ---- callback requests (out of hours) --------------------------------------------------------
    async def request_callback(
        self, sender: str, channel: str, name: str, phone: str, note: str, summary: dict[str, Any]
    ) -> int:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                """INSERT INTO callback_request (sender, channel, name, phone, note, summary, consent_at)
                   VALUES (%s, %s, %s, %s, %s, %s, now()) RETURNING id""",
                (sender, channel, name, phone, mask(note), Jsonb(summary)),
            )
            row = await cur.fetchone()
        await self._bus.publish(QUEUE_CHANNEL, {"type": "callbacks", "change": "opened", "id": row["id"]})
        return int(row["id"])

    async def callbacks(self) -> list[dict[str, Any]]:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                """SELECT id, channel, name, phone, note, summary, status, agent, outcome, created_at
                     FROM callback_request WHERE status <> 'done' ORDER BY created_at, id"""
            )
            rows = await cur.fetchall()
        return [{**row, "created_at": _iso(row["created_at"])} for row in rows]

    async def callback_done(self, callback_id: int, username: str, outcome: str) -> None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                """UPDATE callback_request SET status = 'done', agent = %s, done_at = now(), outcome = %s
                    WHERE id = %s AND status <> 'done' RETURNING id""",
                (username, outcome, callback_id),
            )
            if await cur.fetchone() is None:
                raise NotFound(str(callback_id))
        await self._bus.publish(QUEUE_CHANNEL, {"type": "callbacks", "change": "done", "id": callback_id})
