"""Answer a service question from the catalog, ask back when unsure, hand over to people."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.answers import compose, compose_faq, facts
from actions.catalog import client
from actions.catalog_client import Catalog, CatalogUnavailable, ServiceNotFound
from actions.details import SLOT_OF_KEY, ages_told, known_details, needed_details
from actions.envelope import ask_payload, human_button, previous_kind, send
from actions.understanding import Question, understand
from contract.replies import (
    ANSWER,
    ASK_INTENT,
    CLARIFY,
    FAQ_ID,
    FEEDBACK_ENTITY,
    FEEDBACK_HELPFUL,
    FEEDBACK_VALUES,
    FOLLOW_UPS,
    GOVERNMENT_HOTLINE,
    GOVERNMENT_WEBSITE,
    HANDOFF,
    HUMAN_OPTION,
    THANKS,
    TOPIC_LABELS,
)

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


def _agency_contact(service: str | None) -> tuple[str, str, str] | None:
    """The service's name, its agency and the agency's hotline, from the catalog record."""
    if not service:
        return None
    try:
        record, _ = client().service(service)
    except (CatalogUnavailable, ServiceNotFound):
        return None
    hotline = (record.get("contact") or {}).get("hotline")
    if not hotline:
        return None
    authority = (record.get("competent_authority") or {}).get("name_th", "")
    return record["name"]["th"], authority, hotline


def clarify(
    dispatcher: CollectingDispatcher, question: Question, tracker: Tracker | None = None
) -> list[EventType]:
    if question.candidates:
        text = "ขออภัยค่ะ ไม่แน่ใจว่าหมายถึงบริการไหน เลือกได้เลยค่ะ"
        buttons = [{"title": _service_name(s), "payload": ask_payload(s, question.topic)}
                   for s in question.candidates]
    else:
        text = ("ขออภัยค่ะ ดิฉันไม่แน่ใจว่าถามเรื่องอะไร ลองพิมพ์ชื่อบริการกับสิ่งที่อยากรู้ "
                f"เช่น \"ต่อใบขับขี่ใช้เอกสารอะไร\" หรือโทร {GOVERNMENT_HOTLINE} ค่ะ")
        buttons = []
    options = list(question.candidates)
    # Asked back twice in a row: the bot is not getting there, so a person is offered
    # next to the options (pressing it is the same handoff as asking for one).
    if tracker is not None and previous_kind(tracker) == CLARIFY:
        text += "\nถ้ายังไม่ตรงกับที่ต้องการ กดคุยกับเจ้าหน้าที่ได้เลยค่ะ"
        buttons.append(human_button())
        options.append(HUMAN_OPTION)
    dispatcher.utter_message(text=text, buttons=buttons)
    send(dispatcher, CLARIFY, options=options, topic=question.topic)
    return []


def _one_answer_for_all(question: Question, tracker: Tracker) -> Question | None:
    """The question about the service being discussed, when the words leave it between that
    service and others whose records say the same on the topic asked: asking back which one
    ("สรรพากรเบอร์อะไร" about a refund: filing or refund, one hotline) would answer nothing."""
    current = tracker.get_slot("service")
    if current not in question.candidates or len(question.candidates) < 2 or question.topic == "overview":
        return None
    known = known_details(tracker.current_slot_values())
    try:
        answers = [facts(client().service(s)[0], question.topic, known) for s in question.candidates]
    except (CatalogUnavailable, ServiceNotFound):
        return None
    if not answers[0] or any(a != answers[0] for a in answers[1:]):
        return None
    return Question(current, question.topic, question.confidence, fallback_topics=question.fallback_topics)


def _faq_match(tracker: Tracker, question: Question) -> str | None:
    """The FAQ entry the NLU matched to the citizen's latest question (bot/nlu/faq_matcher.py).

    Only for a question typed in words about the service being answered: a button's payload
    asks for the topic's field itself, and a detail given to the form continues a question.
    """
    message = tracker.latest_message or {}
    if ((message.get("intent") or {}).get("name")) != ASK_INTENT or _form_ran(tracker):
        return None
    if any(e.get("entity") == "service" for e in message.get("entities") or []):
        return None
    match = message.get("faq") or {}
    return str(match["id"]) if match.get("id") and question.service else None


def _form_ran(tracker: Tracker) -> bool:
    """Whether the detail form ran since the citizen's latest message."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "action" and event.get("name") == DETAIL_FORM:
            return True
    return False


