"""Hostile input at every public endpoint, made by Hypothesis: huge, empty, malformed and mistyped bodies,
control characters, zero-width and right-to-left marks, markup, SQL. No answer may be a 5xx, and after
the storm a normal question is answered as usual. (That markup is never executed is the page's part:
tests/gateway/test_gateway_browser.py.)

Endpoints: /web/chat, /web/updates, /web/updates/stream, /web/callback, /line/webhook (unsigned and
signed), /api/auth/login on the gateway; GET /services?q=... and /services/{id} on the catalog. The
requests go over real sockets to the gateway (uvicorn, in this process) talking to the real assistant.

`make test` sends a short run (HOSTILE_REQUESTS, 240 by default, shared among the endpoints);
`make hostile` sends 10,000 and prints how many were answered with a 5xx, which must be 0. Every
request is counted rather than stopping at the first 5xx, so the figure is the whole run's.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import secrets
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from gw_harness import ACCESS_TOKEN, CHANNEL_SECRET, InProcessGateway, line_settings
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from line_double import LineApiDouble
from line_events import follow_event, postback_event, sign, source, text_event, ulid
from support import rasa_token, rest_token, staff_test_db_url

from gateway.config import Settings
from gateway.line import texts
from gateway.sanitize import plain_text

pytestmark = pytest.mark.postgres

TOTAL = int(os.environ.get("HOSTILE_REQUESTS") or 240)
# How the requests are shared out: the chat most, as the endpoint that does the most with its input.
WEIGHTS = {
    "web_chat": 3,
    "web_updates": 1,
    "web_stream": 1,
    "web_callback": 1,
    "line_unsigned": 1,
    "line_signed": 2,
    "login": 1,
    "catalog_search": 1,
    "catalog_record": 1,
}
# LINE users of the signed webhooks: few, under a low limit, so the storm cannot queue up hundreds of
# background turns at the assistant (the rate limiter's refusals are part of what is tried).
LINE_USERS = [source("user") for _ in range(4)]
QUESTION = "ทำพาสปอร์ตกี่บาท"
# Counted for a request the server dropped without answering: no HTTP status, sorted with the 5xx.
NO_ANSWER = 599


def budget(name: str) -> int:
    """The endpoint's share of TOTAL; what rounding leaves over goes to the first."""
    shares = {n: TOTAL * w // sum(WEIGHTS.values()) for n, w in WEIGHTS.items()}
    first = next(iter(WEIGHTS))
    shares[first] += TOTAL - sum(shares.values())
    return max(5, shares[name])


# ---- what is counted ----


@dataclass
class Tally:
    requests: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    by_endpoint: dict[str, Counter[int]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def record(self, endpoint: str, status: int, what: Any) -> None:
        self.requests[endpoint] += 1
        self.statuses[status] += 1
        self.by_endpoint.setdefault(endpoint, Counter())[status] += 1
        if status >= 500:
            self.failures.append(f"{endpoint} -> {status}: {repr(what)[:300]}")

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)


TALLY = Tally()


@pytest.fixture(scope="module", autouse=True)
def summary(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    lines = [
        f"  {endpoint:15} {dict(sorted(statuses.items()))}"
        for endpoint, statuses in TALLY.by_endpoint.items()
    ]
    lines.append(
        f"hostile requests: {sum(TALLY.requests.values())}, answered with a 5xx: {TALLY.server_errors}"
    )
    # Past pytest's capture, so that the figures show on a passing run too.
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print("\n" + "\n".join(lines))


def run_storm(endpoint: str, strategy: st.SearchStrategy[Any], send: Callable[[Any], int]) -> None:
    """`send` every example Hypothesis draws (as many as the endpoint's budget) and count the answers;
    then fail if any was a 5xx. No shrinking: the count is what the run is for."""
    before = len(TALLY.failures)

    @settings(
        max_examples=budget(endpoint),
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def storm(example: Any) -> None:
        try:
            status = send(example)
        except (httpx.LocalProtocolError, httpx.InvalidURL):
            # httpx would not send it (a header or URL no HTTP client may send): nothing reached the server.
            return
        except httpx.TransportError as error:
            # The server dropped the connection without an answer: as bad as a 5xx, and counted so.
            TALLY.record(endpoint, NO_ANSWER, (type(error).__name__, example))
        else:
            TALLY.record(endpoint, status, example)

    storm()
    assert TALLY.requests[endpoint] > 0
    failures = TALLY.failures[before:]
    assert not failures, f"{len(failures)} answers were 5xx, e.g.:\n" + "\n".join(failures[:10])


# ---- hostile values ----

NASTY = [
    "",
    " ",
    "\x00",
    "\x00\x01\x02\x07\x08\x1b[31m\x7f",
    "\r\n\r\nSet-Cookie: a=b",
    "\u200b\u200c\u200d\u2060\ufeff",
    "\u202eปัญหาบัตรประชาชน\u202c",
    "\u2066\u2067\u2068\u2069\u200e\u200f\u061c",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"><svg/onload=alert(1)>',
    "javascript:alert(1)",
    "'; DROP TABLE events; --",
    "' OR '1'='1",
    "1; SELECT pg_sleep(5)--",
    "%' OR 1=1 --",
    "\\",
    "%00%0d%0a",
    "%s%s%s%n",
    "{{7*7}}${7*7}<%= 7*7 %>",
    "${jndi:ldap://127.0.0.1/a}",
    "../../../../etc/passwd",
    "ก" * 1000,
    "ก\u0e48\u0e49\u0e4a\u0e4b\u0e4c" * 60,
    "😀👨‍👩‍👧‍👦" * 200,
    "\ud7ff\ue000\uffff\U0010ffff",
    "NaN",
    "null",
    "[]",
    "{}",
    "0812345678 1-1037-00012-34-5 a@b.co",
    QUESTION,
]

nasty = st.sampled_from(NASTY)
text = st.one_of(
    nasty,
    st.text(max_size=200),
    st.lists(st.one_of(nasty, st.text(max_size=20)), max_size=6).map("".join),
    st.text(min_size=1000, max_size=4000),
)
scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**30, max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    text,
)
json_value = st.recursive(
    scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)),
    max_leaves=8,
)
sender = st.one_of(
    st.binary(min_size=16, max_size=16).map(bytes.hex),  # as the page makes them
    st.from_regex(r"[A-Za-z0-9_-]{30,70}", fullmatch=True),
    text,
    scalar,
)
# As the page makes them, and texts of the lengths the endpoints take.
page_sender = st.binary(min_size=16, max_size=16).map(bytes.hex)
message = (
    st.one_of(
        nasty,
        st.text(min_size=1, max_size=300),
        st.lists(st.one_of(nasty, st.text(max_size=20)), min_size=1, max_size=6).map("".join),
    )
    .map(lambda t: t[:1000])
    .filter(str.strip)
)
content_type = st.sampled_from(
    [
        "application/json",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "",
    ]
)
# Mostly none (the page's own), as the requests that get furthest.
origin = st.one_of(
    st.none(), st.none(), st.sampled_from(["http://localhost:5173", "https://evil.example", "null"])
)


