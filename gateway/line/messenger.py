"""Sending to LINE: one reply per event (at most 5 messages), the rest by push with a retry key."""

from __future__ import annotations

import asyncio
import json
import uuid

import aiohttp
from linebot.v3.messaging import (
    AsyncMessagingApi,
    Message,
    PushMessageRequest,
    ReplyMessageRequest,
    ShowLoadingAnimationRequest,
)
from linebot.v3.messaging.exceptions import ApiException

from gateway.line.render import MAX_MESSAGES_PER_REQUEST
from privacy import masked_logger

log = masked_logger(__name__)

REQUEST_TIMEOUT = 10.0
PUSH_ATTEMPTS = 3
NETWORK_ERRORS = (asyncio.TimeoutError, aiohttp.ClientError, OSError)
LOADING_SECONDS = 20  # LINE accepts multiples of 5 up to 60; covers Rasa's 10 s timeout with margin


def _batches(messages: list[Message], size: int = MAX_MESSAGES_PER_REQUEST) -> list[list[Message]]:
    return [messages[i : i + size] for i in range(0, len(messages), size)]


def _error_message(exc: ApiException) -> str:
    try:
        return str(json.loads(exc.body or "{}").get("message", ""))
    except (ValueError, AttributeError):
        return ""


def _reply_token_spent(exc: ApiException) -> bool:
    return exc.status == 400 and "reply token" in _error_message(exc).lower()


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, ApiException):
        return exc.status is None or exc.status >= 500 or exc.status == 429
    return isinstance(exc, NETWORK_ERRORS)


class LineMessenger:
    def __init__(self, api: AsyncMessagingApi) -> None:
        self._api = api

    async def show_loading(self, chat_id: str, event_id: str) -> None:
        try:
            await self._api.show_loading_animation(
                ShowLoadingAnimationRequest(chat_id=chat_id, loading_seconds=LOADING_SECONDS),
                _request_timeout=REQUEST_TIMEOUT,
            )
        except Exception:
            # The animation is a courtesy; the answer still goes out without it.
            log.warning("loading animation failed for event %s", event_id, exc_info=True)

    async def deliver(self, to: str, reply_token: str | None, messages: list[Message], event_id: str) -> None:
        """Reply with the first five messages, push the rest; push everything if the token is unusable."""
        if not messages:
            return
        batches = _batches(messages)
        if reply_token:
            try:
                await self._api.reply_message(
                    ReplyMessageRequest(reply_token=reply_token, messages=batches[0]),
                    _request_timeout=REQUEST_TIMEOUT,
                )
                batches = batches[1:]
            except ApiException as exc:
                if _reply_token_spent(exc):
                    log.info("reply token unusable for event %s; sending by push", event_id)
                elif _retryable(exc):
                    log.warning("reply failed (HTTP %s) for event %s; sending by push", exc.status, event_id)
                else:
                    log.error(
                        "LINE refused the reply for event %s: HTTP %s %s",
                        event_id,
                        exc.status,
                        _error_message(exc),
                    )
                    return
            except NETWORK_ERRORS:
                log.warning("reply failed for event %s; sending by push", event_id, exc_info=True)
        for batch in batches:
            await self.push(to, batch, event_id)

    async def push(self, to: str, messages: list[Message], event_id: str) -> bool:
        # One retry key per logical push: LINE executes it once however often we retry (409 = already done).
        retry_key = str(uuid.uuid4())
        for attempt in range(1, PUSH_ATTEMPTS + 1):
            try:
                await self._api.push_message(
                    PushMessageRequest(to=to, messages=messages),
                    x_line_retry_key=retry_key,
                    _request_timeout=REQUEST_TIMEOUT,
                )
                return True
            except ApiException as exc:
                if exc.status == 409:
                    return True
                if not _retryable(exc) or attempt == PUSH_ATTEMPTS:
                    log.error(
                        "LINE push failed for event %s: HTTP %s %s", event_id, exc.status, _error_message(exc)
                    )
                    return False
            except NETWORK_ERRORS:
                if attempt == PUSH_ATTEMPTS:
                    log.exception("LINE push failed for event %s", event_id)
                    return False
            await asyncio.sleep(0.5 * attempt)
        return False
