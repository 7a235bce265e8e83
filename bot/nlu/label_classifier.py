"""A linear classifier for one label carried in the training examples' metadata.

The NLU answers two questions apart: which service, and what about it. Both are
labels in the metadata of the `ask_service` examples (see data/nlu/), so adding a
service needs its catalog names and some examples, not new intents. This base class
trains a logistic regression on the sentence features of the featurizers before it,
plus, when `lexicon_weight` is set, the catalog names found in the message
(bot.nlu.service_lexicon), and writes a ranking into the parse result; subclasses
name the label.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import logging
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse
import scipy.special
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.featurizer import Featurizer
from rasa.shared.nlu.constants import (
    FEATURE_TYPE_SENTENCE,
    INTENT,
    METADATA,
    METADATA_EXAMPLE,
    METADATA_INTENT,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize

from bot.nlu import service_lexicon
from bot.nlu.model_files import read_json, read_stored, skops_io, write_json
from bot.nlu.service_lexicon import ServiceLexicon
from bot.nlu.thai_tokenizer import NORMALISED_TEXT

logger = logging.getLogger(__name__)

# Where a message keeps its features as the classifiers use them (not in the parse result).
PARTS_KEY = "label_classifier_parts@"
# Bump when what persist() writes changes, so that Rasa's cache retrains the classifiers.
MODEL_FORMAT = 2


@functools.cache
def lexicon_code_digest() -> str:
    """A digest of the code that finds the catalog's names, one of the classifiers' features: Rasa's
    cache knows a component's config and data but not its code, and a classifier restored from it
    after that code changed would have learnt from other features than it is given."""
    return hashlib.sha256(inspect.getsource(service_lexicon).encode()).hexdigest()[:16]


def metadata_label(message: Message, key: str) -> str | None:
    """The label under `key` in an example's metadata (example level wins over intent level)."""
    metadata = message.get(METADATA) or {}
    for level in (METADATA_EXAMPLE, METADATA_INTENT):
        value = (metadata.get(level) or {}).get(key)
        if value:
            return str(value)
    return None


