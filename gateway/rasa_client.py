"""Client for Rasa's REST channel (`POST /webhooks/rest/webhook`)."""

from __future__ import annotations

from typing import Any

import httpx

from privacy import masked_logger

log = masked_logger(__name__)

WEBHOOK_PATH = "/webhooks/rest/webhook"


class RasaUnavailable(Exception):
    """Rasa could not be reached, timed out or answered with something that is not a reply list."""


class RasaClient:
    def __init__(self, base_url: str, timeout: float = 10.0, client: httpx.AsyncClient | None = None) -> None:
        self._url = base_url.rstrip("/") + WEBHOOK_PATH
        self._client = client or httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=min(timeout, 3.0)))

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(
        self, sender: str, message: str, metadata: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Send one user message and return Rasa's reply messages."""
        body = {"sender": sender, "message": message, "metadata": metadata or {}}
        try:
            response = await self._client.post(self._url, json=body)
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
