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

from bot.nlu.label_classifier import LabelClassifier, metadata_label

# FOLLOW_UPS: `none`, and `previous`, a follow-up that goes back to the service discussed
# before the current one; neither names a service, and bot.nlu.conversation_context resolves them.
from contract.replies import ASK_INTENT, FOLLOW_UPS, NONE


def service_verdict(ranking: list[dict[str, Any]], threshold: float, margin: float) -> dict[str, Any]:
    """The top service, or `none`/`previous` for a follow-up, and whether it is sure enough.

    `ambiguous` is set when the top service is not `threshold` sure and `margin` ahead of
    the runner-up; the dialogue then asks back instead of guessing.
    """
    services = [r for r in ranking if r["name"] not in FOLLOW_UPS]
    follow_up = max((r for r in ranking if r["name"] in FOLLOW_UPS),
                    key=lambda r: r["confidence"], default=None)
    p_follow_up = follow_up["confidence"] if follow_up else 0.0
    if not services:
        name = follow_up["name"] if follow_up else NONE
        return {"name": name, "confidence": p_follow_up, "ambiguous": False}
    top = services[0]
    runner_up = services[1]["confidence"] if len(services) > 1 else 0.0
    if top["confidence"] >= threshold and top["confidence"] - runner_up >= margin:
        return {"name": top["name"], "confidence": top["confidence"], "ambiguous": False}
    if follow_up and p_follow_up >= top["confidence"]:
        return {"name": follow_up["name"], "confidence": p_follow_up, "ambiguous": False}
    return {"name": top["name"], "confidence": top["confidence"], "ambiguous": True}


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
        return service_verdict(ranking, self.config["threshold"], self.config["ambiguity_margin"])

    def write(self, message: Message, ranking: list[dict[str, Any]]) -> None:
        super().write(message, ranking)
        found = self.lexicon.mentions(self.text_of(message)) if self.lexicon else []
        message.get(self.output_key)["mentions"] = found
