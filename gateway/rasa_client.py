"""Client for Rasa's REST channel (`POST /webhooks/rest/webhook`) and, with the API token,
its HTTP API (`POST /model/parse`: what the NLU makes of a text, written into no conversation)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from privacy import conversation_key, masked_logger

log = masked_logger(__name__)

WEBHOOK_PATH = "/webhooks/rest/webhook"
PARSE_PATH = "/model/parse"
VERSION_PATH = "/version"


def _key(sender: str) -> str:
    # The REST channel (bot/channels/rest.py) stores a conversation under this key.
    return quote(conversation_key(sender), safe=":")


class RasaUnavailable(Exception):
    """Rasa could not be reached, timed out or answered with something that is not a reply list."""


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
        self._client = client or httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=min(timeout, 3.0)))

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(
        self, sender: str, message: str, metadata: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Send one user message and return Rasa's reply messages."""
        body = {"sender": sender, "message": message, "metadata": metadata or {}}
        try:
            response = await self._client.post(self._url, json=body, headers=self._webhook_headers)
            response.raise_for_status()
            replies = response.json()
        except httpx.TimeoutException as exc:
            raise RasaUnavailable(f"Rasa timed out ({self._url})") from exc
        except httpx.HTTPStatusError as exc:
            raise RasaUnavailable(f"Rasa answered HTTP {exc.response.status_code} ({self._url})") from exc
        except (httpx.HTTPError, ValueError) as exc:
            raise RasaUnavailable(f"Rasa request failed: {type(exc).__name__} ({self._url})") from exc
        if not isinstance(replies, list):
            raise RasaUnavailable(f"Rasa answered {type(replies).__name__}, expected a list")
        return [item for item in replies if isinstance(item, dict)]

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
