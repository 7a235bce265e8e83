"""Client for Rasa's REST channel (`POST /webhooks/rest/webhook`) and, with the API token,
its HTTP API (`POST /model/parse`: what the NLU makes of a text, written into no conversation).

A turn survives the Rasa server that handles it dying (one of several replicas behind the
balancer, scripts/stack) or failing for a moment (PostgreSQL or Redis restarting): `send` tries
again within the turn's time. Rasa has no idempotency of its own, so every turn carries an id in
its metadata (stored with the user event) and, before a retry, the tracker is read: a turn
stored already is answered from the tracker's bot events instead of being handled twice. A
server that died mid-turn stored nothing (Rasa saves a turn at its end, in one transaction);
the conversation's lock it held lasts TICKET_LOCK_LIFETIME, which scripts/stack keeps below
the turn's time so that the retry is served.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from typing import Any
from urllib.parse import quote

import httpx

from privacy import conversation_key, masked_logger

log = masked_logger(__name__)

WEBHOOK_PATH = "/webhooks/rest/webhook"
PARSE_PATH = "/model/parse"
VERSION_PATH = "/version"
# The header the balancer routes on (it cannot read a JSON body): one conversation's turns meet on
# one replica. A digest, so that the balancer never sees a sender id (a web sender is a secret).
ROUTE_HEADER = "X-Conversation"
# The turn's id in the user message's metadata, looked for in the tracker before a retry.
TURN_ID = "turn_id"
# Answers worth another try: Rasa failed inside (a store restarting), or the balancer found no live
# replica or lost the one it used. Other statuses (400, 401, 413) would fail again.
RETRY_STATUSES = frozenset({500, 502, 503, 504})
MAX_ATTEMPTS = 4
FIRST_BACKOFF_SECONDS = 0.25


def _key(sender: str) -> str:
    # The REST channel (bot/channels/rest.py) stores a conversation under this key.
    return quote(conversation_key(sender), safe=":")


def _timeout(seconds: float) -> httpx.Timeout:
    # What is left of the turn's time, connecting included (at most 3 s, as the client's default).
    seconds = max(seconds, 0.1)
    return httpx.Timeout(seconds, connect=min(seconds, 3.0))


def route_key(sender: str) -> str:
    return hashlib.blake2b(conversation_key(sender).encode(), digest_size=8).hexdigest()


class RasaUnavailable(Exception):
    """Rasa could not be reached, timed out or answered with something that is not a reply list."""


class _Retryable(RasaUnavailable):
    """A failure after which the turn may be tried again (once the tracker says it was not stored)."""


def replies_from_events(events: list[dict[str, Any]], turn_id: str) -> list[dict[str, Any]] | None:
    """The REST channel's reply list for the stored turn `turn_id`, rebuilt from its bot events as
    Rasa's CollectingOutputChannel builds it; None when the turn is not in the events."""
    start = next(
        (
            i
            for i, event in enumerate(events)
            if event.get("event") == "user" and (event.get("metadata") or {}).get(TURN_ID) == turn_id
        ),
        None,
    )
    if start is None:
        return None
    recipient = events[start].get("sender_id")
    replies: list[dict[str, Any]] = []
    for event in events[start + 1 :]:
        if event.get("event") == "user":
            break
        if event.get("event") != "bot":
            continue
        data = event.get("data") or {}
        text = event.get("text")
        buttons = data.get("quick_replies") or data.get("buttons")
        if buttons:
            replies.append({"text": text, "buttons": buttons})
        elif text:
            replies.extend({"text": part} for part in text.strip().split("\n\n"))
        for key in ("custom", "image", "attachment"):
            if data.get(key):
                replies.append({key: data[key]})
    return [{"recipient_id": recipient, **reply} if recipient else reply for reply in replies]


