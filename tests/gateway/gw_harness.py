"""Running the gateway app in-process for the LINE tests (its logs then reach caplog)."""

from __future__ import annotations

from typing import Any

import httpx
from app_server import InProcessServer
from line_double import LineApiDouble
from line_events import payload, sign
from support import rasa_token, rest_token, staff_test_db_url

from gateway.app import create_app
from gateway.config import Settings

CHANNEL_SECRET = "0123456789abcdef0123456789abcdef"
ACCESS_TOKEN = "test-channel-access-token"
# The key LINE ids are hashed and sealed under (gateway/line/recipients.py): tests compute the
# expected `line:<hash>` sender ids with it.
PII_KEY = "test-pii-key-0123456789abcdef"


class InProcessGateway(InProcessServer):
    """The gateway app served by uvicorn in a thread, so its logs reach caplog."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(create_app(settings))

    def start(self) -> InProcessGateway:
        super().start()
        return self

    def post_events(
        self, *events: dict[str, Any], secret: str = CHANNEL_SECRET, signature: str | None = None
    ) -> httpx.Response:
        body = payload(*events)
        headers = {"Content-Type": "application/json; charset=utf-8"}
        headers["X-Line-Signature"] = signature if signature is not None else sign(body, secret)
        return httpx.post(f"{self.base_url}/line/webhook", content=body, headers=headers, timeout=10)


def line_settings(rasa: str, line_api: LineApiDouble, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "rasa_url": rasa,
        "rasa_timeout": 10.0,
        "line_channel_secret": CHANNEL_SECRET,
        "line_channel_access_token": ACCESS_TOKEN,
        "line_api_base_url": line_api.base_url,
        "rasa_token": rasa_token(),
        "rest_token": rest_token(),
        "staff_db_url": staff_test_db_url(),
        "pii_key": PII_KEY,
    }
    values.update(overrides)
    return Settings(**values)