def _dump(value: Any, ascii_only: bool) -> bytes:
    return json.dumps(value, ensure_ascii=ascii_only, allow_nan=True).encode("utf-8", "surrogatepass")


def mostly(usual: st.SearchStrategy[Any], other: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Two draws in three from `usual`: one_of alone would favour the simpler branch, usually the
    malformed one, and few requests would get far into an endpoint."""
    return st.integers(0, 2).flatmap(lambda pick: other if pick == 0 else usual)


def query(example: dict[str, Any]) -> dict[str, str]:
    # Cut to what a URL can carry at all (httpx refuses a URL over 64 KiB before sending it).
    return {k: str(v)[:1500] for k, v in example.items()}


def bodies(
    fields: dict[str, st.SearchStrategy[Any]], typed: dict[str, st.SearchStrategy[Any]]
) -> st.SearchStrategy[bytes]:
    """Most often a request of the right shape and types whose texts are hostile (what gets furthest
    in), else the shape with values of any type, or anything at all."""
    shaped = st.fixed_dictionaries(fields, optional={"extra": json_value})
    well_typed = st.builds(_dump, st.fixed_dictionaries(typed), st.booleans())
    as_json = st.builds(_dump, st.one_of(shaped, shaped, json_value), st.booleans())
    # Every string value opened by a lone surrogate, which JSON can spell and UTF-8 cannot carry.
    surrogates = shaped.map(lambda d: re.sub(rb'(": ")', rb"\1\\ud800", _dump(d, True)))
    malformed = st.one_of(
        as_json,
        surrogates,
        st.binary(max_size=2000),
        st.integers(min_value=1, max_value=4000).map(lambda n: b"[" * n + b"]" * n),  # nested deep
        st.integers(min_value=9_000, max_value=60_000).map(lambda n: b'{"message": "' + b"x" * n + b'"}'),
        st.just(b""),
    )
    return mostly(well_typed, malformed)


# ---- the servers ----


@pytest.fixture(scope="module")
def line_double() -> Iterator[LineApiDouble]:
    with LineApiDouble(ACCESS_TOKEN) as double:
        yield double


@pytest.fixture(scope="module")
def web(rasa_url: str) -> Iterator[str]:
    """The gateway with limits no storm reaches, so that every input gets to the handlers."""
    settings_ = Settings(
        rasa_url=rasa_url,
        rasa_timeout=30.0,
        rasa_token=rasa_token(),
        rest_token=rest_token(),
        staff_db_url=staff_test_db_url(),
        rate_limit_sender="1000000/minute",
        rate_limit_client="1000001/minute",
    )
    with InProcessGateway(settings_) as gateway:
        yield gateway.base_url


@pytest.fixture(scope="module")
def line(rasa_url: str, line_double: LineApiDouble) -> Iterator[str]:
    settings_ = line_settings(rasa_url, line_double, rasa_timeout=30.0, rate_limit_sender="6/minute")
    with InProcessGateway(settings_) as gateway:
        yield gateway.base_url


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=60) as client:
        yield client


def assert_chat_answers(http: httpx.Client, base_url: str) -> None:
    """The next normal question after the storm gets an answer."""
    reply = http.post(f"{base_url}/web/chat", json={"sender": secrets.token_hex(16), "message": QUESTION})
    assert reply.status_code == 200, reply.text
    data = reply.json()
    assert data["messages"] and data["envelope"]["kind"] in ("answer", "clarify", "form")


# ---- the web chat ----


def test_web_chat(web: str, http: httpx.Client) -> None:
    chat_bodies = bodies(
        {"sender": sender, "message": st.one_of(text, text, scalar, json_value)},
        {"sender": page_sender, "message": message},
    )

    def send(example: tuple[bytes, str, str | None]) -> int:
        body, kind, from_ = example
        headers = {"Content-Type": kind} | ({"Origin": from_} if from_ else {})
        return http.post(f"{web}/web/chat", content=body, headers=headers).status_code

    run_storm("web_chat", st.tuples(chat_bodies, content_type, origin), send)
    assert_chat_answers(http, web)


def test_web_updates(web: str, http: httpx.Client) -> None:
    params = st.fixed_dictionaries(
        {},
        optional={
            "sender": mostly(page_sender, st.one_of(sender, text)),
            "after": mostly(st.integers(0, 10**6).map(str), st.one_of(text, st.integers().map(str))),
        },
    )

    def send(example: dict[str, Any]) -> int:
        return http.get(f"{web}/web/updates", params=query(example)).status_code

    run_storm("web_updates", params, send)
    assert_chat_answers(http, web)


def test_web_updates_stream(web: str, http: httpx.Client) -> None:
    params = st.fixed_dictionaries(
        {},
        optional={
            "sender": mostly(page_sender, st.one_of(sender, text)),
            "after": mostly(st.integers(0, 10**6).map(str), st.one_of(text, st.integers().map(str))),
        },
    )

    def send(example: dict[str, Any]) -> int:
        # A good sender opens a live stream that never ends: its status is all that is read.
        with http.stream("GET", f"{web}/web/updates/stream", params=query(example)) as response:
            return response.status_code

    run_storm("web_stream", params, send)
    assert_chat_answers(http, web)


def test_web_callback(web: str, http: httpx.Client) -> None:
    callback_bodies = bodies(
        {
            "sender": sender,
            "name": st.one_of(text, scalar),
            "phone": st.one_of(
                st.sampled_from(["081-234-5678", "+66812345678", "02 123 4567"]), text, scalar
            ),
            "note": st.one_of(text, scalar),
            "consent": st.one_of(st.booleans(), scalar),
        },
        {
            "sender": page_sender,
            "name": message.map(lambda t: t[:100]),
            "phone": mostly(st.sampled_from(["081-234-5678", "+66812345678", "02 123 4567"]), text),
            "note": st.one_of(st.just(""), message),
            "consent": mostly(st.just(True), st.booleans()),
        },
    )

    def send(example: tuple[bytes, str]) -> int:
        body, kind = example
        return http.post(f"{web}/web/callback", content=body, headers={"Content-Type": kind}).status_code

    run_storm("web_callback", st.tuples(callback_bodies, content_type), send)
    assert_chat_answers(http, web)


# ---- the LINE webhook ----


def _line_failures(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Errors of the webhook's background handling (its 200 has gone out long before)."""
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("handling LINE event")]


