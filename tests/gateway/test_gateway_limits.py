"""Limits on what reaches the gateway: rate limits per sender, LINE user and client address (shared by
every gateway process through Redis), bodies refused at a size before they are read, LINE redeliveries
skipped across processes.

Rasa is down here (a closed port): a request the limits let through gets the gateway's 503, or on LINE
the apology, which is all these tests need to tell "let through" from "refused". The gateways run as
uvicorn servers in this process; each test comes from an address of its own (X-Forwarded-For, which
uvicorn believes from 127.0.0.1 as from a proxy in front of the gateway).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from gw_harness import CHANNEL_SECRET, InProcessGateway, line_settings
from line_double import LineApiDouble, Recorded
from line_events import follow_event, payload, sign, source, text_event, ulid
from support import free_port, staff_test_db_url

from gateway.body_limit import LINE_MAX_BODY, WEB_MAX_BODY, BodyLimit
from gateway.config import Settings
from gateway.line import texts
from gateway.line.dedup import SharedRecentIds
from gateway.ratelimit import RATE_LIMITED_TH, RateLimiter
from gateway.web.routes import UNAVAILABLE_TH

REPLY = "/v2/bot/message/reply"
PUSH = "/v2/bot/message/push"
Factory = Callable[[Settings], InProcessGateway]


def new_sender() -> str:
    return secrets.token_hex(16)


def new_address() -> str:
    # Documentation addresses (RFC 3849), a fresh one per test: no two tests share a client count.
    return f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"


def web_settings(rasa_url: str, **overrides: Any) -> Settings:
    return Settings(rasa_url=rasa_url, rasa_timeout=3.0, staff_db_url=staff_test_db_url(), **overrides)


class WebClient:
    def __init__(self, base_url: str, address: str | None = None) -> None:
        self.base_url = base_url
        self.headers = {"X-Forwarded-For": address or new_address()}

    def chat(self, sender: str, message: str = "ทำพาสปอร์ตกี่บาท") -> httpx.Response:
        body = {"sender": sender, "message": message}
        return httpx.post(f"{self.base_url}/web/chat", json=body, headers=self.headers, timeout=10)

    def updates(self, sender: str) -> httpx.Response:
        return httpx.get(f"{self.base_url}/web/updates", params={"sender": sender}, headers=self.headers)

    def stream_status(self, sender: str) -> int:
        url = f"{self.base_url}/web/updates/stream"
        with httpx.stream("GET", url, params={"sender": sender}, headers=self.headers, timeout=10) as r:
            return r.status_code

    def callback(self, sender: str) -> httpx.Response:
        body = {"sender": sender, "name": "สมชาย", "phone": "123456", "note": "", "consent": True}
        return httpx.post(f"{self.base_url}/web/callback", json=body, headers=self.headers, timeout=10)


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.json() == {"error": RATE_LIMITED_TH}
    assert 1 <= int(response.headers["retry-after"]) <= 60


# ---- the web chat ----


@pytest.mark.postgres
def test_a_sender_over_its_limit_gets_429_with_a_thai_message(
    gateway_factory: Factory, closed_port_url: str
) -> None:
    gateway = gateway_factory(web_settings(closed_port_url, rate_limit_sender="3/minute"))
    client, sender = WebClient(gateway.base_url), new_sender()

    for _ in range(3):
        let_through = client.chat(sender)
        assert let_through.status_code == 503 and let_through.json()["error"] == UNAVAILABLE_TH
    assert_refused(client.chat(sender))
    # Another conversation from the same address is not held back.
    assert client.chat(new_sender()).status_code == 503


@pytest.mark.postgres
def test_a_client_address_over_its_limit_gets_429(gateway_factory: Factory, closed_port_url: str) -> None:
    gateway = gateway_factory(web_settings(closed_port_url, rate_limit_client="3/minute"))
    client = WebClient(gateway.base_url)

    assert [client.chat(new_sender()).status_code for _ in range(3)] == [503] * 3
    assert_refused(client.chat(new_sender()))
    # The address counts before the body is read, malformed bodies too.
    assert_refused(httpx.post(f"{gateway.base_url}/web/chat", content=b"{", headers=client.headers))
    assert WebClient(gateway.base_url).chat(new_sender()).status_code == 503


@pytest.mark.postgres
def test_updates_their_stream_and_callbacks_are_limited_per_sender(
    gateway_factory: Factory, closed_port_url: str
) -> None:
    gateway = gateway_factory(web_settings(closed_port_url, rate_limit_sender="2/minute"))
    client, sender = WebClient(gateway.base_url), new_sender()

    # The page polls on its own while a person holds the conversation: three times the limit.
    assert [client.updates(sender).status_code for _ in range(6)] == [200] * 6
    assert_refused(client.updates(sender))
    assert client.stream_status(sender) == 429  # the poll and the live stream count together

    # A callback request counts with the chat's messages (here refused for its phone number).
    assert [client.callback(sender).status_code for _ in range(2)] == [422, 422]
    assert_refused(client.callback(sender))
    assert_refused(client.chat(sender))
    assert client.updates(new_sender()).status_code == 200


@pytest.mark.postgres
def test_the_limits_are_shared_by_every_gateway_process(
    gateway_factory: Factory, closed_port_url: str
) -> None:
    settings = web_settings(closed_port_url, rate_limit_sender="2/minute")
    first, second = gateway_factory(settings), gateway_factory(settings)
    address, sender = new_address(), new_sender()

    assert WebClient(first.base_url, address).chat(sender).status_code == 503
    assert WebClient(second.base_url, address).chat(sender).status_code == 503
    assert_refused(WebClient(first.base_url, address).chat(sender))
    assert_refused(WebClient(second.base_url, address).chat(sender))


@pytest.mark.postgres
@pytest.mark.parametrize("sender", ["0123456789abcdef0123456789abcde", "short-1234", "a" * 65, "g" * 31])
def test_a_sender_id_must_carry_128_bits(gateway_factory: Factory, closed_port_url: str, sender: str) -> None:
    gateway = gateway_factory(web_settings(closed_port_url))
    client = WebClient(gateway.base_url)

    assert client.chat(sender).status_code == 422
    assert client.updates(sender).status_code == 422
    assert client.stream_status(sender) == 422
    assert client.chat(secrets.token_urlsafe(24)).status_code == 503  # 32 URL-safe characters


# ---- bodies refused before they are read ----


def _raw_headers_only(base_url: str, path: str, length: int) -> bytes:
    """Send the request's head declaring `length` bytes and none of them; what the server says."""
    port = int(base_url.rsplit(":", 1)[1])
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head)
        # A server that waited for the body would time out here.
        return sock.recv(4096)


