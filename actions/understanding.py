"""From the NLU result and the conversation so far to the question to answer.

The ServiceClassifier and TopicClassifier (bot/nlu/) rank services and topics, and the
NLU's ConversationContext has already weighed them against the service being discussed;
a button payload names them as entities. A detail given alone (แม่อายุ 75) completes
the last question.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rasa_sdk import Tracker

# FOLLOW_UPS: service labels of a question that names no service (resolved by the NLU's context).
from contract.replies import ASK_INTENT, FOLLOW_UPS

# Another topic this likely is also asked in the same message ("...ต้องใช้เอกสารอะไร แล้วไปสมัครที่ไหน").
OTHER_TOPIC_MIN_CONFIDENCE = 0.2
# A runner-up topic answered instead when the catalog says nothing on the top one
# ("มีเวลาเพิ่มกี่วัน": processing time or deadline; the record has only the deadline).
FALLBACK_TOPIC_MIN_CONFIDENCE = 0.25
# A service offered as a button when asking back.
CANDIDATE_MIN_CONFIDENCE = 0.05


@dataclass
class Question:
    service: str | None
    topic: str
    confidence: float
    # Services to offer as buttons when the bot is not sure which one is meant.
    candidates: list[str] = field(default_factory=list)
    # Several questions in one message: the other topics and services asked, offered as buttons.
    other_topics: list[str] = field(default_factory=list)
    other_services: list[str] = field(default_factory=list)
    # Likely topics after the top one, for when the catalog has nothing on the top one.
    fallback_topics: list[str] = field(default_factory=list)

    @property
    def needs_clarifying(self) -> bool:
        return self.service is None


def _entity(message: dict[str, Any], name: str) -> str | None:
    for entity in message.get("entities") or []:
        if entity.get("entity") == name and entity.get("value"):
            return str(entity["value"])
    return None


def _other_topics(topic: dict[str, Any], chosen: str) -> list[str]:
    return [
        t["name"]
        for t in topic.get("ranking", [])[1:]
        if t["name"] != chosen and t["confidence"] >= OTHER_TOPIC_MIN_CONFIDENCE
    ][:2]


def understand(tracker: Tracker) -> Question:
    message = tracker.latest_message or {}
    intent = (message.get("intent") or {}).get("name")
    slot_service = tracker.get_slot("service")
    slot_topic = tracker.get_slot("topic") or "overview"

    predicted = message.get("service") or {}
    if intent != ASK_INTENT:
        # A detail, or a message routed here by a rule: it continues the last question,
        # or, at the start of a conversation, asks what its words name ("พาสปอร์ตเล่ม 10 ปี").
        confident = predicted.get("name") not in (None, *FOLLOW_UPS) and not predicted.get("ambiguous")
        if slot_service is None and confident:
            topic = (message.get("topic") or {}).get("name") or "overview"
            return Question(predicted["name"], topic, predicted["confidence"])
        return Question(slot_service, slot_topic, 1.0)

    predicted_topic = message.get("topic") or {}
    topic = _entity(message, "topic") or predicted_topic.get("name") or "overview"
    others = _other_topics(predicted_topic, topic)
    named = _entity(message, "service")
    if named:
        return Question(named, topic, 1.0, other_topics=others)
    question = _which_service(predicted, topic, others)
    if not _entity(message, "topic"):
        question.fallback_topics = [
            t["name"] for t in predicted_topic.get("ranking", [])[1:]
            if t["confidence"] >= FALLBACK_TOPIC_MIN_CONFIDENCE
        ]
    return question


def _which_service(predicted: dict[str, Any], topic: str, others: list[str]) -> Question:
    # The NLU has already weighed the ranking against the service being discussed
    # (bot/nlu/conversation_context.py): a follow-up comes here as that service.
    ranking = [r for r in predicted.get("ranking", []) if r["name"] not in FOLLOW_UPS]
    top = predicted.get("name")
    # Services the message names by a name only they have, in reading order.
    mentions = predicted.get("mentions", [])
    named = list(dict.fromkeys(m["services"][0] for m in mentions if len(m["services"]) == 1))
    if top and top not in FOLLOW_UPS and not predicted.get("ambiguous"):
        also = [s for s in named if s != top]
        return Question(top, topic, predicted["confidence"], other_topics=others, other_services=also)
    if len(named) > 1 and {r["name"] for r in ranking[:2]} <= set(named):
        # Close because the message asks about two services ("ทำพาสปอร์ตกับต่อใบขับขี่..."):
        # answer the first, offer the others.
        return Question(
            named[0], topic, ranking[0]["confidence"], other_topics=others, other_services=named[1:]
        )
    candidates = [r["name"] for r in ranking[:3] if r["confidence"] >= CANDIDATE_MIN_CONFIDENCE]
    return Question(None, topic, predicted.get("confidence", 0.0), candidates=candidates)