def test_line_webhook_unsigned(line: str, http: httpx.Client) -> None:
    signature = st.one_of(
        st.none(),
        st.sampled_from(["", "abc", "=" * 44, "A" * 4096]),
        st.binary(min_size=32, max_size=32).map(lambda b: base64.b64encode(b).decode()),
    )
    body = st.one_of(
        bodies(
            {"destination": text, "events": json_value},
            {
                "destination": text,
                "events": st.lists(st.dictionaries(text, json_value, max_size=6), max_size=4),
            },
        ),
        st.builds(_dump, json_value, st.booleans()),
    )

    def send(example: tuple[bytes, str | None]) -> int:
        raw, sig = example
        headers = {"Content-Type": "application/json"} | (
            {"X-Line-Signature": sig} if sig is not None else {}
        )
        return http.post(f"{line}/line/webhook", content=raw, headers=headers).status_code

    run_storm("line_unsigned", st.tuples(body, signature), send)


def _mutate(event: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    changed = dict(event)
    path = key.split(".")
    target = changed
    for part in path[:-1]:
        target[part] = dict(target.get(part) or {}) if isinstance(target.get(part), dict) else {}
        target = target[part]
    target[path[-1]] = value
    return changed


EVENT_KINDS = ["text", "mention", "postback", "follow", "other"]
EVENT_KEYS = [
    "type",
    "mode",
    "timestamp",
    "source",
    "source.userId",
    "source.type",
    "replyToken",
    "webhookEventId",
    "deliveryContext",
    "message",
    "message.text",
    "message.type",
    "message.mention",
    "postback",
    "postback.data",
]
# What an event is made of; it is built (with fresh ids and reply tokens) when it is sent, since
# Hypothesis wants its strategies free of randomness of their own.
event_recipe = st.tuples(
    st.sampled_from(EVENT_KINDS),
    st.integers(0, len(LINE_USERS) - 1),
    text,
    st.booleans(),  # a reply token the platform issued, or a hostile one
    st.one_of(st.none(), st.tuples(st.sampled_from(EVENT_KEYS), json_value)),
)


def build_event(recipe: tuple[Any, ...], double: LineApiDouble, hostile_token: str) -> dict[str, Any]:
    kind, user_index, words, issued, mutation = recipe
    user = LINE_USERS[user_index]
    token = double.issue_reply_token() if issued else hostile_token
    if kind == "text":
        event = text_event(words, token, user)
    elif kind == "mention":
        event = text_event(words, token, source("group", user_id=user["userId"]), mention_self=True)
    elif kind == "postback":
        event = postback_event(words, token, user)
    elif kind == "follow":
        event = follow_event(token, user)
    else:
        event = {"type": words, "webhookEventId": ulid(), "source": user, "replyToken": token}
    return _mutate(event, *mutation) if mutation else event


def test_line_webhook_signed(
    line: str, line_double: LineApiDouble, http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    payloads = st.one_of(
        st.tuples(st.just("events"), st.lists(event_recipe, min_size=1, max_size=5), text),
        st.tuples(st.just("any"), json_value, st.just("")),
    )

    def send(example: tuple[tuple[str, Any, str], bool]) -> int:
        (shape, value, hostile_token), ascii_only = example
        if shape == "events":
            events = [build_event(recipe, line_double, hostile_token) for recipe in value]
            value = {"destination": "U" + "0" * 32, "events": events}
        body = _dump(value, ascii_only)
        headers = {"Content-Type": "application/json", "X-Line-Signature": sign(body, CHANNEL_SECRET)}
        return http.post(f"{line}/line/webhook", content=body, headers=headers).status_code

    run_storm("line_signed", st.tuples(payloads, st.booleans()), send)
    # The next normal question, from a user the storm did not limit, is answered.
    token = line_double.issue_reply_token()
    body = json.dumps({"destination": "U" + "0" * 32, "events": [text_event(QUESTION, token)]}).encode()
    headers = {"Content-Type": "application/json", "X-Line-Signature": sign(body, CHANNEL_SECRET)}
    assert http.post(f"{line}/line/webhook", content=body, headers=headers).status_code == 200
    reply = line_double.wait_for_reply(token, timeout=120)
    assert reply.messages and reply.messages[0].get("text") != texts.APOLOGY
    assert not _line_failures(caplog)


# ---- staff sign-in ----


@pytest.fixture(scope="module")
def account(web: str) -> tuple[str, str]:
    """An agent account in the test database (the web gateway's start made the schema)."""
    from staff.accounts import save_account
    from staff.db import open_pool

    username, password = f"hostile-{secrets.token_hex(4)}", secrets.token_urlsafe(16)

    async def make() -> None:
        pool = await open_pool(staff_test_db_url(), max_size=1)
        try:
            await save_account(pool, username, password, "agent")
        finally:
            await pool.close()

    asyncio.run(make())
    return username, password


def test_login(web: str, http: httpx.Client, account: tuple[str, str]) -> None:
    login_bodies = bodies(
        {"username": st.one_of(text, scalar), "password": st.one_of(text, scalar, json_value)},
        {"username": mostly(message.map(lambda t: plain_text(t)[:128]), message), "password": message},
    )

    def send(example: tuple[bytes, str]) -> int:
        body, kind = example
        return http.post(f"{web}/api/auth/login", content=body, headers={"Content-Type": kind}).status_code

    run_storm("login", st.tuples(login_bodies, content_type), send)
    username, password = account
    signed_in = http.post(f"{web}/api/auth/login", json={"username": username, "password": password})
    assert signed_in.status_code == 200 and signed_in.json()["token"]


# ---- the catalog ----


def test_catalog_search(catalog_url: str, http: httpx.Client) -> None:
    params = st.fixed_dictionaries(
        {},
        optional={
            "q": text,
            "category": text,
            "agency": text,
            "limit": mostly(st.integers(1, 200), st.one_of(st.integers(), text)),
        },
    )

    def send(example: dict[str, Any]) -> int:
        return http.get(f"{catalog_url}/services", params=query(example)).status_code

    run_storm("catalog_search", params, send)
    found = http.get(f"{catalog_url}/services", params={"q": "หนังสือเดินทาง"})
    assert found.status_code == 200 and found.json()["items"]


def test_catalog_record(catalog_url: str, http: httpx.Client) -> None:
    etags = st.one_of(
        st.none(),
        st.sampled_from(['"x"', "*", 'W/"a", "b"', ",,,"]),
        # Printable ASCII without spaces at the ends, which an HTTP client refuses to send.
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=200).map(str.strip),
    )

    def send(example: tuple[str, str | None]) -> int:
        service_id, etag = example
        headers = {"If-None-Match": etag} if etag is not None else {}
        path = quote(service_id[:1500], safe="")  # what a URL can carry at all
        return http.get(f"{catalog_url}/services/{path}", headers=headers).status_code

    run_storm(
        "catalog_record",
        st.tuples(st.one_of(text, st.sampled_from(["passport", "PASSPORT", "passport/", ".."])), etags),
        send,
    )
    record = http.get(f"{catalog_url}/services/passport")
    assert record.status_code == 200 and record.json()["id"] == "passport"
