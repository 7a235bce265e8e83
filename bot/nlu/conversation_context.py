"""Weighs the classifiers' rankings against the conversation: the service being discussed.

Rasa's NLU components see only the message, unless one asks for the tracker: the
default recipe gives a component's `process` the conversation's tracker when the method
takes a `tracker` argument (rasa/engine/recipes/default_recipe.py,
`_get_needs_from_args`). This component uses it, so context is an input of the NLU, the
same for every channel, and the parse result shows what it did (`context`).

With a service being discussed (the `service` slot):
- a question that names no service is about it: the classifier's `none` (the words point
  at no service: a follow-up) counts for it `follow_up_prior` times, and words that point
  at the service itself `prior` times, against 1 for any other service's, so a follow-up
  whose words lean a little to a sibling service (a renewal after a first licence) stays
  where it was; a question that names it, alone or by a name it shares with others
  (ใบขับขี่), takes `named_prior` for both;
- a service related to the discussed one (the tax refund after filing, the allowance after
  the disability card) is `related_prior` times likelier than an unrelated one, for a
  message that names no service: a follow-up that tells a related service's situation in
  its own words ("แล้วที่ถูกหักไว้เกินล่ะ") can leave, where an unrelated service's words would
  need far more weight. Which services are related is learnt from the training data: an
  example about a service whose metadata says `after: <service>` is a follow-up that
  moves there from that one (data/nlu/related_followups.yml);
- `previous` (a follow-up that goes back: "แล้วอันเดิมล่ะ") is the service discussed
  before the current one;
- a message that names only other services switches: to the one named, or the words
  decide between those that share the name;
- a question about a service is `intent_prior` times likelier than without context, so a
  short follow-up ("ติดต่อใคร") is not taken for small talk or out of scope unless its
  words clearly are; and a question that names no service cannot be about a service
  the catalog lacks: it is about the one discussed (ask_uncovered_service counts as
  ask_service).
The priors are chosen by cross-validation on the training data (bench/context.py).

With nothing discussed yet, a detail that names a service ("ค่าทำพาสปอร์ตเล่ม 10 ปี") asks about
that service (actions/understanding.py answers it so): the detail's intent and the question's
are one answer, so their split is not an ambiguity for the FallbackClassifier after this.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.events import SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, METADATA, METADATA_EXAMPLE, METADATA_INTENT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.label_classifier import metadata_label
from bot.nlu.model_files import stored_json, write_json
from bot.nlu.service_classifier import service_verdict
from contract.replies import ASK_INTENT, DETAIL_INTENT, FOLLOW_UPS, NONE, PREVIOUS, UNCOVERED_INTENT

SERVICE_SLOT = "service"
TOPIC_SLOT = "topic"
CONTEXT_KEY = "context"
# The training metadata of a follow-up that moves to a related service: the service it
# moves from (`after: income-tax-filing` on an example about tax-refund).
AFTER_KEY = "after"
_RELATIONS_FILE = "relations.json"

logger = logging.getLogger(__name__)


def after_label(message: Message) -> str | None:
    """The service a training example moves from (its `after` metadata, example level first)."""
    metadata = message.get(METADATA) or {}
    for level in (METADATA_EXAMPLE, METADATA_INTENT):
        if value := (metadata.get(level) or {}).get(AFTER_KEY):
            return str(value)
    return None


def relations_of(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """For each service, the services a follow-up moves to from it: (from, to) pairs, grouped."""
    related: dict[str, set[str]] = {}
    for before, after in pairs:
        if before != after:
            related.setdefault(before, set()).add(after)
    return {service: sorted(to) for service, to in sorted(related.items())}


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
    ranking: list[dict[str, Any]],
    current: str,
    previous: str | None,
    prior: float,
    related: Iterable[str] = (),
    related_prior: float = 1.0,
    follow_up_prior: float | None = None,
) -> list[dict[str, Any]]:
    """The service ranking once the conversation is known, as probabilities over services:
    `none` counts for the discussed service `follow_up_prior` times (`prior` when None),
    the discussed service's own share `prior` times, the `related` ones' `related_prior` times."""
    related = set(related) - {current}
    weights = {current: prior, **{name: related_prior for name in related}}
    scores: dict[str, float] = {}
    for entry in ranking:
        name, share = entry["name"], entry["confidence"]
        if name == NONE:
            name, share = current, share * (prior if follow_up_prior is None else follow_up_prior)
        else:
            if name == PREVIOUS:
                name = previous or current
            share *= weights.get(name, 1.0)
        scores[name] = scores.get(name, 0.0) + share
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


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class ConversationContext(GraphComponent):
    """Rewrites `intent` and `service` in the light of the conversation; adds `context`.

    Training learns which services are related (the `after` metadata of the examples)."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # How much likelier the discussed service is than another, before the words:
            # for a message that names no catalog service, and for one that names it
            # (alone or by a shared name).
            "prior": 4.0,
            "named_prior": 4.0,
            # How much a follow-up's `none` counts for the discussed service, for a message
            # that names no service (None: as much as `prior`).
            "follow_up_prior": None,
            # How much likelier a service related to the discussed one is than another, for a
            # message that names no service.
            "related_prior": 1.0,
            # How much likelier a question about a service is while one is discussed.
            "intent_prior": 4.0,
            # The ServiceClassifier's verdict on the ranking with context (config.yml).
            "threshold": 0.45,
            "ambiguity_margin": 0.3,
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage | None = None,
        resource: Resource | None = None,
        relations: dict[str, list[str]] | None = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.relations = relations or {}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> ConversationContext:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        self.relations = relations_of(
            (before, metadata_label(m, SERVICE_SLOT))
            for m in training_data.training_examples
            if (before := after_label(m)) and metadata_label(m, SERVICE_SLOT)
        )
        with self._model_storage.write_to(self._resource) as directory:
            write_json(directory, _RELATIONS_FILE, self.relations)
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> ConversationContext:
        relations = stored_json(model_storage, resource, _RELATIONS_FILE)
        if relations is None:
            logger.warning("ConversationContext: no relations between services in the model.")
        return cls(config, model_storage, resource, relations)

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
        # A related service is likelier, and `none` weighs its own, only where no name
        # decides (`prior`).
        no_name = which == "prior"
        ranking = with_context(
            service["ranking"], current, previous, self.config[which],
            self.relations.get(current, ()) if no_name else (), self.config["related_prior"],
            self.config["follow_up_prior"] if no_name else None,
        )
        verdict = service_verdict(ranking, self.config["threshold"], self.config["ambiguity_margin"])
        message.set(SERVICE_SLOT, {**service, **verdict, "ranking": ranking}, add_to_output=True)
