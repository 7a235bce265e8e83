"""Answer a service question from the catalog, ask back when unsure, hand over to people."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.answers import compose, facts
from actions.catalog import client
from actions.catalog_client import CatalogUnavailable, ServiceNotFound
from actions.details import known_details, needed_details
from actions.envelope import ask_payload, send
from actions.understanding import Question, understand
from contract.replies import ASK_INTENT, FOLLOW_UPS, GOVERNMENT_HOTLINE, GOVERNMENT_WEBSITE, TOPIC_LABELS

logger = logging.getLogger(__name__)

SUGGESTED_TOPICS = ("documents", "fee", "channels", "steps")
# Set when the answer depends on a detail of the person that is not known yet: a rule
# (data/rules.yml) then runs the detail form, which asks for it and comes back here.
NEEDS_DETAIL = "needs_detail"
DETAIL_FORM = "detail_form"


def _service_name(service_id: str) -> str:
    try:
        record, _ = client().service(service_id)
        return record["name"]["th"]
    except (CatalogUnavailable, ServiceNotFound):
        return service_id


def clarify(dispatcher: CollectingDispatcher, question: Question) -> list[EventType]:
    if question.candidates:
        text = "ขออภัยค่ะ ไม่แน่ใจว่าหมายถึงบริการไหน เลือกได้เลยค่ะ"
        buttons = [{"title": _service_name(s), "payload": ask_payload(s, question.topic)}
                   for s in question.candidates]
    else:
        text = ("ขออภัยค่ะ ดิฉันไม่แน่ใจว่าถามเรื่องอะไร ลองพิมพ์ชื่อบริการกับสิ่งที่อยากรู้ "
                f"เช่น \"ต่อใบขับขี่ใช้เอกสารอะไร\" หรือโทร {GOVERNMENT_HOTLINE} ค่ะ")
        buttons = []
    dispatcher.utter_message(text=text, buttons=buttons)
    send(dispatcher, "clarify", options=question.candidates, topic=question.topic)
    return []


def _form_ran(tracker: Tracker) -> bool:
    """Whether the detail form ran since the citizen's latest message."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "action" and event.get("name") == DETAIL_FORM:
            return True
    return False


class ActionAnswerService(Action):
    def name(self) -> str:
        return "action_answer_service"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        events = self.respond(dispatcher, tracker, understand(tracker))
        if tracker.get_slot(NEEDS_DETAIL) and not any(e.get("name") == NEEDS_DETAIL for e in events):
            events.append(SlotSet(NEEDS_DETAIL, None))
        return events

    def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, question: Question
    ) -> list[EventType]:
        if question.needs_clarifying:
            return clarify(dispatcher, question)
        try:
            record, catalog = client().service(question.service)
        except CatalogUnavailable:
            dispatcher.utter_message(
                text=f"ขออภัยค่ะ ระบบข้อมูลบริการขัดข้องชั่วคราว สอบถามได้ที่สายด่วน {GOVERNMENT_HOTLINE} "
                f"หรือเว็บไซต์ {GOVERNMENT_WEBSITE} แล้วลองถามใหม่อีกครั้งนะคะ"
            )
            send(dispatcher, "error", service_id=question.service, topic=question.topic)
            return [SlotSet("service", question.service), SlotSet("topic", question.topic)]
        except ServiceNotFound:
            logger.error("service %s is not in any catalog", question.service)
            return clarify(dispatcher, Question(None, question.topic, 0.0))
        known = known_details(tracker.current_slot_values())
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
        if intent == ASK_INTENT and not _form_ran(tracker) and needed_details(record, question.topic, known):
            # A new question whose answer depends on the person: the form asks first. Once
            # the form has run for this message, the answer goes out with what is known
            # (all the amounts if the detail could not be read), so the two never loop.
            return [SlotSet("service", question.service), SlotSet("topic", question.topic),
                    SlotSet(NEEDS_DETAIL, True)]
        # The catalog may say nothing on the likeliest topic but answer a close second.
        answerable = [t for t in [question.topic, *question.fallback_topics] if facts(record, t, known)]
        question.topic = answerable[0] if answerable else question.topic
        text, card = compose(record, question.topic, known)
        follow_ups = [t for t in question.other_topics if t != question.topic]
        follow_ups += [t for t in SUGGESTED_TOPICS if t != question.topic and t not in follow_ups]
        label = TOPIC_LABELS[question.topic]
        buttons = [
            {"title": f"{label}: {_service_name(s)}", "payload": ask_payload(s, question.topic)}
            for s in question.other_services[:2]
        ]
        buttons += [
            {"title": TOPIC_LABELS[t], "payload": ask_payload(question.service, t)} for t in follow_ups[:3]
        ]
        dispatcher.utter_message(text=text, buttons=buttons)
        send(
            dispatcher,
            "answer",
            service_id=question.service,
            topic=question.topic,
            source=catalog.name,
            source_url=record["source_url"],
            updated=record["updated"],
            confidence=round(question.confidence, 3),
            card=card,
        )
        return [SlotSet("service", question.service), SlotSet("topic", question.topic)]


class ActionClarify(Action):
    def name(self) -> str:
        return "action_clarify"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        message = tracker.latest_message or {}
        ranking = (message.get("service") or {}).get("ranking", [])
        candidates = [
            r["name"] for r in ranking if r["name"] not in FOLLOW_UPS and r["confidence"] >= 0.15
        ][:3]
        topic = (message.get("topic") or {}).get("name")
        # Then wait for the citizen. This is also Rasa's fallback when no rule fits
        # (config.yml); without the wait it would be predicted again and again.
        return [*clarify(dispatcher, Question(None, topic or "overview", 0.0, candidates=candidates)),
                FollowupAction("action_listen")]


class ActionHandoff(Action):
    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        service = tracker.get_slot("service")
        agency_line = ""
        if service:
            try:
                record, _ = client().service(service)
                contact = record.get("contact") or {}
                authority = (record.get("competent_authority") or {}).get("name_th", "")
                if contact.get("hotline") and contact["hotline"] != GOVERNMENT_HOTLINE:
                    agency_line = f"\nเรื่อง{record['name']['th']} ติดต่อ{authority} โทร {contact['hotline']}"
            except (CatalogUnavailable, ServiceNotFound):
                pass
        dispatcher.utter_message(
            text=f"ได้ค่ะ ติดต่อเจ้าหน้าที่ได้ที่ศูนย์บริการข้อมูลภาครัฐ สายด่วน {GOVERNMENT_HOTLINE} ตลอด 24 ชั่วโมง"
            + agency_line
        )
        send(dispatcher, "handoff", service_id=service)
        return []
