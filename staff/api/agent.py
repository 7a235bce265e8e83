"""`/api/agent/...`: the call-centre agents' queue, live events, taking, writing, forwarding,
releasing and closing conversations, and the callback requests (../shared/spec/staff-api.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from gateway.conversations import Conversations
from gateway.rasa_client import RasaUnavailable
from privacy import masked_logger
from staff import audit
from staff.auth import CALL_CENTRE, SUPERVISOR, StaffDb, StaffUser, require_roles
from staff.events import QUEUE_CHANNEL, EventBus
from staff.handoff import OUTCOMES, HandoffDesk, HeldByOther, NotFound, NotHolder

log = masked_logger(__name__)

Agent = Annotated[StaffUser, Depends(require_roles(*CALL_CENTRE))]
MAX_AGENT_MESSAGE = 2000


def desk(request: Request) -> HandoffDesk:
    return request.app.state.desk


Desk = Annotated[HandoffDesk, Depends(desk)]


class MessageIn(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_AGENT_MESSAGE)


class ForwardIn(BaseModel):
    to: str = Field(min_length=1, max_length=100)


class CloseIn(BaseModel):
    outcome: str = Field(pattern="^(" + "|".join(OUTCOMES) + ")$")
    note: str = Field(default="", max_length=2000)


class CallbackDoneIn(BaseModel):
    outcome: str = Field(default="called", max_length=100)


def _not_found() -> HTTPException:
    return HTTPException(404, "ไม่พบบทสนทนานี้ในคิว (อาจปิดไปแล้ว)")


def _not_holder() -> HTTPException:
    return HTTPException(409, "ต้องรับเรื่องนี้ก่อน หรือเรื่องนี้อยู่กับเจ้าหน้าที่คนอื่น")


async def _push_line(request: Request, desk: HandoffDesk, conversation: dict[str, Any]) -> None:
    """LINE users get what was written to them as push messages, now (the web page reads them)."""
    if conversation["channel"] == "line" and request.app.state.line is not None:
        await request.app.state.line.deliver_agent_messages(desk)


def agent_router() -> APIRouter:
    router = APIRouter(prefix="/api/agent")

    @router.get("/queue")
    async def queue(user: Agent, desk: Desk) -> dict[str, Any]:
        return {"conversations": await desk.queue()}

    @router.get("/events")
    async def events(user: Agent, request: Request) -> Any:
        bus: EventBus = request.app.state.bus
        async def hello() -> list[dict[str, Any]]:
            # Tells the page the subscription is in place (it reloads the queue then).
            return [{"type": "hello", "user": user.username}]

        return bus.stream(QUEUE_CHANNEL, first=hello)

    @router.get("/agents")
    async def agents(user: Agent, pool: StaffDb) -> dict[str, Any]:
        async with pool.connection() as conn:
            cur = await conn.execute(
                "SELECT username, display_name, role FROM staff_user"
                " WHERE role IN ('agent', 'supervisor') ORDER BY display_name"
            )
            return {"agents": await cur.fetchall()}

    @router.post("/conversations/{conversation_id}/take")
    async def take(
        conversation_id: str, user: Agent, desk: Desk, pool: StaffDb, request: Request
    ) -> dict[str, Any]:
        try:
            row = await desk.take(conversation_id, user.username, user.display_name)
        except NotFound:
            raise _not_found() from None
        except HeldByOther as held:
            raise HTTPException(409, f"เรื่องนี้อยู่กับเจ้าหน้าที่ {held.agent} แล้ว") from None
        await audit.record(pool, user.username, "take", conversation_id)
        await _push_line(request, desk, row)
        return {"id": row["id"], "status": row["status"], "agent": row["agent"]}

    @router.post("/conversations/{conversation_id}/messages")
    async def write(
        conversation_id: str, body: MessageIn, user: Agent, desk: Desk, pool: StaffDb, request: Request
    ) -> dict[str, Any]:
        text = body.text.strip()
        if not text:
            raise HTTPException(422, "ข้อความว่าง")
        try:
            conversation, message = await desk.agent_message(
                conversation_id, user.username, user.display_name, text
            )
        except NotFound:
            raise _not_found() from None
        except NotHolder:
            raise _not_holder() from None
        await audit.record(pool, user.username, "message", conversation_id, {"chars": len(text)})
        await _push_line(request, desk, conversation)
        return {"id": str(message["id"]), "stored": True}

    @router.post("/conversations/{conversation_id}/forward")
    async def forward(
        conversation_id: str, body: ForwardIn, user: Agent, desk: Desk, pool: StaffDb
    ) -> dict[str, Any]:
        try:
            await desk.forward(conversation_id, user.username, body.to)
        except NotHolder:
            raise _not_holder() from None
        except NotFound:
            raise HTTPException(404, "ไม่พบบทสนทนาหรือเจ้าหน้าที่ที่จะส่งต่อ") from None
        await audit.record(pool, user.username, "forward", conversation_id, {"to": body.to})
        return {"id": conversation_id, "agent": body.to}

    async def _close(
        conversation_id: str, outcome: str, note: str, user: StaffUser, request: Request
    ) -> dict[str, Any]:
        desk: HandoffDesk = request.app.state.desk
        conversations: Conversations = request.app.state.conversations
        pool = request.app.state.staff_db
        # A supervisor may end any conversation (an agent went home holding one).
        force = user.role == SUPERVISOR
        try:
            row = (
                await desk.open_conversation(conversation_id)
                if force
                else await desk.holding(conversation_id, user.username)
            )
        except NotFound:
            raise _not_found() from None
        except NotHolder:
            raise _not_holder() from None
        try:
            # The bot first: until the desk closes, the citizen's messages still reach the agent.
            await conversations.resume_bot(row["sender"])
        except RasaUnavailable:
            log.exception("could not resume the bot for conversation %s", conversation_id)
            raise HTTPException(503, "ระบบผู้ช่วยอัตโนมัติไม่ตอบ ลองใหม่อีกครั้งค่ะ") from None
        try:
            await desk.close(conversation_id, user.username, outcome, note, force=force)
        except (NotFound, NotHolder):
            raise _not_found() from None
        await audit.record(pool, user.username, "close", conversation_id, {"outcome": outcome})
        await _push_line(request, desk, row)
        return {"id": conversation_id, "status": "closed", "outcome": outcome}

    @router.post("/conversations/{conversation_id}/release")
    async def release(conversation_id: str, user: Agent, request: Request) -> dict[str, Any]:
        return await _close(conversation_id, "released", "", user, request)

    @router.post("/conversations/{conversation_id}/close")
    async def close(conversation_id: str, body: CloseIn, user: Agent, request: Request) -> dict[str, Any]:
        return await _close(conversation_id, body.outcome, body.note, user, request)

    @router.get("/callbacks")
    async def callbacks(user: Agent, desk: Desk) -> dict[str, Any]:
        return {"callbacks": await desk.callbacks()}

    @router.post("/callbacks/{callback_id}/done")
    async def callback_done(
        callback_id: int, user: Agent, desk: Desk, pool: StaffDb, body: CallbackDoneIn | None = None
    ) -> dict[str, Any]:
        outcome = body.outcome if body else "called"
        try:
            await desk.callback_done(callback_id, user.username, outcome)
        except NotFound:
            raise HTTPException(404, "ไม่พบคำขอนี้ หรือทำไปแล้ว") from None
        await audit.record(pool, user.username, "callback_done", str(callback_id), {"outcome": outcome})
        return {"id": callback_id, "status": "done"}

    return router
