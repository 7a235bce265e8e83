"""The intent: a question about a service, a detail, small talk, out of scope...

The same linear model as the service and topic classifiers (bot.nlu.label_classifier),
written where Rasa expects an intent so that FallbackClassifier and the rules use it.
Whether the message names a catalog service is one of its features: a question that
names one is rarely small talk.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.classifier import IntentClassifier as RasaIntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.label_classifier import LabelClassifier


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class IntentClassifier(LabelClassifier, RasaIntentClassifier):
    """Writes Rasa's `intent` and `intent_ranking` (whose entries have the same keys as ours)."""

    label_key = INTENT

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**LabelClassifier.get_default_config(), "lexicon_weight": 2.0}

    def training_label(self, message: Message) -> str | None:
        return message.get(INTENT)

    def lexicon_row(self, text: str) -> list[float]:
        return [max(super().lexicon_row(text), default=0.0)]

    def write(self, message: Message, ranking: list[dict[str, Any]]) -> None:
        message.set(INTENT, ranking[0] if ranking else None, add_to_output=True)
        message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
