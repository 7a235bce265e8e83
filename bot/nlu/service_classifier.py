"""Which service is the citizen asking about?

Two signals: the catalog's names found in the message (bot.nlu.service_lexicon) and a
logistic regression over the sentence features, which also learns what the names
cannot say (ขายเหล้า -> liquor-licence, a typo, no name at all). The names are
features of the regression too, so a new service is learnt from its catalog record.
`none` is the label of a question that names no service (a follow-up).
"""

from __future__ import annotations

from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import INTENT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.label_classifier import ASK_INTENT, NONE, LabelClassifier, metadata_label


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class ServiceClassifier(LabelClassifier):
    """Writes `service` ({name, confidence, ambiguous, ranking, mentions}) into the parse result.

    `name` is the most likely service, or `none` when the message names none.
    `ambiguous` is set when the top service is not clearly ahead (see `threshold`
    and `ambiguity_margin`); the dialogue then asks back instead of guessing.
    """

    label_key = "service"
    output_key = "service"

    @classmethod
    def required_components(cls) -> list[type]:
        return [Tokenizer, *LabelClassifier.required_components()]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**LabelClassifier.get_default_config(), "lexicon_weight": 3.0, "ranking_length": 6}

    def training_label(self, message: Message) -> str | None:
        return metadata_label(message, self.label_key) if message.get(INTENT) == ASK_INTENT else None

    def verdict(self, ranking: list[dict[str, Any]]) -> dict[str, Any]:
        services = [r for r in ranking if r["name"] != NONE]
        p_none = next((r["confidence"] for r in ranking if r["name"] == NONE), 0.0)
        if not services:
            return {"name": NONE, "confidence": p_none, "ambiguous": False}
        top = services[0]
        runner_up = services[1]["confidence"] if len(services) > 1 else 0.0
        if top["confidence"] >= self.config["threshold"] and (
            top["confidence"] - runner_up >= self.config["ambiguity_margin"]
        ):
            return {"name": top["name"], "confidence": top["confidence"], "ambiguous": False}
        if p_none >= top["confidence"]:
            return {"name": NONE, "confidence": p_none, "ambiguous": False}
        return {"name": top["name"], "confidence": top["confidence"], "ambiguous": True}

    def write(self, message: Message, ranking: list[dict[str, Any]]) -> None:
        super().write(message, ranking)
        found = self.lexicon.mentions(self.text_of(message)) if self.lexicon else []
        message.get(self.output_key)["mentions"] = found
