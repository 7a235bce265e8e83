"""Weighs the classifiers' rankings against the conversation: the service being discussed.

Rasa's NLU components see only the message, unless one asks for the tracker: the
default recipe gives a component's `process` the conversation's tracker when the method
takes a `tracker` argument (rasa/engine/recipes/default_recipe.py,
`_get_needs_from_args`). This component uses it, so context is an input of the NLU, the
same for every channel, and the parse result shows what it did (`context`).

With a service being discussed (the `service` slot):
- a question that names no service is about it: the classifier's `none` (a follow-up)
  and the service itself are one answer, and the service is `prior` times likelier a
  priori than any other, so a follow-up whose words lean to a sibling service (a renewal
  after a first licence, a refund after filing) stays where it was; a question that
  names it, alone or by a name it shares with others (ใบขับขี่), takes `named_prior`;
- `previous` (a follow-up that goes back: "แล้วอันเดิมล่ะ") is the service discussed
  before the current one;
- a message that names only other services switches: to the one named, or the words
  decide between those that share the name;
- a question about a service is `intent_prior` times likelier than without context, so a
  short follow-up ("ติดต่อใคร") is not taken for small talk or out of scope unless its
  words clearly are; and a question that names no service cannot be about a service
  the catalog lacks: it is about the one discussed (ask_uncovered_service counts as
  ask_service).
The three priors are chosen by cross-validation on the training data (bench/context.py).

With nothing discussed yet, a detail that names a service ("ค่าทำพาสปอร์ตเล่ม 10 ปี") asks about
that service (actions/understanding.py answers it so): the detail's intent and the question's
are one answer, so their split is not an ambiguity for the FallbackClassifier after this.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.events import SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.service_classifier import service_verdict
from contract.replies import ASK_INTENT, DETAIL_INTENT, FOLLOW_UPS, NONE, PREVIOUS, UNCOVERED_INTENT

SERVICE_SLOT = "service"
TOPIC_SLOT = "topic"
CONTEXT_KEY = "context"


def discussed_services(tracker: DialogueStateTracker | None) -> tuple[str | None, str | None]:
    """The service being discussed and the one discussed before it (both from the slot)."""
    if tracker is None:
        return None, None
    current = tracker.get_slot(SERVICE_SLOT)
    if not current:
        return None, None
    for event in reversed(tracker.events):
        if isinstance(event, SlotSet) and event.key == SERVICE_SLOT and event.value not in (None, current):
            return current, str(event.value)
    return current, None


def as_ranking(scores: dict[str, float]) -> list[dict[str, Any]]:
    """Scores as a ranking of probabilities, likeliest first."""
    total = sum(scores.values()) or 1.0
    return sorted(
        ({"name": n, "confidence": round(s / total, 4)} for n, s in scores.items()),
        key=lambda e: -e["confidence"],
    )


def with_context(
    ranking: list[dict[str, Any]], current: str, previous: str | None, prior: float
) -> list[dict[str, Any]]:
    """The service ranking once the conversation is known, as probabilities over services."""
    scores: dict[str, float] = {}
    for entry in ranking:
        name = entry["name"]
        if name == NONE:
            name = current
        elif name == PREVIOUS:
            name = previous or current
        scores[name] = scores.get(name, 0.0) + entry["confidence"]
    scores[current] = scores.get(current, 0.0) * prior
    return as_ranking(scores)


def context_prior(mentions: list[dict[str, Any]], current: str) -> str | None:
    """Which prior a message takes; none when the names it gives leave the conversation.

    No name at all: `prior`. A name of the discussed service, alone or shared with others
    (ใบขับขี่ in a conversation about renewing one): `named_prior`. Names of other
    services only: the words decide.
    """
    if not mentions:
        return "prior"
    unique = {m["services"][0] for m in mentions if len(m["services"]) == 1}
    if unique - {current}:
        return None
    if any(current in m["services"] for m in mentions):
        return "named_prior"
    return None


def with_intent_prior(
    ranking: list[dict[str, Any]], prior: float, same_as_asking: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """The intent ranking with a question about a service `prior` times likelier, the intents
    in `same_as_asking` counted as that question."""
    scores: dict[str, float] = {}
    for e in ranking:
        name = ASK_INTENT if e["name"] in same_as_asking else e["name"]
        scores[name] = scores.get(name, 0.0) + e["confidence"]
    scores[ASK_INTENT] = scores.get(ASK_INTENT, 0.0) * prior
    return as_ranking(scores)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class ConversationContext(GraphComponent):
    """Rewrites `intent` and `service` in the light of the conversation; adds `context`."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # How much likelier the discussed service is than another, before the words:
            # for a message that names no catalog service, and for one that names it
            # (alone or by a shared name).
            "prior": 4.0,
            "named_prior": 4.0,
            # How much likelier a question about a service is while one is discussed.
            "intent_prior": 4.0,
            # The ServiceClassifier's verdict on the ranking with context (config.yml).
            "threshold": 0.45,
            "ambiguity_margin": 0.3,
        }

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = {**self.get_default_config(), **config}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> ConversationContext:
        return cls(config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: list[Message], tracker: DialogueStateTracker | None = None) -> list[Message]:
        current, previous = discussed_services(tracker)
        topic = tracker.get_slot(TOPIC_SLOT) if tracker is not None and current else None
        for message in messages:
            message.set(CONTEXT_KEY, {"service": current, "topic": topic, "previous": previous},
                        add_to_output=True)
            if current:
                self._apply(message, current, previous)
            else:
                self._first(message)
        return messages

    @staticmethod
    def _first(message: Message) -> None:
        service = message.get(SERVICE_SLOT) or {}
        ranking = message.get(INTENT_RANKING_KEY) or []
        names_one = any(len(m["services"]) == 1 for m in service.get("mentions", []))
        if not names_one or not ranking or ranking[0]["name"] not in (ASK_INTENT, DETAIL_INTENT):
            return
        merged = with_intent_prior(ranking, 1.0, (DETAIL_INTENT,))
        message.set(INTENT, merged[0], add_to_output=True)
        message.set(INTENT_RANKING_KEY, merged, add_to_output=True)

    def _apply(self, message: Message, current: str, previous: str | None) -> None:
        service = message.get(SERVICE_SLOT)
        intent_ranking = message.get(INTENT_RANKING_KEY) or []
        if intent_ranking:
            names_none = bool(service) and service.get("name") in FOLLOW_UPS and not service.get("mentions")
            also = (UNCOVERED_INTENT,) if names_none else ()
            ranking = with_intent_prior(intent_ranking, self.config["intent_prior"], also)
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        if not service or not service.get("ranking"):
            return
        which = context_prior(service.get("mentions", []), current)
        if which is None:
            return  # a service named outright wins over the conversation
        ranking = with_context(service["ranking"], current, previous, self.config[which])
        verdict = service_verdict(ranking, self.config["threshold"], self.config["ambiguity_margin"])
        message.set(SERVICE_SLOT, {**service, **verdict, "ranking": ranking}, add_to_output=True)
