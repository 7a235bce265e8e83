"""Routes for the web chat: the page, its assets, the embed script and `POST /web/chat`."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from pydantic import BaseModel, Field, ValidationError

from contract.replies import GOVERNMENT_HOTLINE
from gateway.envelope import BotTurn, envelope_summary, parse_turn
from gateway.rasa_client import RasaClient, RasaUnavailable
from privacy import masked_logger

log = masked_logger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
ASSETS = {"chat.js": "text/javascript", "chat.css": "text/css"}
MAX_MESSAGE_CHARS = 1000
SENDER_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"
# What index.html's {{name}} placeholders stand for: the contract's values, never written in static/.
PAGE_VALUES = {"hotline": GOVERNMENT_HOTLINE}
PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
UNAVAILABLE_TH = f"ขออภัยค่ะ ระบบตอบคำถามขัดข้องชั่วคราว กรุณาลองใหม่อีกครั้ง หรือโทรสายด่วน {GOVERNMENT_HOTLINE}"
NO_ANSWER_TH = f"ขออภัยค่ะ ยังตอบคำถามนี้ไม่ได้ ลองพิมพ์ถามใหม่อีกครั้ง หรือโทรสายด่วน {GOVERNMENT_HOTLINE} ค่ะ"


class ChatRequest(BaseModel):
    sender: str = Field(pattern=SENDER_PATTERN)
    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)


def render_page() -> str:
    """index.html with its placeholders filled in, escaped for text and attribute values alike.

    The page's script reads the hotline from `<body data-hotline>` for its own texts.
    """
    template = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    return PLACEHOLDER.sub(lambda m: html.escape(PAGE_VALUES[m.group(1)], quote=True), template)


def origin_allowed(origin: str, allowed: tuple[str, ...]) -> bool:
    """Exact match, or `scheme://host:*` (any port) as in CSP source expressions."""
    origin = origin.rstrip("/")
    for pattern in allowed:
        if pattern == "*" or pattern == origin:
            return True
        if pattern.endswith(":*"):
            prefix = pattern[:-2]
            parts = urlsplit(origin)
            if f"{parts.scheme}://{parts.hostname}" == prefix:
                return True
    return False


def _same_origin(request: Request, origin: str) -> bool:
    return urlsplit(origin).netloc.lower() == request.headers.get("host", "").lower()


def content_security_policy(allowed: tuple[str, ...]) -> str:
    ancestors = " ".join(("'self'", *allowed))
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; object-src 'none'; "
        f"frame-ancestors {ancestors}"
    )


def _parse_chat_request(raw: bytes) -> ChatRequest | list[str]:
    """The request, or the names of the fields that are wrong."""
    try:
        body = ChatRequest.model_validate_json(raw)
    except ValidationError as exc:
        return sorted({str(e["loc"][0]) for e in exc.errors() if e.get("loc")}) or ["body"]
    return body if body.message.strip() else ["message"]


def _cors_headers(origin: str) -> dict[str, str]:
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


def web_router(allowed_origins: tuple[str, ...]) -> APIRouter:
    router = APIRouter()
    page_headers = {
        "Content-Security-Policy": content_security_policy(allowed_origins),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "Cache-Control": "no-cache",
    }
    page_html = render_page()

    @router.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(page_html, headers=page_headers)

    @router.get("/static/{name}", include_in_schema=False)
    async def asset(name: str) -> Response:
        if name not in ASSETS:
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        return FileResponse(
            STATIC_DIR / name,
            media_type=f"{ASSETS[name]}; charset=utf-8",
            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"},
        )

    @router.get("/widget.js", include_in_schema=False)
    async def widget() -> FileResponse:
        # Loaded by agencies' pages on other origins, so it must be readable cross-origin.
        return FileResponse(
            STATIC_DIR / "widget.js",
            media_type="text/javascript; charset=utf-8",
            headers={
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "no-cache",
                "Access-Control-Allow-Origin": "*",
            },
        )

    @router.options("/web/chat", include_in_schema=False)
    async def chat_preflight(request: Request) -> Response:
        origin = request.headers.get("origin", "")
        if not origin or not origin_allowed(origin, allowed_origins):
            return Response(status_code=403)
        headers = _cors_headers(origin) | {
            "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Max-Age": "600",
        }
        return Response(status_code=204, headers=headers)

    @router.post("/web/chat", include_in_schema=False)
    async def chat(request: Request) -> JSONResponse:
        origin = request.headers.get("origin", "")
        cors: dict[str, str] = {}
        if origin:
            if origin_allowed(origin, allowed_origins):
                cors = _cors_headers(origin)
            elif not _same_origin(request, origin):
                return JSONResponse({"error": "origin not allowed"}, status_code=403)
        body = _parse_chat_request(await request.body())
        if isinstance(body, list):
            return JSONResponse({"error": "invalid request", "fields": body}, status_code=422, headers=cors)
        rasa: RasaClient = request.app.state.rasa
        try:
            replies = await rasa.send(f"web:{body.sender}", body.message.strip(), {"channel": "web"})
        except RasaUnavailable:
            log.exception("assistant unavailable for web sender %s", body.sender[:8])
            return JSONResponse({"error": UNAVAILABLE_TH}, status_code=503, headers=cors)
        turn = parse_turn(replies)
        log.info("web turn for %s: %s", body.sender[:8], envelope_summary(turn.envelope))
        if turn.is_empty:
            log.warning("assistant sent nothing to show for web sender %s", body.sender[:8])
        return JSONResponse(render_web(turn), headers=cors)

    return router


def render_web(turn: BotTurn) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [{"type": "text", "text": text} for text in turn.texts]
    if turn.is_empty:
        messages.append({"type": "text", "text": NO_ANSWER_TH})
    if turn.card is not None:
        messages.append({"type": "card", "card": turn.card.to_dict()})
    envelope = {k: v for k, v in (turn.envelope or {}).items() if k != "card"} or None
    return {
        "messages": messages,
        "buttons": [{"title": b.title, "payload": b.payload} for b in turn.buttons],
        "envelope": envelope,
    }
