"""bot.channels.rest.MaskedRestInput in a real Sanic server: a bearer token, request checks, masking.

The channel is registered the way `rasa run` registers it (rasa.core.channels.channel.register), with an
agent double that records what Rasa would receive and echoes it back. Sanic 21.12 cannot start a second app
in one process (its TouchUp rewrites classes once), so one server serves every test and each test sets the
channel's token.
"""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from rasa.core.channels.channel import UserMessage, register
from sanic import Sanic
from support import free_port

from bot.channels.rest import MAX_MESSAGE_CHARS, MaskedRestInput
from privacy import EMAIL_MASK, NATIONAL_ID_MASK, PHONE_MASK

TOKEN = "test-token-ไม่ใช่ของจริง".encode().hex()
FAILING_TURN = "a turn whose handling raises"


@dataclass
class RecordingAgent:
    """Stands in for rasa.core.agent.Agent: keeps each message and answers with its text."""

    received: list[UserMessage] = field(default_factory=list)

    async def handle_message(self, message: UserMessage) -> None:
        self.received.append(message)
        await message.output_channel.send_text_message(message.sender_id, message.text or "")
        if message.text == FAILING_TURN:
            # As when the tracker store cannot save the turn after its replies were collected.
            raise ConnectionError("the tracker store went away")


@dataclass
class Server:
    url: str
    agent: RecordingAgent
    channel: MaskedRestInput

    def post(self, body: Any, token: str | None = None, raw: bytes | None = None) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode()
        request = urllib.request.Request(f"{self.url}/webhooks/rest/webhook", data=data, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """A Sanic app with the channel on a free port, in a thread of its own."""
    channel = MaskedRestInput.from_credentials({"token": TOKEN})
    agent = RecordingAgent()
    app = Sanic("masked_rest_test")
    app.ctx.agent = agent
    register([channel], app, "/webhooks/")
    port = free_port()
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, Any] = {}

    def run() -> None:
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(
            app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
        )
        loop.run_until_complete(server.startup())
        holder["server"] = server
        started.set()
        loop.run_forever()
        loop.run_until_complete(server.close())
        loop.close()

    thread = threading.Thread(target=run, name="sanic-test-server", daemon=True)
    thread.start()
    assert started.wait(30), "the Sanic test server did not start"
    try:
        yield Server(f"http://127.0.0.1:{port}", agent, channel)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


@pytest.fixture
def secured(server: Server) -> Server:
    server.channel.token = MaskedRestInput.from_credentials({"token": TOKEN}).token
    return server


@pytest.fixture
def open_channel(server: Server) -> Server:
    # credentials.yml passes ${REST_TOKEN}, which is "" when unset: no token then.
    server.channel.token = MaskedRestInput.from_credentials({"token": ""}).token
    return server


def test_the_channel_keeps_rasas_rest_path() -> None:
    assert MaskedRestInput.name() == "rest"
    assert MaskedRestInput.from_credentials(None).token is None


def test_health_route_needs_no_token(secured: Server) -> None:
    with urllib.request.urlopen(f"{secured.url}/webhooks/rest/", timeout=10) as response:
        assert json.loads(response.read()) == {"status": "ok"}


def test_a_token_is_required_when_set(secured: Server) -> None:
    before = len(secured.agent.received)
    body = {"sender": "u-token", "message": "สวัสดีค่ะ"}
    assert secured.post(body)[0] == 401
    assert secured.post(body, token="wrong")[0] == 401
    assert secured.post(body, token="")[0] == 401
    assert secured.post(body, token=TOKEN + "x")[0] == 401
    assert len(secured.agent.received) == before  # nothing reached Rasa
    status, reply = secured.post(body, token=TOKEN)
    assert status == 200
    assert reply == [{"recipient_id": "u-token", "text": "สวัสดีค่ะ"}]


def test_no_token_needed_when_none_is_set(open_channel: Server) -> None:
    status, reply = open_channel.post({"sender": "u-open", "message": "ทำพาสปอร์ตกี่บาท"})
    assert status == 200
    assert reply[0]["text"] == "ทำพาสปอร์ตกี่บาท"