class RasaClient:
    def __init__(
        self,
        base_url: str,
        timeout: float = 10.0,
        client: httpx.AsyncClient | None = None,
        token: str = "",
        rest_token: str = "",
    ) -> None:
        self._base = base_url.rstrip("/")
        self._url = self._base + WEBHOOK_PATH
        # Rasa's HTTP API (tracker, events, parse) wants `?token=`; the REST channel
        # (bot/channels/rest.py) a bearer token of its own.
        self._api_params = {"token": token} if token else {}
        self._webhook_headers = {"Authorization": f"Bearer {rest_token}"} if rest_token else {}
        # A turn's tries, the tracker looks between them included, end within `timeout` seconds.
        self._turn_seconds = timeout
        self._client = client or httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=min(timeout, 3.0)))

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(
        self, sender: str, message: str, metadata: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Send one user message and return Rasa's reply messages: once, whichever replica answers.

        Within the client's timeout (the whole turn's), a failed try is followed by a look at the
        tracker and, when the turn is not stored, another try; nothing listening at all ends the turn
        after a second try, since waiting would not bring Rasa back in time."""
        turn_id = uuid.uuid4().hex
        body = {"sender": sender, "message": message, "metadata": {**(metadata or {}), TURN_ID: turn_id}}
        headers = {**self._webhook_headers, ROUTE_HEADER: route_key(sender)}
        deadline = time.monotonic() + self._turn_seconds
        backoff = FIRST_BACKOFF_SECONDS
        # Whether a try may have reached Rasa: a refused connection did not, and needs no look.
        reached = False
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return await self._post_turn(body, headers, deadline - time.monotonic())
            except _Retryable as exc:
                failure = exc
            refused = isinstance(failure.__cause__, httpx.ConnectError)
            reached = reached or not refused
            if attempt == MAX_ATTEMPTS or (refused and attempt > 1) or time.monotonic() + backoff >= deadline:
                break
            log.warning("turn %s: %s; trying again (%d)", turn_id[:8], failure, attempt)
            await asyncio.sleep(backoff)
            backoff *= 2
            stored = await self._stored_turn(sender, turn_id, deadline) if reached else None
            if stored is not None:
                log.info("turn %s was stored, its reply lost: answered from the tracker", turn_id[:8])
                return stored
        raise failure

    async def _post_turn(
        self, body: dict[str, Any], headers: dict[str, str], seconds: float
    ) -> list[dict[str, Any]]:
        try:
            timeout = _timeout(seconds)
            response = await self._client.post(self._url, json=body, headers=headers, timeout=timeout)
            response.raise_for_status()
            replies = response.json()
        except httpx.TimeoutException as exc:
            raise _Retryable(f"Rasa timed out ({self._url})") from exc
        except httpx.HTTPStatusError as exc:
            status = exc.response.status_code
            error = _Retryable if status in RETRY_STATUSES else RasaUnavailable
            raise error(f"Rasa answered HTTP {status} ({self._url})") from exc
        except httpx.TransportError as exc:
            # Refused, reset or cut off mid-answer: the server (or the replica behind the balancer) went away.
            raise _Retryable(f"Rasa request failed: {type(exc).__name__} ({self._url})") from exc
        except (httpx.HTTPError, ValueError) as exc:
            raise RasaUnavailable(f"Rasa request failed: {type(exc).__name__} ({self._url})") from exc
        if not isinstance(replies, list):
            raise RasaUnavailable(f"Rasa answered {type(replies).__name__}, expected a list")
        return [item for item in replies if isinstance(item, dict)]

    async def _stored_turn(self, sender: str, turn_id: str, deadline: float) -> list[dict[str, Any]] | None:
        """The turn's replies when the tracker has it, None when it does not. While the tracker cannot
        be read (the store restarting) it is asked again: sending the turn again without knowing
        could store it twice."""
        pause = FIRST_BACKOFF_SECONDS
        while True:
            try:
                path = f"/conversations/{_key(sender)}/tracker"
                params = {"include_events": "AFTER_RESTART"}
                tracker = await self._api("GET", path, params, timeout=_timeout(deadline - time.monotonic()))
                events = tracker.get("events") if isinstance(tracker, dict) else None
                return replies_from_events(events if isinstance(events, list) else [], turn_id)
            except RasaUnavailable as exc:
                cause = exc.__cause__
                if isinstance(cause, httpx.HTTPStatusError) and cause.response.status_code < 500:
                    raise  # no API token, or a wrong one: asking again will not help
                if time.monotonic() + pause >= deadline:
                    raise _Retryable(f"the tracker could not be read before a retry: {exc}") from exc
            await asyncio.sleep(pause)
            pause = min(pause * 2, 1.0)

    async def _api(self, method: str, path: str, params: dict[str, str] | None = None, **kwargs: Any) -> Any:
        url = f"{self._base}{path}"
        try:
            response = await self._client.request(
                method, url, params={**self._api_params, **(params or {})}, **kwargs
            )
            response.raise_for_status()
            return response.json()
        except httpx.HTTPStatusError as exc:
            raise RasaUnavailable(f"Rasa answered HTTP {exc.response.status_code} ({path})") from exc
        except (httpx.HTTPError, ValueError) as exc:
            raise RasaUnavailable(f"Rasa request failed: {type(exc).__name__} ({path})") from exc

    async def tracker(self, sender: str) -> dict[str, Any]:
        """The conversation's tracker (events of the current session) from Rasa's HTTP API."""
        path = f"/conversations/{_key(sender)}/tracker"
        return await self._api("GET", path, params={"include_events": "AFTER_RESTART"})

    async def append_events(self, sender: str, events: list[dict[str, Any]]) -> None:
        """Record events in the conversation's tracker (the handoff's pause and resume)."""
        await self._api("POST", f"/conversations/{_key(sender)}/tracker/events", json=events)

    async def parse(self, text: str) -> dict[str, Any]:
        """What the NLU makes of `text` (intent, entities, `service` and `topic` with their
        rankings), outside any conversation: no tracker is read or written."""
        parsed = await self._api("POST", PARSE_PATH, json={"text": text})
        if not isinstance(parsed, dict):
            raise RasaUnavailable(f"Rasa answered {type(parsed).__name__}, expected an object")
        return parsed

    async def version(self) -> str | None:
        """Rasa's version (`GET /version`), or None when it does not say."""
        try:
            answer = await self._api("GET", VERSION_PATH)
        except RasaUnavailable:
            return None
        version = answer.get("version") if isinstance(answer, dict) else None
        return version if isinstance(version, str) else None