def _gives_detail(tracker: Tracker) -> bool:
    """Whether the citizen's latest message tells a detail an amount can depend on (an age, a
    vehicle, a passport's validity): later answers in the conversation do not repeat it."""
    details = set(SLOT_OF_KEY.values())
    return any(e.get("entity") in details for e in (tracker.latest_message or {}).get("entities") or [])


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
            question = _one_answer_for_all(question, tracker) or question
        if question.needs_clarifying:
            return clarify(dispatcher, question, tracker)
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
            return clarify(dispatcher, Question(None, question.topic, 0.0), tracker)
        answered = self.answer_faq(dispatcher, tracker, question, record, catalog)
        if answered is not None:
            return answered
        known = known_details(tracker.current_slot_values())
        known["other_ages"] = ages_told(tracker.latest_message)
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
        text, card = compose(record, question.topic, known, note_amount=_gives_detail(tracker))
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
            ANSWER,
            service_id=question.service,
            topic=question.topic,
            source=catalog.name,
            source_url=record["source_url"],
            updated=record["updated"],
            confidence=round(question.confidence, 3),
            card=card,
            # The ratings a channel may offer; the envelope only, the buttons are the channel's.
            feedback=list(FEEDBACK_VALUES),
        )
        return [SlotSet("service", question.service), SlotSet("topic", question.topic)]


    def answer_faq(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        question: Question,
        record: dict[str, Any],
        catalog: Catalog,
    ) -> list[EventType] | None:
        """The agency's short answer to the very question asked, when an FAQ entry matched it;
        None to answer with the topic's field as usual (no match, or the entry is gone)."""
        faq_id = _faq_match(tracker, question)
        if faq_id is None:
            return None
        try:
            entry = client().faq_entry(question.service, faq_id)
        except CatalogUnavailable:
            entry = None
        if not entry or entry.get("service") != question.service or entry.get("topic") not in TOPIC_LABELS:
            logger.warning("FAQ entry %s of %s is gone; the topic answers", faq_id, question.service)
            return None
        text, card = compose_faq(record, entry)
        topic = entry["topic"]
        # The topic's whole field is one tap away, then the usual next questions.
        follow_ups = [topic, *(t for t in SUGGESTED_TOPICS if t != topic)]
        buttons = [
            {"title": TOPIC_LABELS[t], "payload": ask_payload(question.service, t)} for t in follow_ups[:3]
        ]
        dispatcher.utter_message(text=text, buttons=buttons)
        send(
            dispatcher,
            ANSWER,
            service_id=question.service,
            topic=topic,
            source=catalog.name,
            source_url=entry["source_url"],
            updated=entry["updated"],
            confidence=round(question.confidence, 3),
            card=card,
            feedback=list(FEEDBACK_VALUES),
            **{FAQ_ID: entry["id"]},
        )
        return [SlotSet("service", question.service), SlotSet("topic", topic)]


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
        question = Question(None, topic or "overview", 0.0, candidates=candidates)
        return [*clarify(dispatcher, question, tracker), FollowupAction("action_listen")]


class ActionHandoff(Action):
    """A citizen asked for a person, or accepted the bot's offer of one.

    The `handoff` envelope is what hands over: a channel with a staff desk (the gateway) puts
    the conversation in the agents' queue and adds the queue position or the office hours
    after this text. A channel without one (Rasa's REST channel alone) has only the text, so
    it also gives the hotlines the citizen can call.
    """

    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        service = tracker.get_slot("service")
        text = (
            "ได้ค่ะ กำลังส่งต่อให้เจ้าหน้าที่คอลเซ็นเตอร์คุยต่อในแชทนี้ค่ะ\n"
            f"หรือโทรสายด่วน {GOVERNMENT_HOTLINE} ได้ตลอด 24 ชั่วโมงค่ะ"
        )
        contact = _agency_contact(service)
        # An agency whose own line is the government hotline is not named twice.
        if contact and contact[2] != GOVERNMENT_HOTLINE:
            name, authority, hotline = contact
            text += f"\nเรื่อง{name} ติดต่อ{authority} โทร {hotline} ค่ะ"
        dispatcher.utter_message(text=text)
        send(dispatcher, HANDOFF, service_id=service)
        return []


class ActionFeedback(Action):
    """A citizen's rating of an answer: a rating button, or typed words of complaint.

    Helpful is thanked. Anything else (unhelpful, or a complaint typed, which carries no
    value) is apologised for, and a person is offered with a button, with the hotline of the
    agency whose service was being discussed. The offer is a `clarify`: the bot asks what
    next, and one of its options is the handoff (HUMAN_OPTION).
    """

    def name(self) -> str:
        return "action_feedback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        values = [e.get("value") for e in (tracker.latest_message or {}).get("entities") or []
                  if e.get("entity") == FEEDBACK_ENTITY]
        if FEEDBACK_HELPFUL in values:
            dispatcher.utter_message(text="ขอบคุณสำหรับคำติชมค่ะ มีอะไรให้ช่วยอีกถามได้เลยนะคะ")
            send(dispatcher, THANKS)
            return []
        service = tracker.get_slot("service")
        text = "ขออภัยที่คำตอบยังไม่ตรงกับที่ต้องการค่ะ ลองพิมพ์ถามใหม่ด้วยคำอื่น หรือคุยกับเจ้าหน้าที่ได้เลยค่ะ"
        contact = _agency_contact(service)
        if contact:
            name, authority, hotline = contact
            text += f"\nเรื่อง{name} สอบถาม{authority}โดยตรง โทร {hotline} ค่ะ"
        dispatcher.utter_message(text=text, buttons=[human_button()])
        # service_id and topic: which answer was not helpful, for the staff side's analytics.
        send(dispatcher, CLARIFY, options=[HUMAN_OPTION], service_id=service, topic=tracker.get_slot("topic"))
        return []
