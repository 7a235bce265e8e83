"""`/api/analytics/...` over HTTP on the throwaway staff database: who may read it, the summary's
shape and counts on Thai days, an agency account's own services only, CSV, unanswered groups."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from analytics.store import SCHEMA
from analytics.turns import conversation_id, text_hash

pytestmark = pytest.mark.postgres

BANGKOK = dt.timezone(dt.timedelta(hours=7))
DAY = dt.date(2026, 3, 10)  # a Thai day of the seeded turns, far from any real one
SPEC_KEYS = {"turns", "conversations", "by_kind", "handoffs", "containment", "by_service", "by_day"}
_seq = itertools.count(1)
Row = tuple[dt.datetime, str, str | None, dict[str, Any]]


class FixedAgencies:
    """The catalog's agency codes, as a test wants them."""

    def __init__(self, owned: dict[str, set[str]]) -> None:
        self.owned = owned

    async def services_of(self, agency: str) -> set[str]:
        return set(self.owned.get(agency, set()))


@pytest.fixture(autouse=True)
def agencies(client: TestClient) -> None:
    client.app.state.analytics_agencies = FixedAgencies(
        {"dca": {"passport"}, "dlt": {"driving-licence-renewal", "vehicle-tax"}}
    )


@pytest.fixture
def turns(client: TestClient, sql: Callable[..., list[dict[str, Any]]]) -> Callable[..., None]:
    """turns(sender, [(bangkok time, kind, service_id, extra), ...]): rows as the consumer writes them."""
    sql(SCHEMA.read_text(encoding="utf-8"))  # as the API's first call would
    sql("DELETE FROM analytics_turn WHERE at >= %s AND at < %s",
        dt.datetime(2026, 3, 1, tzinfo=BANGKOK), dt.datetime(2026, 4, 1, tzinfo=BANGKOK))  # fmt: skip

    def add(sender: str, rows: list[Row], session: float = 1.0) -> None:
        for at, kind, service, extra in rows:
            user_ts = at.timestamp() + next(_seq) * 1e-6
            values = {"conversation": conversation_id(sender), "user_ts": user_ts, "at": at,
                      "session_start": session, "channel": "web", "kind": kind, "intent": "ask_service",
                      "service_id": service, "topic": "fee" if service else None, "confidence": 0.9,
                      "handoff": kind == "handoff", "feedback": None, "latency_ms": 120, "text": "คำถาม",
                      **extra}  # fmt: skip
            values["text_hash"] = text_hash(values["text"])
            marks = ", ".join(["%s"] * len(values))
            sql(f"INSERT INTO analytics_turn ({', '.join(values)}) VALUES ({marks})", *values.values())

    return add


def at(hour: int, minute: int = 0, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), BANGKOK)


@pytest.fixture
def headers(client: TestClient, make_account: Callable[..., tuple[str, str]]) -> Callable[..., Any]:
    def for_role(role: str, agency: str | None = None) -> dict[str, str]:
        username, password = make_account(role, agency)
        signed_in = client.post("/api/auth/login", json={"username": username, "password": password})
        token = signed_in.json()["token"]
        return {"Authorization": f"Bearer {token}"}

    return for_role