@pytest.mark.parametrize(
    ("body", "raw"),
    [
        (None, b"this is not json"),
        (None, b'{"sender": "u", "message": '),
        (["sender", "message"], None),
        ("สวัสดี", None),
        ({"message": "สวัสดี"}, None),
        ({"sender": "", "message": "สวัสดี"}, None),
        ({"sender": "   ", "message": "สวัสดี"}, None),
        ({"sender": 42, "message": "สวัสดี"}, None),
        ({"sender": "u"}, None),
        ({"sender": "u", "message": None}, None),
        ({"sender": "u", "message": 123}, None),
        ({"sender": "u", "message": ["สวัสดี"]}, None),
    ],
)
def test_malformed_requests_get_400(secured: Server, body: Any, raw: bytes | None) -> None:
    before = len(secured.agent.received)
    status, reply = secured.post(body, token=TOKEN, raw=raw)
    assert status == 400
    assert reply["error"]
    assert len(secured.agent.received) == before


def test_too_long_a_message_gets_413(secured: Server) -> None:
    status, reply = secured.post({"sender": "u-long", "message": "ก" * (MAX_MESSAGE_CHARS + 1)}, token=TOKEN)
    assert status == 413
    assert reply["error"]
    status, _ = secured.post({"sender": "u-long", "message": "ก" * MAX_MESSAGE_CHARS}, token=TOKEN)
    assert status == 200


def test_an_empty_message_is_passed_on(secured: Server) -> None:
    status, _ = secured.post({"sender": "u-empty", "message": ""}, token=TOKEN)
    assert status == 200
    assert secured.agent.received[-1].text == ""


def test_personal_data_is_masked_before_rasa_sees_it(secured: Server) -> None:
    text = "เลขบัตร 1-1037-00012-34-5 เบอร์ 081-234-5678 อีเมล somchai@example.co.th ทำพาสปอร์ตกี่บาท"
    status, reply = secured.post({"sender": "u-mask", "message": text}, token=TOKEN)
    assert status == 200
    received = secured.agent.received[-1].text
    assert received == f"เลขบัตร {NATIONAL_ID_MASK} เบอร์ {PHONE_MASK} อีเมล {EMAIL_MASK} ทำพาสปอร์ตกี่บาท"
    for secret in ("1-1037-00012-34-5", "081-234-5678", "somchai@example.co.th"):
        assert secret not in received
        assert secret not in json.dumps(reply, ensure_ascii=False)


def test_thai_digit_ids_are_masked(secured: Server) -> None:
    # A check digit that is right (privacy/masking.py): a bare 13-digit number failing it is not an ID.
    secured.post({"sender": "u-thai-digits", "message": "เลข ๑๑๐๓๗๐๐๐๑๒๓๔๖ ค่ะ"}, token=TOKEN)
    assert secured.agent.received[-1].text == f"เลข {NATIONAL_ID_MASK} ค่ะ"


def test_a_sender_that_is_a_phone_number_is_replaced_by_a_stable_digest(secured: Server) -> None:
    senders = []
    for sender in ("0812345678", "0812345678", "0899999999"):
        status, _ = secured.post({"sender": sender, "message": "สวัสดี"}, token=TOKEN)
        assert status == 200
        senders.append(secured.agent.received[-1].sender_id)
    assert all("081" not in s and "089" not in s for s in senders)
    assert senders[0] == senders[1] != senders[2]


def test_the_message_reaches_rasa_through_the_rest_channel(secured: Server) -> None:
    secured.post({"sender": "u-channel", "message": "สวัสดี", "metadata": {"from": "test"}}, token=TOKEN)
    message = secured.agent.received[-1]
    assert message.input_channel == "rest"
    assert message.sender_id == "u-channel"


def test_a_turn_that_failed_is_answered_500_not_with_what_was_collected(secured: Server) -> None:
    status, body = secured.post({"sender": "failing", "message": FAILING_TURN}, token=TOKEN)
    assert status == 500
    assert "ConnectionError" in body["error"]
    # The next turn is answered as usual: the failure was this request's only.
    assert secured.post({"sender": "failing", "message": "สวัสดี"}, token=TOKEN) == (
        200,
        [{"recipient_id": "failing", "text": "สวัสดี"}],
    )
