"""Refuse request bodies over a size with 413 before they are read whole (pure ASGI middleware).

A declared Content-Length over the cap is refused before any of the body is read; a body sent
without one (chunked) is counted as it arrives and refused at the first chunk past the cap, so a
handler's `await request.body()` never holds more than the cap. Caps are per path prefix: the
web chat's messages are small, LINE's webhook batches many users' events.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

KIB = 1024
# The longest web request (a callback request with a 1000-character note, every Thai letter
# escaped as \\uXXXX by some clients) is under 8 KiB.
WEB_MAX_BODY = 8 * KIB
# LINE sends up to a few dozen events in one request; its own examples stay far under this.
LINE_MAX_BODY = 1024 * KIB
DEFAULT_MAX_BODY = 256 * KIB
BODY_CAPS: tuple[tuple[str, int], ...] = (("/web/", WEB_MAX_BODY), ("/line/", LINE_MAX_BODY))
TOO_LARGE_TH = "ขออภัยค่ะ ข้อความยาวเกินไป กรุณาส่งให้สั้นลงค่ะ"


class BodyTooLarge(HTTPException):
    """Raised from `receive`: an HTTPException, so that FastAPI's own body parsing passes it on
    as a 413 rather than turning it into a 400 for an unreadable body."""

    def __init__(self) -> None:
        super().__init__(413, TOO_LARGE_TH)


class BodyLimit:
    def __init__(
        self, app: ASGIApp, caps: Sequence[tuple[str, int]] = BODY_CAPS, default: int = DEFAULT_MAX_BODY
    ) -> None:
        self.app = app
        self.caps = tuple(caps)
        self.default = default

    def cap_for(self, path: str) -> int:
        return next((cap for prefix, cap in self.caps if path.startswith(prefix)), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self.cap_for(scope["path"])
        declared = [v for k, v in scope["headers"] if k == b"content-length"]
        if declared:
            value = declared[0].strip()
            if len(declared) > 1 or not value.isdigit():
                await _refuse(send, 400, "invalid Content-Length")
                return
            if int(value) > cap:
                await _refuse(send, 413, TOO_LARGE_TH)
                return
        seen = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    raise BodyTooLarge
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            if started:
                raise
            await _refuse(send, 413, TOO_LARGE_TH)


async def _refuse(send: Send, status: int, text: str) -> None:
    # FastAPI's shape for an HTTP error, as when BodyTooLarge is answered by the app itself.
    body = json.dumps({"detail": text}, ensure_ascii=False).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