@pytest.mark.postgres
def test_a_declared_body_over_the_cap_is_refused_before_it_is_read(
    gateway_factory: Factory, closed_port_url: str, line_api: LineApiDouble
) -> None:
    gateway = gateway_factory(line_settings(closed_port_url, line_api))

    for path, length in (
        ("/web/chat", WEB_MAX_BODY + 1),
        ("/web/callback", 10_000_000),
        ("/line/webhook", LINE_MAX_BODY + 1),
        ("/api/auth/login", 50_000_000),
    ):
        answer = _raw_headers_only(gateway.base_url, path, length)
        assert answer.startswith(b"HTTP/1.1 413"), (path, answer[:200])
    assert line_api.requests == []


@pytest.mark.postgres
def test_a_chunked_body_is_cut_off_at_the_cap(gateway_factory: Factory, closed_port_url: str) -> None:
    gateway = gateway_factory(web_settings(closed_port_url))

    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        yield b'{"sender": "' + new_sender().encode() + b'", "message": "'
        for _ in range(64):
            yield "ก".encode() * 341  # about 1 KiB
        yield b'"}'

    response = httpx.post(f"{gateway.base_url}/web/chat", content=chunks(), timeout=10)
    assert response.status_code == 413
    assert "ยาวเกินไป" in response.json()["detail"]


@pytest.mark.postgres
def test_line_bodies_up_to_the_cap_are_read_and_bigger_ones_refused(
    gateway_factory: Factory, closed_port_url: str, line_api: LineApiDouble
) -> None:
    gateway = gateway_factory(line_settings(closed_port_url, line_api))
    url = f"{gateway.base_url}/line/webhook"

    def post(size: int) -> httpx.Response:
        body = json.dumps({"destination": "U" + "0" * 32, "events": [], "padding": ""}).encode()
        body = body.replace(b'"padding": ""', b'"padding": "' + b"x" * (size - len(body)) + b'"')
        assert len(body) == size
        headers = {"X-Line-Signature": sign(body, CHANNEL_SECRET), "Content-Type": "application/json"}
        return httpx.post(url, content=body, headers=headers, timeout=10)

    assert post(LINE_MAX_BODY).status_code == 200  # LINE batches many events: a megabyte is read
    assert post(LINE_MAX_BODY + 1).status_code == 413


