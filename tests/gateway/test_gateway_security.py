"""Secure by default: Rasa's REST channel and HTTP API want their tokens, the token in use is kept in the
run folder for the tools (mode 600), the gateway sends it, and Rasa and the action server listen on
loopback only."""

from __future__ import annotations

import asyncio
import os
import secrets
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from gw_harness import InProcessGateway
from support import REPO_ROOT, free_port, staff_test_db_url

from gateway.config import Settings
from gateway.rasa_client import WEBHOOK_PATH, RasaClient
from gateway.web.routes import UNAVAILABLE_TH

STACK = REPO_ROOT / "scripts" / "stack"


def _stack_status(run_dir: Path, **env: str) -> None:
    """`scripts/stack status` on ports where nothing listens: it only sets the run folder up."""
    full = {k: v for k, v in os.environ.items() if k not in ("REST_TOKEN", "RASA_TOKEN", "RASA_URL")}
    full.update(
        RUN_DIR=str(run_dir),
        **{name: str(free_port()) for name in ("CATALOG_PORT", "ACTIONS_PORT", "RASA_PORT", "GATEWAY_PORT")},
    )
    full.update(env)
    subprocess.run([str(STACK), "status"], env=full, check=True, capture_output=True, timeout=60)


def test_the_stack_keeps_the_rest_token_in_use_in_the_run_folder_for_its_owner_only(tmp_path: Path) -> None:
    token_file = tmp_path / "rest-token"

    _stack_status(tmp_path)
    made = token_file.read_text()
    assert len(made) == 48 and int(made, 16)  # 192 random bits, hex
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    _stack_status(tmp_path)
    assert token_file.read_text() == made  # kept across restarts

    chosen = secrets.token_urlsafe(24)
    _stack_status(tmp_path, REST_TOKEN=chosen)
    assert token_file.read_text() == chosen  # REST_TOKEN, when set, is the one in use
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "rasa.token").stat().st_mode) == 0o600


def test_credentials_give_the_rest_channel_the_token() -> None:
    credentials = (REPO_ROOT / "credentials.yml").read_text(encoding="utf-8")
    assert "bot.channels.rest.MaskedRestInput:\n  token: ${REST_TOKEN}" in credentials


def test_the_client_sends_the_rest_token_to_the_channel_and_the_api_token_to_the_api() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[] if request.url.path == WEBHOOK_PATH else {"version": "3.6"})

    async def scenario() -> None:
        client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        rasa = RasaClient("http://rasa", client=client, token="api-secret", rest_token="rest-secret")
        await rasa.send("web:abc", "สวัสดี")
        await rasa.version()
        await rasa.aclose()

    asyncio.run(scenario())
    webhook, version = seen
    assert webhook.headers["authorization"] == "Bearer rest-secret"
    assert "token" not in webhook.url.params
    assert version.url.params["token"] == "api-secret"
    assert "authorization" not in version.headers


# ---- against the running assistant ----


def test_rasas_rest_channel_wants_the_token(rasa_url: str, rest_token: str) -> None:
    url = f"{rasa_url}{WEBHOOK_PATH}"
    body = {"sender": f"token-check-{secrets.token_hex(8)}", "message": "สวัสดีค่ะ"}
    assert rest_token, "the stack always runs the REST channel with a token"
    assert httpx.post(url, json=body, timeout=30).status_code == 401
    assert httpx.post(url, json=body, headers={"Authorization": "Bearer nope"}, timeout=30).status_code == 401
    answered = httpx.post(url, json=body, headers={"Authorization": f"Bearer {rest_token}"}, timeout=60)
    assert answered.status_code == 200 and answered.json()


def test_rasas_http_api_wants_its_token(rasa_url: str, rasa_token: str) -> None:
    tracker = f"{rasa_url}/conversations/token-check/tracker"
    assert httpx.get(tracker, timeout=30).status_code == 401
    assert httpx.get(f"{rasa_url}/status", timeout=30).status_code == 401
    assert httpx.get(tracker, params={"token": rasa_token}, timeout=30).status_code == 200


@pytest.mark.postgres
def test_the_gateway_gets_through_with_the_token_only(
    rasa_url: str,
    rasa_token: str,
    rest_token: str,
    gateway_factory: Callable[[Settings], InProcessGateway],
) -> None:
    def chat(token: str) -> httpx.Response:
        settings = Settings(
            rasa_url=rasa_url, rasa_token=rasa_token, rest_token=token, staff_db_url=staff_test_db_url()
        )
        gateway = gateway_factory(settings)
        body = {"sender": secrets.token_hex(16), "message": "ทำพาสปอร์ตกี่บาท"}
        return httpx.post(f"{gateway.base_url}/web/chat", json=body, timeout=60)

    refused = chat("")
    assert refused.status_code == 503 and refused.json()["error"] == UNAVAILABLE_TH
    answered = chat(rest_token)
    assert answered.status_code == 200 and answered.json()["envelope"]["kind"]


def _listening(port: int) -> set[str]:
    """The local addresses a TCP socket listens on at `port` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.split(":")
            if state != "0A" or int(port_hex, 16) != port:  # 0A: LISTEN
                continue
            if len(address) == 8:  # IPv4, its bytes in host (little-endian) order
                address = ".".join(str(int(address[i : i + 2], 16)) for i in (6, 4, 2, 0))
            found.add(address)
    return found


def test_rasa_and_the_action_server_listen_on_loopback_only(rasa_url: str, actions_url: str) -> None:
    for url in (rasa_url, actions_url):
        addresses = _listening(urlsplit(url).port or 80)
        assert addresses == {"127.0.0.1"}, (url, addresses)
