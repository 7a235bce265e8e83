"""Routes for the web chat: the page, its assets, the embed script and `POST /web/chat`."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import phonenumbers
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from pydantic import BaseModel, Field, ValidationError

from contract.replies import GOVERNMENT_HOTLINE, WITH_AGENT
from gateway.conversations import Conversations
from gateway.envelope import BotTurn, envelope_summary
from gateway.rasa_client import RasaUnavailable
from gateway.ratelimit import RATE_LIMITED_TH, RateLimiter
from gateway.sanitize import plain_text
from privacy import masked_logger
from staff.events import EventBus, citizen_channel
from staff.handoff import HandoffDesk

log = masked_logger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
ASSETS = {"chat.js": "text/javascript", "chat.css": "text/css"}
MAX_MESSAGE_CHARS = 1000
# The sender is the conversation's secret (its agent messages are read with it): at least 128 random
# bits, which the page makes as 32 hex characters (chat.js); 32 URL-safe characters carry more.
SENDER_PATTERN = r"^[A-Za-z0-9_-]{32,64}$"
# What index.html's {{name}} placeholders stand for: the contract's values, never written in static/.
PAGE_VALUES = {"hotline": GOVERNMENT_HOTLINE}
PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
UNAVAILABLE_TH = f"ขออภัยค่ะ ระบบตอบคำถามขัดข้องชั่วคราว กรุณาลองใหม่อีกครั้ง หรือโทรสายด่วน {GOVERNMENT_HOTLINE}"
NO_ANSWER_TH = f"ขออภัยค่ะ ยังตอบคำถามนี้ไม่ได้ ลองพิมพ์ถามใหม่อีกครั้ง หรือโทรสายด่วน {GOVERNMENT_HOTLINE} ค่ะ"
CALLBACK_INVALID_TH = "กรุณากรอกชื่อ เบอร์โทรที่ถูกต้อง และกดยินยอมให้เจ้าหน้าที่โทรกลับค่ะ"
CALLBACK_THANKS_TH = "ได้รับคำขอแล้วค่ะ เจ้าหน้าที่จะโทรกลับในเวลาทำการ"
# The page asks for updates on its own while a person holds the conversation (a poll every few seconds
# while the live stream is down, the stream's reconnections): three times what a citizen types.
UPDATES_LIMIT_FACTOR = 3


class ChatRequest(BaseModel):
    sender: str = Field(pattern=SENDER_PATTERN)
    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)


class CallbackRequest(BaseModel):
    """Out of hours: a citizen asks to be called back, and says yes to being called."""

    sender: str = Field(pattern=SENDER_PATTERN)
    name: str = Field(min_length=1, max_length=100)
    phone: str = Field(min_length=6, max_length=30)
    note: str = Field(default="", max_length=MAX_MESSAGE_CHARS)
    consent: bool


def thai_phone(raw: str) -> str | None:
    """The number in E.164 when it is a valid phone number (Thai unless it says +country)."""
    try:
        number = phonenumbers.parse(raw, "TH")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


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
    body.message = plain_text(body.message)
    return body if body.message.strip() else ["message"]


def _cors_headers(origin: str) -> dict[str, str]:
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


def web_router(allowed_origins: tuple[str, ...]) -> APIRouter:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        limiter = RateLimiter.from_settings(app.state.settings)
        app.state.web_limits = limiter
        try:
            yield
        finally:
            await limiter.aclose()

    router = APIRouter(lifespan=lifespan)
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

    def cors_for(request: Request) -> dict[str, str] | None:
        """CORS headers for an allowed origin, {} for the page's own, None for a refused one."""
        origin = request.headers.get("origin", "")
        if not origin:
            return {}
        if origin_allowed(origin, allowed_origins):
            return _cors_headers(origin)
        return {} if _same_origin(request, origin) else None

    async def refused(
        request: Request, scope: str, sender: str | None, cors: dict[str, str]
    ) -> Response | None:
        """429 with a Thai message when the client address, or the sender if known, is over its limit."""
        limiter: RateLimiter = request.app.state.web_limits
        factor = UPDATES_LIMIT_FACTOR if scope == "web-updates" else 1
        if sender is None:
            # Behind a proxy, uvicorn's proxy_headers make this the citizen's address.
            address = request.client.host if request.client else ""
            verdict = await limiter.admit(scope, "client", address, factor)
        else:
            verdict = await limiter.admit(scope, "sender", sender, factor)
        if verdict.allowed:
            return None
        log.info("web %s over the %s rate limit", scope, "client" if sender is None else "sender")
        headers = cors | {"Retry-After": str(verdict.retry_after)}
        return JSONResponse({"error": RATE_LIMITED_TH}, status_code=429, headers=headers)

    @router.options("/web/chat", include_in_schema=False)
    @router.options("/web/callback", include_in_schema=False)
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
        cors = cors_for(request)
        if cors is None:
            return JSONResponse({"error": "origin not allowed"}, status_code=403)
        if over := await refused(request, "web-chat", None, cors):
            return over
        body = _parse_chat_request(await request.body())
        if isinstance(body, list):
            return JSONResponse({"error": "invalid request", "fields": body}, status_code=422, headers=cors)
        if over := await refused(request, "web-chat", body.sender, cors):
            return over
        conversations: Conversations = request.app.state.conversations
        try:
            turn = await conversations.turn(
                f"web:{body.sender}", "web", body.message.strip(), {"channel": "web"}
            )
        except RasaUnavailable:
            log.exception("assistant unavailable for web sender %s", body.sender[:8])
            return JSONResponse({"error": UNAVAILABLE_TH}, status_code=503, headers=cors)
        log.info("web turn for %s: %s", body.sender[:8], envelope_summary(turn.envelope))
        if turn.is_empty and turn.kind != WITH_AGENT:
            log.warning("assistant sent nothing to show for web sender %s", body.sender[:8])
        return JSONResponse(render_web(turn), headers=cors)

    @router.get("/web/updates", include_in_schema=False)
    async def updates(request: Request, sender: str = "", after: str = "0") -> JSONResponse:
        """What people wrote to this citizen since `after`; the `sender` secret is the key."""
        cors = cors_for(request)
        if cors is None:
            return JSONResponse({"error": "origin not allowed"}, status_code=403)
        if over := await refused(request, "web-updates", None, cors):
            return over
        cursor = _cursor(after)
        if not re.fullmatch(SENDER_PATTERN, sender) or cursor is None:
            return JSONResponse(
                {"error": "invalid request", "fields": ["sender"] if cursor is not None else ["after"]},
                status_code=422,
                headers=cors,
            )
        if over := await refused(request, "web-updates", sender, cors):
            return over
        desk: HandoffDesk = request.app.state.desk
        messages, last = await desk.updates(f"web:{sender}", cursor)
        return JSONResponse({"messages": messages, "cursor": str(last)}, headers=cors)

    @router.get("/web/updates/stream", include_in_schema=False)
    async def updates_stream(request: Request, sender: str = "", after: str = "") -> Response:
        """The same messages live (Server-Sent Events), after those since `after` if given."""
        if over := await refused(request, "web-updates", None, {}):
            return over
        cursor = _cursor(after or "0")
        if not re.fullmatch(SENDER_PATTERN, sender) or cursor is None:
            return JSONResponse({"error": "invalid request"}, status_code=422)
        if over := await refused(request, "web-updates", sender, {}):
            return over
        desk: HandoffDesk = request.app.state.desk

        async def stored() -> list[dict[str, Any]]:
            if not after:
                return []
            messages, _ = await desk.updates(f"web:{sender}", cursor)
            return [{"type": "message", "message": m, "cursor": m["cursor"]} for m in messages]

        bus: EventBus = request.app.state.bus
        return bus.stream(citizen_channel(f"web:{sender}"), first=stored)

    @router.post("/web/callback", include_in_schema=False)
    async def callback(request: Request) -> JSONResponse:
        cors = cors_for(request)
        if cors is None:
            return JSONResponse({"error": "origin not allowed"}, status_code=403)
        if over := await refused(request, "web-chat", None, cors):
            return over
        try:
            body = CallbackRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            fields = sorted({str(e["loc"][0]) for e in exc.errors() if e.get("loc")}) or ["body"]
            return JSONResponse(
                {"error": CALLBACK_INVALID_TH, "fields": fields}, status_code=422, headers=cors
            )
        if over := await refused(request, "web-chat", body.sender, cors):
            return over
        phone = thai_phone(body.phone)
        fields = [
            name
            for name, bad in (
                ("phone", phone is None),
                ("consent", not body.consent),
                ("name", not plain_text(body.name).strip()),
            )
            if bad
        ]
        if fields:
            return JSONResponse(
                {"error": CALLBACK_INVALID_TH, "fields": fields}, status_code=422, headers=cors
            )
        sender = f"web:{body.sender}"
        conversations: Conversations = request.app.state.conversations
        callback_id = await conversations.request_callback(
            sender, "web", plain_text(body.name).strip(), phone or "", plain_text(body.note).strip()
        )
        log.info("callback request %d from web sender %s", callback_id, body.sender[:8])
        return JSONResponse({"id": callback_id, "message": CALLBACK_THANKS_TH}, status_code=201, headers=cors)

    return router


def _cursor(raw: str) -> int | None:
    return int(raw) if raw.isdigit() and len(raw) < 19 else None


def render_web(turn: BotTurn) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [{"type": "text", "text": text} for text in turn.texts]
    if turn.is_empty and turn.kind != WITH_AGENT:
        messages.append({"type": "text", "text": NO_ANSWER_TH})
    if turn.card is not None:
        messages.append({"type": "card", "card": turn.card.to_dict()})
    envelope = {k: v for k, v in (turn.envelope or {}).items() if k != "card"} or None
    return {
        "messages": messages,
        "buttons": [{"title": b.title, "payload": b.payload} for b in turn.buttons],
        "envelope": envelope,
    }
