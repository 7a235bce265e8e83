"""RasaClient.send: a turn retried on another replica is answered once and stored once.

Rasa is a scripted httpx transport here; tests/ops/ kill real replicas under load.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from gateway.rasa_client import ROUTE_HEADER, TURN_ID, RasaClient, RasaUnavailable, replies_from_events

WEBHOOK = "/webhooks/rest/webhook"
ENVELOPE = {"kind": "answer", "service_id": "passport"}


def _bot_events(turn_id: str) -> list[dict[str, Any]]:
    return [
        {"event": "action", "name": "action_session_start"},
        {"event": "user", "text": "ทำพาสปอร์ต", "metadata": {TURN_ID: "an-earlier-turn"}},
        {"event": "bot", "text": "คำตอบก่อนหน้า", "data": {}},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "sender_id": "web:abc", "text": "กี่บาท", "metadata": {TURN_ID: turn_id}},
        {"event": "action", "name": "action_answer"},
        {"event": "bot", "text": "ค่าธรรมเนียม 1,000 บาท\n\nที่มา: กรมการกงสุล", "data": {"buttons": None}},
        {"event": "bot", "text": "ถามต่อไหมคะ", "data": {"buttons": [{"title": "ถามต่อ", "payload": "/x"}]}},
        {"event": "bot", "text": None, "data": {"custom": ENVELOPE}},
        {"event": "action", "name": "action_listen"},
    ]


def test_replies_are_rebuilt_from_the_stored_turn_as_the_rest_channel_sends_them() -> None:
    replies = replies_from_events(_bot_events("t1"), "t1")
    assert replies == [
        {"recipient_id": "web:abc", "text": "ค่าธรรมเนียม 1,000 บาท"},
        {"recipient_id": "web:abc", "text": "ที่มา: กรมการกงสุล"},
        {"recipient_id": "web:abc", "text": "ถามต่อไหมคะ", "buttons": [{"title": "ถามต่อ", "payload": "/x"}]},
        {"recipient_id": "web:abc", "custom": ENVELOPE},
    ]
    assert replies_from_events(_bot_events("t1"), "another") is None


class ScriptedRasa:
    """Answers the webhook from a list of outcomes, and the tracker from what was 'stored'."""

    def __init__(self, outcomes: list[Callable[[dict[str, Any]], httpx.Response]]) -> None:
        self.outcomes = outcomes
        self.posts: list[httpx.Request] = []
        self.tracker_reads = 0
        self.stored_turn: str | None = None
        self.tracker_failures = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == WEBHOOK:
            self.posts.append(request)
            return self.outcomes.pop(0)(json.loads(request.content))
        self.tracker_reads += 1
        if self.tracker_failures:
            self.tracker_failures -= 1
            return httpx.Response(500)
        events = _bot_events(self.stored_turn) if self.stored_turn else []
        return httpx.Response(200, json={"events": events})


def answered(body: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json=[{"text": "คำตอบ"}, {"custom": ENVELOPE}])


def bad_gateway(body: dict[str, Any]) -> httpx.Response:
    return httpx.Response(502)


def _send(rasa: ScriptedRasa, timeout: float = 5.0) -> list[dict[str, Any]]:
    async def scenario() -> list[dict[str, Any]]:
        transport = httpx.MockTransport(rasa.handler)
        client = RasaClient("http://rasa", timeout=timeout, client=httpx.AsyncClient(transport=transport))
        try:
            return await client.send("web:abc", "กี่บาท", {"channel": "web"})
        finally:
            await client.aclose()

    return asyncio.run(scenario())


def test_a_turn_the_replica_lost_is_sent_again_with_the_same_id_and_route() -> None:
    rasa = ScriptedRasa([bad_gateway, answered])
    assert _send(rasa)[-1] == {"custom": ENVELOPE}
    first, second = (json.loads(p.content) for p in rasa.posts)
    assert first["metadata"][TURN_ID] == second["metadata"][TURN_ID]
    assert first["metadata"]["channel"] == "web"
    assert rasa.posts[0].headers[ROUTE_HEADER] == rasa.posts[1].headers[ROUTE_HEADER]
    assert "abc" not in rasa.posts[0].headers[ROUTE_HEADER]
    assert rasa.tracker_reads == 1


def test_a_turn_stored_before_its_reply_was_lost_is_answered_from_the_tracker_not_sent_twice() -> None:
    rasa = ScriptedRasa([])

    def cut_off(body: dict[str, Any]) -> httpx.Response:
        rasa.stored_turn = body["metadata"][TURN_ID]  # Rasa stored the turn, then died
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.")

    rasa.outcomes = [cut_off]
    replies = _send(rasa)
    assert len(rasa.posts) == 1
    assert replies[-1]["custom"] == ENVELOPE
    assert [r.get("text") for r in replies[:3]] == ["ค่าธรรมเนียม 1,000 บาท", "ที่มา: กรมการกงสุล", "ถามต่อไหมคะ"]


def test_the_tracker_is_asked_again_while_it_cannot_be_read() -> None:
    rasa = ScriptedRasa([bad_gateway, answered])
    rasa.tracker_failures = 2
    assert _send(rasa)[-1] == {"custom": ENVELOPE}
    assert rasa.tracker_reads == 3 and len(rasa.posts) == 2


def test_nothing_listening_ends_the_turn_at_once_without_reading_the_tracker() -> None:
    def refused(body: dict[str, Any]) -> httpx.Response:
        raise httpx.ConnectError("Connection refused")

    rasa = ScriptedRasa([refused, refused])
    started = time.monotonic()
    with pytest.raises(RasaUnavailable):
        _send(rasa, timeout=10.0)
    assert time.monotonic() - started < 2
    assert len(rasa.posts) == 2 and rasa.tracker_reads == 0


def test_a_refused_request_is_not_tried_again() -> None:
    rasa = ScriptedRasa([lambda body: httpx.Response(400, json={"error": "bad"})])
    with pytest.raises(RasaUnavailable):
        _send(rasa)
    assert len(rasa.posts) == 1 and rasa.tracker_reads == 0


def test_the_tries_end_within_the_turns_time() -> None:
    rasa = ScriptedRasa([bad_gateway] * 10)
    started = time.monotonic()
    with pytest.raises(RasaUnavailable):
        _send(rasa, timeout=1.0)
    assert time.monotonic() - started < 1.5
