"""ConversationContext: the NLU weighs its rankings against the service being discussed."""

from __future__ import annotations

from typing import Any

from rasa.shared.core.events import SlotSet, UserUttered
from rasa.shared.core.slots import TextSlot
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.conversation_context import ConversationContext, discussed_services
from bot.nlu.service_classifier import service_verdict


def ranking(*pairs: tuple[str, float]) -> list[dict[str, Any]]:
    return [{"name": name, "confidence": confidence} for name, confidence in pairs]


def conversation(*services: str) -> DialogueStateTracker:
    events: list[Any] = []
    for service in services:
        events += [UserUttered("..."), SlotSet("service", service), SlotSet("topic", "fee")]
    slots = [TextSlot(name, mappings=[]) for name in ("service", "topic")]
    return DialogueStateTracker.from_events("someone", events, slots=slots)


def parsed(intents: list[dict[str, Any]], services: list[dict[str, Any]], mentions=()) -> Message:
    message = Message(data={TEXT: "..."})
    message.set(INTENT, intents[0])
    message.set(INTENT_RANKING_KEY, intents)
    verdict = service_verdict(services, 0.45, 0.3)
    message.set("service", {**verdict, "ranking": services, "mentions": list(mentions)})
    return message


def run(message: Message, tracker: DialogueStateTracker | None, **config: Any) -> Message:
    return ConversationContext({**ConversationContext.get_default_config(), **config}).process(
        [message], tracker
    )[0]


def test_a_follow_up_is_about_the_service_discussed() -> None:
    message = parsed(ranking(("ask_service", 0.9)), ranking(("none", 0.7), ("passport", 0.2)))
    out = run(message, conversation("passport"))
    assert out.get("service")["name"] == "passport"
    assert not out.get("service")["ambiguous"]
    assert out.get("context") == {"service": "passport", "topic": "fee", "previous": None}


def test_without_a_conversation_a_follow_up_stays_a_follow_up() -> None:
    message = parsed(ranking(("ask_service", 0.9)), ranking(("none", 0.7), ("passport", 0.2)))
    out = run(message, None)
    assert out.get("service")["name"] == "none"
    assert out.get("context")["service"] is None


def test_a_close_sibling_stays_with_the_service_discussed() -> None:
    # Words that lean a little to the first licence, in a conversation about renewing one.
    close = ranking(("driving-licence-new", 0.45), ("driving-licence-renewal", 0.35), ("none", 0.1))
    message = parsed(ranking(("ask_service", 0.9)), close)
    out = run(message, conversation("driving-licence-renewal"), prior=4.0)
    assert out.get("service")["name"] == "driving-licence-renewal"
    # With no prior the words decide, and they are not sure.
    out = run(parsed(ranking(("ask_service", 0.9)), close),
              conversation("driving-licence-renewal"), prior=1.0)
    assert out.get("service")["ambiguous"]


def test_a_service_named_outright_switches() -> None:
    message = parsed(
        ranking(("ask_service", 0.9)),
        ranking(("vehicle-tax", 0.4), ("none", 0.35), ("passport", 0.1)),
        mentions=[{"text": "ภาษีรถ", "services": ["vehicle-tax"]}],
    )
    out = run(message, conversation("passport"), prior=24.0)
    assert out.get("service")["name"] == "vehicle-tax"


def test_going_back_is_the_service_before_the_current_one() -> None:
    tracker = conversation("passport", "vehicle-tax")
    assert discussed_services(tracker) == ("vehicle-tax", "passport")
    message = parsed(ranking(("ask_service", 0.9)), ranking(("previous", 0.8), ("none", 0.1)))
    assert run(message, tracker).get("service")["name"] == "passport"


def test_a_short_follow_up_is_not_taken_for_out_of_scope_in_a_conversation() -> None:
    intents = ranking(("out_of_scope", 0.5), ("ask_service", 0.4), ("greet", 0.1))
    message = parsed(intents, ranking(("none", 0.8), ("passport", 0.1)))
    out = run(message, conversation("passport"), intent_prior=4.0)
    assert out.get(INTENT)["name"] == "ask_service"
    assert out.get(INTENT_RANKING_KEY)[0]["name"] == "ask_service"


def test_what_clearly_leaves_public_services_still_does() -> None:
    intents = ranking(("out_of_scope", 0.95), ("ask_service", 0.03), ("greet", 0.02))
    message = parsed(intents, ranking(("none", 0.8), ("passport", 0.1)))
    out = run(message, conversation("passport"), intent_prior=4.0)
    assert out.get(INTENT)["name"] == "out_of_scope"


def test_a_question_naming_no_service_is_not_about_a_service_the_catalog_lacks() -> None:
    intents = ranking(("ask_uncovered_service", 0.6), ("ask_service", 0.3), ("out_of_scope", 0.1))
    message = parsed(intents, ranking(("none", 0.8), ("passport", 0.1)))
    out = run(message, conversation("passport"), intent_prior=1.0)
    assert out.get(INTENT)["name"] == "ask_service"
    # A message the service classifier finds a service in keeps the intent classifier's word.
    message = parsed(intents, ranking(("passport", 0.8), ("none", 0.1)),
                     mentions=[{"text": "พาส", "services": ["passport"]}])
    out = run(message, conversation("passport"), intent_prior=1.0)
    assert out.get(INTENT)["name"] == "ask_uncovered_service"


def test_with_nothing_discussed_a_detail_naming_a_service_asks_about_it() -> None:
    # "พาสปอร์ตเล่ม 10 ปี" to open a conversation: a detail, or a question about the passport.
    intents = ranking(("inform", 0.52), ("ask_service", 0.46), ("greet", 0.02))
    named = [{"text": "พาสปอร์ต", "services": ["passport"]}]
    out = run(parsed(intents, ranking(("passport", 0.9), ("none", 0.1)), mentions=named), None)
    assert out.get(INTENT) == {"name": "ask_service", "confidence": 0.98}
    assert [e["name"] for e in out.get(INTENT_RANKING_KEY)] == ["ask_service", "greet"]
    # Without a name of one service, or in a conversation, the detail stays a detail.
    shared = [{"text": "ใบขับขี่", "services": ["driving-licence-new", "driving-licence-renewal"]}]
    for mentions, tracker in ((shared, None), ((), None), (named, conversation("passport"))):
        message = parsed(intents, ranking(("passport", 0.9), ("none", 0.1)), mentions=mentions)
        assert run(message, tracker, intent_prior=1.0).get(INTENT)["name"] == "inform"