def test_caps_by_path() -> None:
    limit = BodyLimit(app=None)  # type: ignore[arg-type]
    assert limit.cap_for("/web/chat") == WEB_MAX_BODY
    assert limit.cap_for("/line/webhook") == LINE_MAX_BODY
    assert WEB_MAX_BODY < limit.cap_for("/api/auth/login") < LINE_MAX_BODY


# ---- LINE ----


def _replies_to(line_api: LineApiDouble, token: str) -> list[Recorded]:
    return [r for r in line_api.calls(REPLY) if r.body.get("replyToken") == token]


def _texts(record: Recorded) -> list[str]:
    return [m["text"] for m in record.messages if m["type"] == "text"]


@pytest.mark.postgres
def test_a_line_user_over_the_limit_gets_one_polite_reply_and_line_gets_200(
    gateway_factory: Factory, closed_port_url: str, line_api: LineApiDouble
) -> None:
    gateway = gateway_factory(
        line_settings(closed_port_url, line_api, rasa_timeout=3.0, rate_limit_sender="2/minute")
    )
    user = source("user")
    answered = []
    for _ in range(3):
        token = line_api.issue_reply_token()
        assert gateway.post_events(text_event("ทำพาสปอร์ตกี่บาท", token, user)).status_code == 200
        answered.append(_texts(line_api.wait_for_reply(token)))
    assert answered == [[texts.APOLOGY], [texts.APOLOGY], [RATE_LIMITED_TH]]

    # Over the limit again: no second notice, and nothing asked of the assistant.
    quiet = line_api.issue_reply_token()
    assert gateway.post_events(text_event("ต่อใบขับขี่", quiet, user)).status_code == 200
    # Events of one chat are handled in order, so once this follow is answered the one before is settled.
    sentinel = line_api.issue_reply_token()
    gateway.post_events(follow_event(sentinel, user))
    line_api.wait_for_reply(sentinel)
    assert _replies_to(line_api, quiet) == [] and line_api.calls(PUSH) == []

    # Another user, in the same webhook request as the limited one, is answered as usual.
    other, limited = line_api.issue_reply_token(), line_api.issue_reply_token()
    batch = (text_event("ทำพาสปอร์ตกี่บาท", limited, user), text_event("ทำพาสปอร์ตกี่บาท", other))
    assert gateway.post_events(*batch).status_code == 200
    assert _texts(line_api.wait_for_reply(other)) == [texts.APOLOGY]


@pytest.mark.postgres
def test_a_redelivery_to_another_gateway_process_is_skipped(
    gateway_factory: Factory, closed_port_url: str, line_api: LineApiDouble
) -> None:
    settings = line_settings(closed_port_url, line_api, rasa_timeout=3.0)
    first, second = gateway_factory(settings), gateway_factory(settings)
    user, event_id = source("user"), ulid()
    token = line_api.issue_reply_token()
    assert first.post_events(text_event("ทำพาสปอร์ตกี่บาท", token, user, event_id=event_id)).status_code == 200
    line_api.wait_for_reply(token)

    again = line_api.issue_reply_token()
    redelivery = text_event("ทำพาสปอร์ตกี่บาท", again, user, event_id=event_id, redelivery=True)
    assert second.post_events(redelivery).status_code == 200
    sentinel = line_api.issue_reply_token()
    second.post_events(follow_event(sentinel, user))
    line_api.wait_for_reply(sentinel)

    assert [r.body["replyToken"] for r in line_api.delivered()] == [token, sentinel]