def summary(client: TestClient, headers: dict[str, str], **params: str) -> dict[str, Any]:
    params = {"from": DAY.isoformat(), "to": DAY.isoformat(), **params}
    response = client.get("/api/analytics/summary", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_summary_needs_a_token_and_an_analysts_role(client: TestClient, headers: Callable[..., Any]) -> None:
    assert client.get("/api/analytics/summary").status_code == 401
    assert client.get("/api/analytics/summary", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/api/analytics/summary", headers=headers("agent")).status_code == 403
    for path in ("/api/analytics/unanswered", "/api/analytics/turns.csv", "/api/analytics/summary.csv"):
        assert client.get(path).status_code == 401
        assert client.get(path, headers=headers("agent")).status_code == 403
    for role in ("supervisor", "admin"):
        assert client.get("/api/analytics/summary", headers=headers(role)).status_code == 200
    assert client.get("/api/analytics/summary", headers=headers("agency", "dlt")).status_code == 200


def test_summary_counts_turns_conversations_and_containment(
    client: TestClient, headers: Callable[..., Any], turns: Callable[..., None]
) -> None:
    turns("web:a", [(at(9), "answer", "passport", {}), (at(9, 1), "clarify", None, {}),
                    (at(9, 2), "answer", "passport", {"feedback": "helpful"})])  # fmt: skip
    turns("web:b", [(at(10), "out_of_scope", None, {}), (at(10, 1), "handoff", "vehicle-tax", {})])
    turns("line:c", [(at(11), "answer", "vehicle-tax", {"channel": "line"})])
    # The same sender a session later is another conversation.
    turns("line:c", [(at(20), "answer", "driving-licence-renewal", {"channel": "line"})], session=2.0)
    body = summary(client, headers("supervisor"))
    assert set(body) >= SPEC_KEYS
    assert body["turns"] == 7 and body["conversations"] == 4
    assert body["by_kind"] == {"answer": 4, "clarify": 1, "out_of_scope": 1, "handoff": 1}
    assert body["handoffs"] == 1 and body["containment"] == 0.75
    assert body["by_service"] == [
        {"service_id": "passport", "turns": 2}, {"service_id": "vehicle-tax", "turns": 2},
        {"service_id": "driving-licence-renewal", "turns": 1},
    ]  # fmt: skip
    assert body["by_day"] == [{"day": DAY.isoformat(), "turns": 7}]
    assert body["ask_back_rate"] == round(1 / 7, 4) and body["out_of_scope_rate"] == round(1 / 7, 4)
    assert body["by_channel"] == {"web": 5, "line": 2} and body["feedback"] == {"helpful": 1, "unhelpful": 0}
    assert body["by_topic"] == [{"topic": "fee", "turns": 5}]


def test_days_are_thai_days_both_ends_included(
    client: TestClient, headers: Callable[..., Any], turns: Callable[..., None]
) -> None:
    # 23:30 UTC on the 9th is 06:30 on the 10th in Bangkok; 23:59 on the 11th is still the 11th.
    utc_evening = dt.datetime(2026, 3, 9, 23, 30, tzinfo=dt.UTC)
    late = at(23, 59, DAY + dt.timedelta(days=1))
    after = at(0, 0, DAY + dt.timedelta(days=2))
    turns("web:d", [(moment, "answer", "passport", {}) for moment in (utc_evening, late, after)])
    body = summary(client, headers("supervisor"), to=(DAY + dt.timedelta(days=1)).isoformat())
    assert body["by_day"] == [{"day": "2026-03-10", "turns": 1}, {"day": "2026-03-11", "turns": 1}]
    assert body["turns"] == 2


def test_an_agency_account_sees_its_own_services_only(
    client: TestClient, headers: Callable[..., Any], turns: Callable[..., None]
) -> None:
    turns("web:e", [(at(9), "answer", "passport", {}), (at(9, 1), "answer", "vehicle-tax", {}),
                    (at(9, 2), "handoff", "vehicle-tax", {}),
                    (at(9, 3), "out_of_scope", None, {})])  # fmt: skip
    dlt = summary(client, headers("agency", "dlt"))
    assert dlt["turns"] == 2 and dlt["by_service"] == [{"service_id": "vehicle-tax", "turns": 2}]
    assert dlt["handoffs"] == 1 and dlt["containment"] == 0.0
    # Asking for another agency changes nothing for an agency account.
    assert summary(client, headers("agency", "dlt"), agency="dca")["turns"] == 2
    assert summary(client, headers("agency", "unknown-agency"))["turns"] == 0
    # A supervisor may narrow to one agency.
    assert summary(client, headers("supervisor"), agency="dca")["by_service"] == [
        {"service_id": "passport", "turns": 1}
    ]
    assert summary(client, headers("supervisor"))["turns"] == 4


def test_wrong_dates_are_422(client: TestClient, headers: Callable[..., Any]) -> None:
    supervisor = headers("supervisor")
    for params in ({"from": "10-03-2026"}, {"from": "2026-03-11", "to": "2026-03-10"},
                   {"from": "2024-01-01", "to": "2026-03-10"}):  # fmt: skip
        assert client.get("/api/analytics/summary", params=params, headers=supervisor).status_code == 422


def test_csv_exports(client: TestClient, headers: Callable[..., Any], turns: Callable[..., None]) -> None:
    turns("web:f", [(at(8), "answer", "passport", {"text": "=HYPERLINK(\"x\")"}),
                    (at(8, 5), "handoff", None, {})])  # fmt: skip
    supervisor = headers("supervisor")
    params = {"from": DAY.isoformat(), "to": DAY.isoformat()}
    response = client.get("/api/analytics/turns.csv", params=params, headers=supervisor)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert [r["kind"] for r in rows] == ["answer", "handoff"]
    assert rows[0]["at"].startswith("2026-03-10T08:00:00+07:00") and rows[0]["text"].startswith("'=")
    two_days = {**params, "to": "2026-03-11"}
    daily = client.get("/api/analytics/summary.csv", params=two_days, headers=supervisor)
    table = list(csv.DictReader(io.StringIO(daily.text.lstrip("\ufeff"))))
    assert [(r["day"], r["turns"], r["handoffs"], r["containment"]) for r in table] == [
        ("2026-03-10", "2", "1", "0.0"), ("2026-03-11", "0", "0", "0.0"),
    ]  # fmt: skip


def test_unanswered_questions_are_grouped_by_meaning(
    client: TestClient, headers: Callable[..., Any], turns: Callable[..., None]
) -> None:
    turns("web:g", [
        (at(9), "out_of_scope", None, {"text": "จะจัดงานวัดต้องขออนุญาตที่ไหนคะ"}),
        (at(9, 1), "out_of_scope", None, {"text": "ขออนุญาตจัดงานวัดได้ที่ไหน"}),
        (at(9, 2), "clarify", None, {"text": "ขออนุญาตจัดงานวัดได้ที่ไหน"}),
        (at(9, 3), "handoff", None, {"text": "ราคาน้ำมันวันนี้เท่าไหร่"}),
        (at(9, 4), "answer", "passport", {"text": "ทำพาสปอร์ตใช้อะไร", "feedback": "unhelpful"}),
        # Answered, a button's payload, the apology after a rating: not unanswered questions.
        (at(9, 5), "answer", "passport", {"text": "ทำพาสปอร์ตกี่บาท"}),
        (at(9, 6), "handoff", None, {"text": "/request_human", "intent": "request_human"}),
        (at(9, 7), "clarify", "passport", {"text": "ไม่ได้ช่วยเลย", "intent": "feedback"}),
    ])  # fmt: skip
    day = {"from": DAY.isoformat(), "to": DAY.isoformat()}
    response = client.get("/api/analytics/unanswered", params=day, headers=headers("supervisor"))
    assert response.status_code == 200, response.text
    clusters = response.json()["clusters"]
    assert clusters[0]["count"] == 3 and clusters[0]["label"] == "ขออนุญาตจัดงานวัดได้ที่ไหน"
    assert sorted(clusters[0]["examples"]) == sorted(["จะจัดงานวัดต้องขออนุญาตที่ไหนคะ", "ขออนุญาตจัดงานวัดได้ที่ไหน"])
    rest = sorted(tuple(c["examples"]) for c in clusters[1:])
    assert rest == [("ทำพาสปอร์ตใช้อะไร",), ("ราคาน้ำมันวันนี้เท่าไหร่",)]
    assert all(c["count"] == 1 for c in clusters[1:])
    # An agency sees the unanswered questions about its own services only.
    own = client.get("/api/analytics/unanswered", params=day, headers=headers("agency", "dca")).json()
    assert [c["examples"] for c in own["clusters"]] == [["ทำพาสปอร์ตใช้อะไร"]]
