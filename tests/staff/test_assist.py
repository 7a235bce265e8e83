"""Agent assist, `POST /api/agent/assist` (../shared/spec/staff-api.md, Agent API; staff/assist.py).

The end-to-end tests run the gateway app (with its lifespan) against the real assistant: Rasa's
parse and the action server's answer. Accounts are rows written here with SQL (token sign-in
needs no password), in a database of this module's own. The first tests need nothing running.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.rows import dict_row
from support import database_url, drop_database, free_port

from contract.replies import FOLLOW_UPS
from gateway.app import create_app
from gateway.config import DEFAULT_REDIS_URL, DEFAULT_STAFF_DB_URL, Settings
from staff.assist import (
    DETAIL_FORM,
    SOURCE_LINE,
    alternatives,
    answer_text,
    tracker_for,
    understood_service,
)
from staff.auth import token_hash

ASSIST_DB = "staff_test_assist"
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
Tokens = dict[str, str]


def parse_of(
    service: str, ranking: list[tuple[str, float]], topics: list[tuple[str, float]], *,
    intent: str = "ask_service", ambiguous: bool = False, entities: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A parse result shaped like Rasa's /model/parse with the project's classifiers."""
    return {
        "text": "...",
        "intent": {"name": intent, "confidence": 0.9},
        "entities": entities or [],
        "service": {
            "name": service, "confidence": dict(ranking).get(service, 0.0), "ambiguous": ambiguous,
            "ranking": [{"name": n, "confidence": c} for n, c in ranking], "mentions": [],
        },
        "topic": {"name": topics[0][0], "confidence": topics[0][1],
                  "ranking": [{"name": n, "confidence": c} for n, c in topics]},
    }


# ---- no stack needed ------------------------------------------------------------------------


def test_the_verdict_is_the_service_unless_the_text_names_none() -> None:
    topics = [("fee", 0.9), ("documents", 0.1)]
    sure = parse_of("passport", [("passport", 0.9), ("id-card", 0.1)], topics)
    assert understood_service(sure) == "passport"
    # Not sure enough for the chat to answer without asking back: the agent still sees the top one.
    close = [("passport", 0.4), ("id-card", 0.35), ("none", 0.25)]
    unsure = parse_of("passport", close, topics, ambiguous=True)
    assert understood_service(unsure) == "passport"
    follow_up = parse_of("none", [("none", 0.8), ("passport", 0.2)], topics)
    assert understood_service(follow_up) is None
    small_talk = parse_of("passport", close, topics, intent="greet", ambiguous=True)
    assert understood_service(small_talk) is None
    # The agent's choice wins over everything.
    assert understood_service(follow_up, "id-card") == "id-card"


def test_alternatives_rank_other_services_and_topics_together() -> None:
    parse = parse_of(
        "passport", [("passport", 0.7), ("none", 0.2), ("id-card", 0.08), ("vehicle-tax", 0.0001)],
        [("fee", 0.6), ("documents", 0.3), ("steps", 0.1)],
    )
    found = alternatives(parse, "passport", "fee")
    pairs = [(a["service_id"], a["topic"]) for a in found]
    assert pairs == [("passport", "documents"), ("passport", "steps"), ("id-card", "fee")]
    assert [a["confidence"] for a in found] == [0.21, 0.07, 0.048]
    assert not {a["service_id"] for a in found} & set(FOLLOW_UPS)
    # Too unlikely to show: vehicle-tax (0.0001 x 0.6).
    # The agent's own choice is certain: its other topics keep their own probability.
    chosen = alternatives(parse, "id-card", "fee", chosen_service=True)
    assert chosen[:2] == [
        {"service_id": "passport", "topic": "fee", "confidence": 0.42},
        {"service_id": "id-card", "topic": "documents", "confidence": 0.3},
    ]
    # No service understood: the likeliest services, on the topic asked.
    assert [a["service_id"] for a in alternatives(parse, None, "fee")] == ["passport", "id-card"]


