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
from contextvars import ContextVar
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

# Whether handling this request's message raised: Rasa's channel logs the error and answers 200 with
# whatever it had collected, even when the turn was not stored (the tracker store or the lock store
# restarting). Such a turn is answered 500 here, so that the gateway tries it again instead of taking
# a reply whose turn the conversation does not have (gateway/rasa_client.py).
_turn_failed: ContextVar[list[Exception] | None] = ContextVar("turn_failed", default=None)


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
        async def handle(message: UserMessage) -> None:
            try:
                await on_new_message(message)
            except Exception as error:
                failures = _turn_failed.get()
                if failures is not None:
                    failures.append(error)
                raise

        blueprint = super().blueprint(handle)

        @blueprint.middleware("request")
        async def check(request: Request) -> Any:
            if request.method == "POST" and request.path.endswith("/webhook"):
                problem = self._problem(request)
                if problem:
                    return response.json({"error": problem[1]}, status=problem[0])
                # Request middleware and handler run in one task: the handler sees this list.
                _turn_failed.set([])
            return None

        @blueprint.middleware("response")
        async def failed(request: Request, answer: Any) -> Any:
            failures = _turn_failed.get()
            if request.method == "POST" and request.path.endswith("/webhook") and failures:
                return response.json({"error": f"the turn failed: {type(failures[0]).__name__}"}, status=500)
            return None

        return blueprint