class LabelClassifier(GraphComponent):
    """Logistic regression over sentence features; subclasses say which label and where to write."""

    label_key: str = ""
    output_key: str = ""

    @classmethod
    def required_components(cls) -> list[type]:
        return [Featurizer]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "C": 10.0,
            # lbfgs converges in 140-230 iterations; at 80 the held-out accuracy of every label was
            # the same within one example on three cross-validation folds, in half the time
            # (docs/benchmarks.md, "Training time").
            "max_iter": 80,
            # Both the count vector and the e5 vector have unit length; this weighs them.
            "dense_weight": 1.0,
            "ranking_length": 5,
            # Weight of the catalog-name features; 0 leaves them out.
            "lexicon_weight": 0.0,
            # Below this top confidence, or this close to the runner-up, the label is unsure.
            "threshold": 0.5,
            "ambiguity_margin": 0.1,
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        classifier: LogisticRegression | None = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.classifier = classifier
        self.lexicon: ServiceLexicon | None = None
        # Whether it learnt with dense (e5) features; such a classifier leaves alone the
        # messages that E5Featurizer did not embed, and the classifier before it decides.
        self.uses_dense = False
        self._weights_by_feature: np.ndarray | None = None

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        # What the model stores changed with the cascade (features.json), and the lexicon's
        # features change with its code; older cached classifiers must not be restored.
        return f"{cls.__name__}-{MODEL_FORMAT}-{lexicon_code_digest()}"

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LabelClassifier:
        return cls(config, model_storage, resource)

    # -- what subclasses change -------------------------------------------------------
    def training_label(self, message: Message) -> str | None:
        """The label to learn from this example, or None to leave it out."""
        return metadata_label(message, self.label_key)

    def lexicon_row(self, text: str) -> list[float]:
        """The catalog-name features of a message: by default one per service."""
        return self.lexicon.vector(text) if self.lexicon else []

    def write(self, message: Message, ranking: list[dict[str, Any]]) -> None:
        """Put the ranking, and the verdict on it, into the parse result."""
        message.set(self.output_key, {**self.verdict(ranking), "ranking": ranking}, add_to_output=True)

    @staticmethod
    def has_dense(message: Message) -> bool:
        return any(f.is_dense() and f.attribute == TEXT for f in message.features)

    @staticmethod
    def text_of(message: Message) -> str:
        return message.get(NORMALISED_TEXT) or message.get(TEXT) or ""

    # -- training and prediction --------------------------------------------------------
    def sentence_parts(
        self, message: Message, keep: bool = False
    ) -> tuple[scipy.sparse.csr_matrix | None, np.ndarray | None]:
        """The message's sparse sentence features (unit length) and its weighted dense ones.

        With `keep` (at prediction time, never in training: the training data is
        fingerprinted for Rasa's cache) they stay on the message: the classifiers of a
        turn ask for them up to six times. A featurizer that adds features later (e5)
        changes the key.
        """
        key = f"{PARTS_KEY}{self.config['dense_weight']}:{len(message.features)}"
        parts = message.get(key)
        if parts is None:
            sparse, dense = self.stacked_parts([message])
            parts = (sparse, None if dense is None else dense[0])
            if keep:
                message.set(key, parts)
        return parts

    @staticmethod
    def _sentence_blocks(messages: list[Message], sparse: bool) -> list[Any]:
        """Each featurizer's sentence features of the messages, one stacked matrix per featurizer,
        in the order Rasa's `get_sparse_features` and `get_dense_features` combine them (which,
        message by message, took a third of the time it took to train a classifier)."""
        rows = [
            [f.features for f in m.features if f.attribute == TEXT and f.type == FEATURE_TYPE_SENTENCE
             and f.is_sparse() == sparse]
            for m in messages
        ]
        stack = scipy.sparse.vstack if sparse else np.vstack
        return [stack([row[i] for row in rows]) for i in range(len(rows[0]))]

    def stacked_parts(
        self, messages: list[Message]
    ) -> tuple[scipy.sparse.csr_matrix | None, np.ndarray | None]:
        """The sparse sentence features of the messages (each row of unit length) and their
        weighted dense ones, a row per message."""
        sparse = self._sentence_blocks(messages, sparse=True)
        dense = self._sentence_blocks(messages, sparse=False)
        return (
            normalize(scipy.sparse.hstack(sparse).tocsr()) if sparse else None,
            np.hstack(dense) * self.config["dense_weight"] if dense else None,
        )

    def lexicon_features(self, message: Message) -> np.ndarray:
        row = np.asarray(self.lexicon_row(self.text_of(message)), dtype=float)
        return row * self.config["lexicon_weight"]

    def features(self, messages: list[Message]) -> scipy.sparse.csr_matrix:
        """The training matrix: sparse, dense and catalog-name features side by side."""
        sparse, dense = self.stacked_parts(messages)
        blocks = [sparse] if sparse is not None else []
        if dense is not None:
            blocks.append(scipy.sparse.csr_matrix(dense))
        if self.lexicon is not None:
            blocks.append(scipy.sparse.csr_matrix(np.vstack([self.lexicon_features(m) for m in messages])))
        return scipy.sparse.hstack(blocks).tocsr()

    def probabilities(self, message: Message) -> np.ndarray:
        """`predict_proba` of one message, from the weights of each block of features.

        Building the message's sparse row, as training does, cost more than the model.
        """
        weights = self._weights_by_feature
        if weights is None:
            weights = self._weights_by_feature = np.ascontiguousarray(self.classifier.coef_.T)
        scores = self.classifier.intercept_.copy()
        sparse, dense = self.sentence_parts(message, keep=True)
        offset = 0
        if sparse is not None:
            scores += sparse.data @ weights[sparse.indices]
            offset = sparse.shape[1]
        if dense is not None:
            scores += dense @ weights[offset : offset + len(dense)]
            offset += len(dense)
        if self.lexicon is not None:
            lexicon = self.lexicon_features(message)
            scores += lexicon @ weights[offset : offset + len(lexicon)]
        return scipy.special.softmax(scores)

    def train(self, training_data: TrainingData) -> Resource:
        if self.config["lexicon_weight"]:
            self.lexicon = ServiceLexicon.from_training_data(training_data)
        examples, labels = [], []
        for message in training_data.training_examples:
            label = self.training_label(message) if message.get(TEXT) and message.get(INTENT) else None
            if label:
                examples.append(message)
                labels.append(label)
        if len(set(labels)) < 2:
            logger.warning("%s: fewer than two labels in the training data; not trained.", self.label_key)
            return self._resource
        self.uses_dense = any(self.has_dense(m) for m in examples)
        self.classifier = LogisticRegression(
            C=self.config["C"], max_iter=self.config["max_iter"], class_weight="balanced"
        )
        started = time.perf_counter()
        with warnings.catch_warnings():
            # Stopping at max_iter before lbfgs's own tolerance is the setting, not a fault.
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.classifier.fit(self.features(examples), labels)
        logger.info(
            "%s: %d examples, %d labels, %d iterations, %.1f s.",
            type(self).__name__, len(examples), len(self.classifier.classes_),
            max(self.classifier.n_iter_), time.perf_counter() - started,
        )
        self._weights_by_feature = None
        self.persist()
        return self._resource

    def rank(self, messages: list[Message]) -> list[list[dict[str, Any]]]:
        if self.classifier is None or not messages:
            return [[] for _ in messages]
        labels = self.classifier.classes_
        if len(labels) > 2:  # multinomial; a binary model is one-vs-rest
            probabilities = [self.probabilities(m) for m in messages]
        else:
            probabilities = self.classifier.predict_proba(self.features(messages))

        def ranked(row: np.ndarray) -> list[dict[str, Any]]:
            order = np.argsort(-row)[: self.config["ranking_length"]]
            return [{"name": str(labels[i]), "confidence": round(float(row[i]), 4)} for i in order]

        return [ranked(row) for row in probabilities]

    def verdict(self, ranking: list[dict[str, Any]]) -> dict[str, Any]:
        """The top label, and whether it is sure enough to act on."""
        if not ranking:
            return {"name": None, "confidence": 0.0, "ambiguous": True}
        top = ranking[0]
        runner_up = ranking[1]["confidence"] if len(ranking) > 1 else 0.0
        ambiguous = top["confidence"] < self.config["threshold"] or (
            top["confidence"] - runner_up < self.config["ambiguity_margin"]
        )
        return {"name": top["name"], "confidence": top["confidence"], "ambiguous": ambiguous}

    def process(self, messages: list[Message]) -> list[Message]:
        todo = [m for m in messages if self.has_dense(m)] if self.uses_dense else messages
        for message, ranking in zip(todo, self.rank(todo), strict=True):
            self.write(message, ranking)
        return messages

    # -- persistence ----------------------------------------------------------------------
    def persist(self) -> None:
        sio = skops_io()

        with self._model_storage.write_to(self._resource) as directory:
            sio.dump(self.classifier, directory / "classifier.skops")
            write_json(directory, "features.json", {"dense": self.uses_dense})
            if self.lexicon:
                write_json(directory, "lexicon.json", self.lexicon.names)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LabelClassifier:
        sio = skops_io()

        def read(directory: Path) -> LabelClassifier:
            path = directory / "classifier.skops"
            classifier = sio.load(path, trusted=sio.get_untrusted_types(file=path))
            component = cls(config, model_storage, resource, classifier)
            component.uses_dense = bool(read_json(directory, "features.json")["dense"])
            if (directory / "lexicon.json").exists():
                component.lexicon = ServiceLexicon(read_json(directory, "lexicon.json"))
            return component

        component = read_stored(model_storage, resource, read)
        if component is None:
            logger.warning("%s: no trained classifier in the model.", cls.__name__)
            return cls(config, model_storage, resource)
        return component
