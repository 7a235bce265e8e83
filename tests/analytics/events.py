"""A recorded conversation's events, as Rasa stores them and publishes them (`{"sender_id", **event}`).

Shaped after a real web conversation of the assistant (one session: an answer rated unhelpful in
a typed complaint, an answer rated helpful with the button, a question out of scope with a phone
number in it, a request for a person), with the parse data cut down to what is read.
"""

from __future__ import annotations

from typing import Any

SENDER = "web:recorded0conversation01"
T0 = 1_796_066_249.9812508
META = {"model_id": "9a50bee44a2a4d85a7e177fff7c3b69c", "assistant_id": "thai-eservice-assistant"}


def _user(ts: float, text: str, intent: str, entities: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "event": "user", "timestamp": ts, "metadata": {"channel": "web", **META}, "text": text,
        "parse_data": {"intent": {"name": intent, "confidence": 0.99}, "entities": entities or [],
                       "text": text, "message_id": f"m{ts:.0f}", "metadata": {"channel": "web"}},
        "input_channel": "rest", "message_id": f"m{ts:.0f}",
    }  # fmt: skip


def _action(ts: float, name: str, policy: str | None = "RulePolicy") -> dict[str, Any]:
    return {"event": "action", "timestamp": ts, "metadata": META, "name": name, "policy": policy,
            "confidence": 1.0, "action_text": None, "hide_rule_turn": False}  # fmt: skip


def _bot(ts: float, text: str | None = None, custom: dict[str, Any] | None = None) -> dict[str, Any]:
    data = {"elements": None, "quick_replies": None, "buttons": None, "attachment": None, "image": None,
            "custom": custom}  # fmt: skip
    return {"event": "bot", "timestamp": ts, "metadata": META, "text": text, "data": data}


def _slot(ts: float, name: str, value: Any) -> dict[str, Any]:
    return {"event": "slot", "timestamp": ts, "metadata": META, "name": name, "value": value}


Events = list[dict[str, Any]]


def _turn(ts: float, text: str, intent: str, action: str, custom: dict[str, Any], reply: str,
          entities: Events | None = None, latency: float = 0.25) -> Events:  # fmt: skip
    featurization = {"event": "user_featurization", "timestamp": ts + 0.01, "metadata": META,
                     "use_text_for_featurization": False}  # fmt: skip
    return [
        _user(ts, text, intent, entities),
        featurization,
        _action(ts + 0.011, action),
        _bot(ts + latency - 0.001, reply),
        _bot(ts + latency, None, custom),
        _action(ts + latency + 0.001, "action_listen"),
    ]


def recorded() -> list[dict[str, Any]]:
    """The events in the tracker store's order."""
    answer = {"kind": "answer", "service_id": "passport", "topic": "fee", "confidence": 0.93,
              "feedback": ["helpful", "unhelpful"]}  # fmt: skip
    events: list[dict[str, Any]] = [
        _slot(T0, "session_started_metadata", {"channel": "web"}),
        _action(T0 + 0.0002, "action_session_start", policy=None),
        {"event": "session_started", "timestamp": T0 + 0.0003, "metadata": META},
        _action(T0 + 0.0004, "action_listen", policy=None),
    ]
    events += _turn(T0 + 1, "ทำพาสปอร์ตกี่บาท", "ask_service", "action_answer_service", answer,
                    "หนังสือเดินทาง: ค่าธรรมเนียม 1,000 บาท")  # fmt: skip
    events.insert(len(events) - 1, _slot(T0 + 1.26, "service", "passport"))
    events += _turn(T0 + 10, "ไม่ได้ช่วยเลย", "feedback", "action_feedback",
                    {"kind": "clarify", "options": ["handoff"], "service_id": "passport", "topic": "fee"},
                    "ขออภัยค่ะ")  # fmt: skip
    documents = {**answer, "topic": "documents", "confidence": 0.81}
    events += _turn(T0 + 20, "ต่ออายุพาสปอร์ตใช้อะไรบ้าง", "ask_service", "action_answer_service",
                    documents, "เอกสารที่ต้องใช้", latency=0.4)  # fmt: skip
    rating = [{"entity": "value", "value": "helpful"}]
    events += _turn(T0 + 30, '/feedback{"value": "helpful"}', "feedback", "action_feedback",
                    {"kind": "thanks"}, "ยินดีค่ะ", entities=rating)  # fmt: skip
    events += _turn(T0 + 40, "ขอเบอร์ 081-234-5678 ร้านข้าวมันไก่", "out_of_scope", "action_out_of_scope",
                    {"kind": "out_of_scope"}, "เรื่องนี้อยู่นอกบริการ")  # fmt: skip
    events += _turn(T0 + 50, "ขอคุยกับเจ้าหน้าที่", "request_human", "action_handoff",
                    {"kind": "handoff", "service_id": "passport"}, "กำลังส่งต่อให้เจ้าหน้าที่")  # fmt: skip
    # The gateway's record of the handoff: not a turn.
    events.append({"event": "pause", "timestamp": T0 + 50.5, "metadata": META})
    return events


def published(events: list[dict[str, Any]], sender: str = SENDER) -> list[dict[str, Any]]:
    """The bodies Rasa's event broker publishes for these events."""
    return [{"sender_id": sender, **event} for event in events]
