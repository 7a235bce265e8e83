"""ConversationContext: the NLU weighs its rankings against the service being discussed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.events import SlotSet, UserUttered
from rasa.shared.core.slots import TextSlot
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

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


def test_a_related_service_told_in_other_words_is_where_the_follow_up_goes() -> None:
    # A follow-up in a conversation about filing whose words lean to the refund.
    leaning = ranking(("none", 0.55), ("tax-refund", 0.4), ("passport", 0.05))
    relations = {"income-tax-filing": ["tax-refund"]}
    context = ConversationContext({"prior": 1.5, "related_prior": 4.0}, relations=relations)
    asked = ranking(("ask_service", 0.9))
    out = context.process([parsed(asked, leaning)], conversation("income-tax-filing"))[0]
    assert out.get("service")["name"] == "tax-refund"
    # The same words in a conversation the refund is not related to stay there.
    out = context.process([parsed(asked, leaning)], conversation("passport"))[0]
    assert out.get("service")["name"] == "passport"
    # Without the relation the discussed service keeps it.
    plain = ConversationContext({"prior": 1.5, "related_prior": 4.0})
    out = plain.process([parsed(asked, leaning)], conversation("income-tax-filing"))[0]
    assert out.get("service")["name"] == "income-tax-filing"


def test_a_name_decides_without_the_related_prior() -> None:
    # ใบขับขี่ names both licences: in a conversation about renewing, the words decide between
    # them, and the first licence's relation to renewing does not tip them.
    shared = [{"text": "ใบขับขี่", "services": ["driving-licence-new", "driving-licence-renewal"]}]
    words = ranking(("driving-licence-renewal", 0.5), ("driving-licence-new", 0.4), ("none", 0.1))
    context = ConversationContext({"named_prior": 1.0, "related_prior": 8.0},
                                  relations={"driving-licence-renewal": ["driving-licence-new"]})
    out = context.process([parsed(ranking(("ask_service", 0.9)), words, shared)],
                          conversation("driving-licence-renewal"))[0]
    assert out.get("service")["ranking"][0]["name"] == "driving-licence-renewal"


def test_training_learns_the_relations_from_the_examples_after_metadata(tmp_path: Path) -> None:
    def example(text: str, service: str, after: str | None = None) -> Message:
        intent_level = {"service": service, **({"after": after} if after else {})}
        return Message(data={TEXT: text, INTENT: "ask_service", "metadata": {"intent": intent_level}})

    data = TrainingData([
        example("ก", "tax-refund", "income-tax-filing"),
        example("ข", "income-tax-filing", "tax-refund"),
        example("ค", "digital-id", "id-card"),
        example("ง", "passport"),
    ])
    storage = LocalModelStorage(tmp_path)
    resource = Resource("context")
    config = ConversationContext.get_default_config()
    context = ExecutionContext(GraphSchema({}))
    trained = ConversationContext.create(config, storage, resource, context)
    trained.train(data)
    expected = {"id-card": ["digital-id"], "income-tax-filing": ["tax-refund"],
                "tax-refund": ["income-tax-filing"]}
    assert trained.relations == expected
    assert ConversationContext.load(config, storage, resource, context).relations == expected


def test_none_weighs_the_follow_up_prior_and_the_services_own_words_the_prior() -> None:
    # Words that point at vehicle tax more than at nothing, in a conversation about passports:
    # `none` counted as strongly as the passport's own words keeps the passport; counted twice
    # (follow_up_prior 2) the words switch.
    leaning = ranking(("vehicle-tax", 0.65), ("none", 0.3), ("id-card", 0.05))
    asked = ranking(("ask_service", 0.9))
    same = ConversationContext({"prior": 16.0})
    out = same.process([parsed(asked, leaning)], conversation("passport"))[0].get("service")
    assert out["name"] == "passport"
    split = ConversationContext({"prior": 16.0, "follow_up_prior": 2.0})
    out = split.process([parsed(asked, leaning)], conversation("passport"))[0].get("service")
    assert out["ranking"][0]["name"] == "vehicle-tax"
    # Words that point at the passport itself still weigh `prior`.
    own = ranking(("vehicle-tax", 0.65), ("passport", 0.3), ("none", 0.05))
    out = split.process([parsed(asked, own)], conversation("passport"))[0].get("service")
    assert out["name"] == "passport"