@pytest.mark.postgres
def test_an_event_whose_chat_id_is_not_shaped_as_lines_is_skipped(
    gateway_factory: Factory, closed_port_url: str, line_api: LineApiDouble, caplog: pytest.LogCaptureFixture
) -> None:
    # Signed, so from LINE; still, an id that is not LINE's shape would go into keys, SQL and URLs.
    gateway = gateway_factory(line_settings(closed_port_url, line_api, rasa_timeout=3.0))
    odd = {"type": "user", "userId": "U" + "0" * 31 + "\x00"}
    token = line_api.issue_reply_token()
    assert gateway.post_events(text_event("ทำพาสปอร์ตกี่บาท", token, odd)).status_code == 200
    answered = line_api.issue_reply_token()
    gateway.post_events(text_event("ทำพาสปอร์ตกี่บาท", answered))
    line_api.wait_for_reply(answered)
    assert _replies_to(line_api, token) == []
    assert not [r for r in caplog.records if r.getMessage().startswith("handling LINE event")]


def test_line_webhook_answers_404_when_not_configured_in_process() -> None:
    from fastapi.testclient import TestClient

    from gateway.app import create_app

    # No lifespan (no database): the route alone, which must not invite LINE to retry.
    client = TestClient(create_app(Settings(rasa_url="http://127.0.0.1:9")))
    body = payload(follow_event("0" * 32))
    response = client.post("/line/webhook", content=body, headers={"X-Line-Signature": sign(body, "x")})
    assert response.status_code == 404


# ---- when Redis is away, and the settings ----


def _closed_redis() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"


def test_without_redis_requests_are_let_through() -> None:
    async def scenario() -> list[bool]:
        limiter = RateLimiter(_closed_redis(), "1/minute", "1/minute")
        try:
            return [(await limiter.admit("web-chat", "sender", "s")).allowed for _ in range(3)]
        finally:
            await limiter.aclose()

    assert asyncio.run(scenario()) == [True, True, True]


def test_without_redis_redeliveries_are_still_skipped_in_the_process() -> None:
    from redis.asyncio import Redis

    async def scenario() -> list[bool]:
        redis = Redis.from_url(_closed_redis())
        try:
            recent = SharedRecentIds(redis)
            return [await recent.check_and_add("E1"), await recent.check_and_add("E1")]
        finally:
            await redis.aclose()

    assert asyncio.run(scenario()) == [False, True]


def test_limits_come_from_the_environment_in_the_librarys_notation() -> None:
    settings = Settings.from_env(
        {"RATE_LIMIT_SENDER": "5/minute;50/hour", "RATE_LIMIT_CLIENT": "1000/minute", "REST_TOKEN": " t "},
        dotenv=False,
    )
    assert (settings.rate_limit_sender, settings.rate_limit_client) == ("5/minute;50/hour", "1000/minute")
    assert settings.rest_token == "t"
    defaults = Settings.from_env({}, dotenv=False)
    limiter = RateLimiter(_closed_redis(), defaults.rate_limit_sender, defaults.rate_limit_client)
    sender, client = limiter.limits["sender"][0], limiter.limits["client"][0]
    assert sender.get_expiry() == client.get_expiry() == 60
    assert 10 <= sender.amount <= 30 < client.amount
    with pytest.raises(ValueError):
        RateLimiter(_closed_redis(), "twenty a minute", "1/minute")


@pytest.mark.postgres  # and Redis, as the marker says
def test_a_refusal_is_counted_once_per_window() -> None:
    async def scenario() -> list[bool]:
        limiter = RateLimiter(Settings().redis_url, "1/minute", "1000/minute")
        who = f"line-user-{secrets.token_hex(8)}"
        try:
            verdicts = [await limiter.admit("line", "sender", who) for _ in range(3)]
            assert [v.allowed for v in verdicts] == [True, False, False]
            item = verdicts[1].item
            assert item is not None
            return [await limiter.first_refusal("line", who, item) for _ in range(3)]
        finally:
            await limiter.aclose()

    assert asyncio.run(scenario()) == [True, False, False]


@pytest.mark.postgres  # and Redis
def test_who_is_counted_is_kept_as_a_digest() -> None:
    import redis

    who = f"web-secret-{secrets.token_hex(8)}"

    async def scenario() -> None:
        limiter = RateLimiter(Settings().redis_url, "7/minute", "1000/minute")
        try:
            await limiter.admit("web-chat", "sender", who)
        finally:
            await limiter.aclose()

    asyncio.run(scenario())
    client = redis.Redis.from_url(Settings().redis_url)
    try:
        keys = [k.decode() for k in client.scan_iter(match="gateway:*web-chat*", count=1000)]
    finally:
        client.close()
    assert keys and not any(who in key for key in keys)
