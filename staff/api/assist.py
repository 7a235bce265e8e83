"""`POST /api/agent/assist` (../shared/spec/staff-api.md, Agent API): agent assist for the call centre.

The assistant's reading of what a caller asks and the chat's answer to it (staff/assist.py),
for agents and supervisors. Every call is audited with the question masked; nothing is
written into any citizen's conversation.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel, Field

from contract.replies import TOPICS
from privacy import mask
from staff import audit
from staff.assist import Assistant, AssistUnavailable, EmptyQuestion
from staff.auth import CALL_CENTRE, StaffDb, StaffUser, require_roles

# A caller's question, typed by the agent; the chat's channel takes at most 5000 characters.
MAX_TEXT_CHARS = 2000
EMPTY_TEXT = "พิมพ์คำถามของผู้โทรก่อนค่ะ"
UNKNOWN_TOPIC = "ไม่รู้จักหัวข้อนี้"


class AssistRequest(BaseModel):
    text: str = Field(max_length=MAX_TEXT_CHARS)
    service_id: str | None = Field(default=None, max_length=100)
    # Beyond the spec: the topic of the alternative the agent clicked (docs/staff.md).
    topic: str | None = None


def assist_router() -> APIRouter:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Its own Rasa client, with the API token that /model/parse needs; closed with the app.
        app.state.assistant = Assistant.from_settings(app.state.settings)
        try:
            yield
        finally:
            await app.state.assistant.aclose()

    router = APIRouter(lifespan=lifespan)

    @router.post("/api/agent/assist")
    async def agent_assist(
        body: AssistRequest,
        request: Request,
        user: Annotated[StaffUser, Depends(require_roles(*CALL_CENTRE))],
        pool: StaffDb,
    ) -> dict[str, Any]:
        if not body.text.strip():
            raise HTTPException(422, EMPTY_TEXT)
        if body.topic is not None and body.topic not in TOPICS:
            raise HTTPException(422, UNKNOWN_TOPIC)
        detail: dict[str, Any] = {"text": mask(body.text), "service_id": body.service_id}
        if body.topic:
            detail["chosen_topic"] = body.topic
        try:
            result = await request.app.state.assistant.assist(body.text, body.service_id, body.topic)
        except EmptyQuestion:
            raise HTTPException(422, EMPTY_TEXT) from None
        except AssistUnavailable as exc:
            await audit.record(pool, user.username, "assist", None, {**detail, "error": str(exc)})
            raise HTTPException(503, exc.message) from exc
        understood = result["understanding"]
        await audit.record(
            pool, user.username, "assist", understood["service_id"],
            {**detail, "topic": understood["topic"], "answered": result["answer"] is not None},
        )
        return result

    return router