def test_tracker_is_a_new_conversation_read_as_the_service() -> None:
    age = {"entity": "age", "value": "อายุ 81 ปี", "start": 0, "end": 9}
    parse = parse_of("none", [("none", 0.6), ("elderly-allowance", 0.4)], [("benefit", 1.0)], entities=[age])
    tracker = tracker_for(parse, "elderly-allowance")
    message = tracker["latest_message"]
    assert message["service"]["name"] == "elderly-allowance" and message["service"]["ambiguous"] is False
    assert message["service"]["confidence"] == 0.4
    assert message["intent"]["name"] == "ask_service"
    assert tracker["slots"]["age"] == "อายุ 81 ปี" and tracker["slots"]["service"] is None
    assert tracker["events"] == [] and tracker["sender_id"].startswith("assist-")
    assert tracker_for(parse, "elderly-allowance")["sender_id"] != tracker["sender_id"]
    # The agent's choice of topic goes as a button's payload names it.
    chosen = tracker_for(parse, "elderly-allowance", topic="eligibility")["latest_message"]
    assert {"entity": "topic", "value": "eligibility"} in chosen["entities"] and age in chosen["entities"]
    # Asked again as after the detail form: the action then answers with what is known.
    assert tracker_for(parse, "elderly-allowance", form_ran=True)["events"] == [
        {"event": "action", "name": DETAIL_FORM}
    ]


def test_answer_text_leaves_the_source_line_to_the_fields() -> None:
    envelope = {"kind": "answer", "source_url": "https://example.go.th", "updated": "2026-01-02"}
    source = SOURCE_LINE.format(url="https://example.go.th", updated="2026-01-02")
    responses = [{"text": f"บริการ: ค่าธรรมเนียม\n• 100 บาท\n{source}", "buttons": []}, {"custom": envelope}]
    assert answer_text(responses, envelope) == "บริการ: ค่าธรรมเนียม\n• 100 บาท"


# ---- over HTTP, against the running assistant ----------------------------------------------------


@pytest.fixture(scope="module")
def assist_db_url() -> Iterator[str]:
    url = database_url(os.environ.get("STAFF_DB_URL") or DEFAULT_STAFF_DB_URL, ASSIST_DB)
    drop_database(url, ASSIST_DB)  # the gateway's start creates it, with the schema
    yield url
    drop_database(url, ASSIST_DB)


def _settings(rasa_url: str, rasa_token: str, actions_url: str, db_url: str) -> Settings:
    return Settings(
        rasa_url=rasa_url, rasa_token=rasa_token, actions_url=actions_url, rasa_timeout=30.0,
        staff_db_url=db_url, redis_url=os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL,
    )


@pytest.fixture(scope="module")
def gateway(rasa_url: str, rasa_token: str, actions_url: str, assist_db_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(_settings(rasa_url, rasa_token, actions_url, assist_db_url))) as client:
        yield client


@pytest.fixture(scope="module")
def tokens(gateway: TestClient, assist_db_url: str) -> Tokens:
    """A bearer token per role: agent, supervisor, agency."""
    tokens = {}
    with psycopg.connect(assist_db_url, autocommit=True) as conn:
        for role, agency in (("agent", None), ("supervisor", None), ("agency", "dlt")):
            username, token = f"assist-{role}-{secrets.token_hex(3)}", secrets.token_urlsafe(24)
            conn.execute(
                "INSERT INTO staff_user (username, password_hash, role, agency, display_name)"
                " VALUES (%s, '!', %s, %s, %s)",
                (username, role, agency, f"ทดสอบ {role}"),
            )
            conn.execute(
                "INSERT INTO staff_token (token_hash, username, expires_at)"
                " VALUES (%s, %s, now() + interval '1 hour')",
                (token_hash(token), username),
            )
            tokens[role] = token
    return tokens


