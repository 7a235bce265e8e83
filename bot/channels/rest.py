"""Rasa's REST channel with what it lacks for citizens' messages: masking and a token.

Personal data is masked before the message reaches Rasa, so neither the tracker store
nor a log ever holds it. When `token` is set (REST_TOKEN), a request must carry
`Authorization: Bearer <token>`; Rasa's own REST channel has no authentication.
scripts/stack always sets one (made once per run folder, kept in run/rest-token); a
server started without one says so in its log.
Malformed requests get a 400 with a reason instead of an exception.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request

from bot.patches import install
from privacy import conversation_key, mask

install()  # Rasa loads this channel: see bot/patches.py

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 5000


class MaskedRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        # Keeps Rasa's path /webhooks/rest/webhook, which clients and the evaluation use.
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> MaskedRestInput:
        return cls(token=(credentials or {}).get("token") or None)

    def __init__(self, token: str | None = None) -> None:
        self.token = token
        if not token:
            logger.warning("REST channel without a token (REST_TOKEN): whoever reaches Rasa writes as anyone")

    def _problem(self, request: Request) -> tuple[int, str] | None:
        if self.token:
            supplied = request.headers.get("authorization", "")
            if not hmac.compare_digest(supplied.encode(), f"Bearer {self.token}".encode()):
                return 401, "missing or wrong bearer token"
        try:
            body = request.json
        except Exception:  # sanic raises its own error types for a body that is not JSON
            return 400, "the body must be JSON"
        if not isinstance(body, dict):
            return 400, "the body must be a JSON object"
        if not isinstance(body.get("sender"), str) or not body["sender"].strip():
            return 400, "`sender` must be a non-empty string"
        if not isinstance(body.get("message"), str):
            return 400, "`message` must be a string"
        if len(body["message"]) > MAX_MESSAGE_CHARS:
            return 413, f"`message` is longer than {MAX_MESSAGE_CHARS} characters"
        return None

    async def _extract_sender(self, req: Request) -> str | None:
        return conversation_key(req.json["sender"])

    def _extract_message(self, req: Request) -> str | None:
        return mask(req.json["message"])

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = super().blueprint(on_new_message)

        @blueprint.middleware("request")
        async def check(request: Request) -> Any:
            if request.method == "POST" and request.path.endswith("/webhook"):
                problem = self._problem(request)
                if problem:
                    return response.json({"error": problem[1]}, status=problem[0])
            return None

        return blueprint
