"""Running the gateway app in-process for the LINE tests (its logs then reach caplog)."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import uvicorn
from line_double import LineApiDouble
from line_events import payload, sign
from support import free_port

from gateway.app import create_app
from gateway.config import Settings

CHANNEL_SECRET = "0123456789abcdef0123456789abcdef"
ACCESS_TOKEN = "test-channel-access-token"


class InProcessGateway:
    """The gateway app served by uvicorn in a thread, so its logs reach caplog."""

    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=self.port, log_config=None, lifespan="on"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="gateway", daemon=True)

    def start(self) -> InProcessGateway:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("gateway did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)

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
    }
    values.update(overrides)
    return Settings(**values)