def ask(
    client: TestClient, token: str | None, text: str, service_id: str | None = None, **extra: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = {"text": text, "service_id": service_id, **extra}
    return client.post("/api/agent/assist", json=body, headers=headers)


def understood(body: dict[str, Any]) -> tuple[str | None, str]:
    return body["understanding"]["service_id"], body["understanding"]["topic"]


def check_shape(body: dict[str, Any]) -> None:
    assert set(body) == {"understanding", "answer", "alternatives", "card"}
    assert set(body["understanding"]) == {"service_id", "topic", "confidence"}
    for alternative in body["alternatives"]:
        assert set(alternative) == {"service_id", "topic", "confidence"}
        assert alternative["service_id"] not in FOLLOW_UPS
        assert (alternative["service_id"], alternative["topic"]) != understood(body)
    assert len(body["alternatives"]) <= 4
    if body["answer"] is not None:
        assert set(body["answer"]) == {"text", "source_url", "updated"}


@pytest.mark.postgres
def test_a_question_about_a_service_gets_the_chats_answer(gateway: TestClient, tokens: Tokens) -> None:
    response = ask(gateway, tokens["agent"], "จะไปทำหนังสือเดินทางครั้งแรก ต้องถือเอกสารอะไรไปบ้างคะ")
    assert response.status_code == 200, response.text
    body = response.json()
    check_shape(body)
    assert body["understanding"]["service_id"] == "passport"
    assert body["understanding"]["topic"] == "documents"
    assert 0.5 < body["understanding"]["confidence"] <= 1
    answer = body["answer"]
    assert answer["source_url"].startswith("https://") and DATE.match(answer["updated"])
    assert "บัตรประจำตัวประชาชน" in answer["text"] and "ที่มา:" not in answer["text"]
    card = body["card"]
    assert card["title"] == "หนังสือเดินทาง (พาสปอร์ต)" and card["agency"] and card["facts"]
    assert (card["source_url"], card["updated"]) == (answer["source_url"], answer["updated"])
    assert body["alternatives"], "the other likely topics and services, one click away"


@pytest.mark.postgres
def test_the_agents_choice_of_service_answers_for_it(gateway: TestClient, tokens: Tokens) -> None:
    question = "จะต่ออายุใบขับขี่ ต้องจ่ายค่าธรรมเนียมกี่บาท"
    first = ask(gateway, tokens["supervisor"], question).json()
    assert understood(first) == ("driving-licence-renewal", "fee")
    chosen = ask(gateway, tokens["supervisor"], question, "driving-licence-new")
    assert chosen.status_code == 200, chosen.text
    body = chosen.json()
    check_shape(body)
    assert understood(body) == ("driving-licence-new", "fee")
    assert body["card"]["title"].startswith("ใบอนุญาตขับรถชั่วคราว")
    assert "บาท" in body["answer"]["text"]
    # What the NLU itself thought is one click away again.
    assert ("driving-licence-renewal", "fee") in {(a["service_id"], a["topic"]) for a in body["alternatives"]}
    # A topic alternative clicked (beyond the spec): that topic of the service.
    steps = ask(gateway, tokens["supervisor"], question, "driving-licence-new", topic="documents").json()
    assert understood(steps) == ("driving-licence-new", "documents")
    assert steps["card"]["topic_label"] == "เอกสารที่ต้องใช้"


@pytest.mark.postgres
def test_a_detail_the_caller_gives_is_used(gateway: TestClient, tokens: Tokens) -> None:
    body = ask(gateway, tokens["agent"], "คุณตาอายุ 83 ปี จะได้เบี้ยผู้สูงอายุเดือนละเท่าไร").json()
    assert understood(body) == ("elderly-allowance", "benefit")
    assert "800" in body["answer"]["text"]


@pytest.mark.postgres
def test_small_talk_has_no_answer(gateway: TestClient, tokens: Tokens) -> None:
    body = ask(gateway, tokens["agent"], "ขอบใจมากจ้ะ เดี๋ยวลองไปดูเองนะ").json()
    check_shape(body)
    assert body["understanding"]["service_id"] is None
    assert body["answer"] is None and body["card"] is None


@pytest.mark.postgres
def test_only_the_call_centre_may_ask(gateway: TestClient, tokens: Tokens) -> None:
    question = "ทำบัตรประชาชนใหม่ที่ไหนได้บ้าง"
    assert ask(gateway, None, question).status_code == 401
    assert ask(gateway, "not-a-token", question).status_code == 401
    assert ask(gateway, tokens["agency"], question).status_code == 403
    assert ask(gateway, tokens["agent"], "   ").status_code == 422
    assert ask(gateway, tokens["agent"], question, "id-card", topic="horoscope").status_code == 422


@pytest.mark.postgres
def test_every_call_is_audited_with_the_text_masked(
    gateway: TestClient, tokens: Tokens, assist_db_url: str
) -> None:
    response = ask(gateway, tokens["agent"], "ผู้โทรเบอร์ 0891234567 ถามว่าบัตรประชาชนหายต้องไปแจ้งที่ไหน")
    assert response.status_code == 200, response.text
    with psycopg.connect(assist_db_url, row_factory=dict_row) as conn:
        row = conn.execute(
            "SELECT username, target, detail FROM staff_audit WHERE action = 'assist'"
            " ORDER BY id DESC LIMIT 1"
        ).fetchone()
    assert row is not None and row["username"].startswith("assist-agent-")
    assert row["target"] == response.json()["understanding"]["service_id"] == "id-card"
    assert "0891234567" not in row["detail"]["text"] and "[เบอร์โทร]" in row["detail"]["text"]
    assert row["detail"]["answered"] is True


def _tracker_events(rasa_url: str, rasa_token: str, sender: str) -> list[dict[str, Any]]:
    url = f"{rasa_url}/conversations/{sender}/tracker"
    response = httpx.get(url, params={"token": rasa_token}, timeout=30)
    response.raise_for_status()
    return response.json()["events"]


def _assist_senders() -> int:
    """Conversations in the tracker store under the sender ids assist makes up (there must be none)."""
    conninfo = {
        "host": os.environ.get("TRACKER_DB_HOST", "127.0.0.1"),
        "port": os.environ.get("TRACKER_DB_PORT", "5432"),
        "user": os.environ.get("TRACKER_DB_USER", "postgres"),
        "password": os.environ.get("TRACKER_DB_PASSWORD", ""),
        "dbname": os.environ.get("TRACKER_DB_NAME", "rasa_test"),
    }
    with psycopg.connect(**conninfo) as conn:
        query = "SELECT count(DISTINCT sender_id) FROM events WHERE sender_id LIKE 'assist-%'"
        row = conn.execute(query).fetchone()
    return int(row[0]) if row else 0


@pytest.mark.postgres
def test_no_conversation_is_written(
    gateway: TestClient, tokens: Tokens, rasa_url: str, rasa_token: str
) -> None:
    # A citizen's conversation, going on while the agent asks.
    sender = f"citizen-{secrets.token_hex(6)}"
    headers = {"Authorization": f"Bearer {os.environ['REST_TOKEN']}"} if os.environ.get("REST_TOKEN") else {}
    chat = httpx.post(
        f"{rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": "อยากเปลี่ยนชื่อต้องทำยังไงคะ"},
        headers=headers, timeout=30,
    )
    assert chat.status_code == 200
    before = _tracker_events(rasa_url, rasa_token, sender)
    questions = [("เปลี่ยนนามสกุลเสียเงินไหมคะ", None), ("ขอรายการหลักฐานที่ต้องยื่นด้วย", "name-change")]
    for question, service_id in questions:
        assert ask(gateway, tokens["agent"], question, service_id).status_code == 200
    assert _tracker_events(rasa_url, rasa_token, sender) == before
    assert _assist_senders() == 0


@pytest.mark.postgres
def test_rasa_or_the_action_server_down_is_503(
    rasa_url: str, rasa_token: str, actions_url: str, assist_db_url: str, tokens: Tokens
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    for settings in (
        _settings(nowhere, rasa_token, actions_url, assist_db_url),
        _settings(rasa_url, rasa_token, f"{nowhere}/webhook", assist_db_url),
    ):
        with TestClient(create_app(settings)) as client:
            response = ask(client, tokens["agent"], "จดทะเบียนสมรสที่ไหนได้บ้าง")
        assert response.status_code == 503
        assert re.search(r"[ก-๙]", response.json()["detail"]), "a Thai message for the agent"
