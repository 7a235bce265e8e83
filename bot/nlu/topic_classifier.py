"""What about the service is the citizen asking (fee, documents, deadline...)?

Topics are learnt from the `topic` metadata of the `ask_service` examples; they do
not depend on the service, so every service's examples teach every topic.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import INTENT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.label_classifier import LabelClassifier, metadata_label
from contract.replies import ASK_INTENT


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class TopicClassifier(LabelClassifier):
    """Writes `topic` ({name, confidence, ambiguous, ranking}) into the parse result."""

    label_key = "topic"
    output_key = "topic"

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**LabelClassifier.get_default_config(), "threshold": 0.35, "ambiguity_margin": 0.0}

    def training_label(self, message: Message) -> str | None:
        if message.get(INTENT) != ASK_INTENT:
            return None
        return metadata_label(message, self.label_key)
