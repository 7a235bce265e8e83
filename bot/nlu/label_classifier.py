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

import json
import logging
from typing import Any

import numpy as np
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.featurizer import Featurizer
from rasa.shared.nlu.constants import INTENT, METADATA, METADATA_EXAMPLE, METADATA_INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize

from bot.nlu.service_lexicon import ServiceLexicon
from bot.nlu.thai_tokenizer import NORMALISED_TEXT

logger = logging.getLogger(__name__)

ASK_INTENT = "ask_service"
NONE = "none"
# Where a message keeps its feature row between the classifiers of one turn; not output.
ROW_CACHE_PREFIX = "label_classifier_row@"


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
            "max_iter": 500,
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

    @staticmethod
    def text_of(message: Message) -> str:
        return message.get(NORMALISED_TEXT) or message.get(TEXT) or ""

    # -- training and prediction --------------------------------------------------------
    def sentence_row(self, message: Message, reuse: bool = False) -> scipy.sparse.csr_matrix:
        """The message's sparse and dense sentence features side by side, unit length each.

        With `reuse` (at prediction time) the row is kept on the message, so the three
        classifiers of a turn build it once; a featurizer that adds features later makes
        a new row.
        """
        key = f"{ROW_CACHE_PREFIX}{self.config['dense_weight']}:{len(message.features)}"
        if reuse and message.get(key) is not None:
            return message.get(key)
        sparse = message.get_sparse_features(TEXT)[1]
        dense = message.get_dense_features(TEXT)[1]
        parts = [normalize(scipy.sparse.csr_matrix(sparse.features)) if sparse else None,
                 scipy.sparse.csr_matrix(dense.features * self.config["dense_weight"]) if dense else None]
        row = scipy.sparse.hstack([p for p in parts if p is not None]).tocsr()
        if reuse:
            message.set(key, row)
        return row

    def features(self, messages: list[Message], reuse: bool = False) -> scipy.sparse.csr_matrix:
        matrix = scipy.sparse.vstack([self.sentence_row(m, reuse) for m in messages]).tocsr()
        if self.lexicon is None:
            return matrix
        lexicon = np.array([self.lexicon_row(self.text_of(m)) for m in messages])
        weighted = scipy.sparse.csr_matrix(lexicon * self.config["lexicon_weight"])
        return scipy.sparse.hstack([matrix, weighted]).tocsr()

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
        self.classifier = LogisticRegression(
            C=self.config["C"], max_iter=self.config["max_iter"], class_weight="balanced"
        )
        self.classifier.fit(self.features(examples), labels)
        self.persist()
        return self._resource

    def rank(self, messages: list[Message]) -> list[list[dict[str, Any]]]:
        if self.classifier is None or not messages:
            return [[] for _ in messages]
        probabilities = self.classifier.predict_proba(self.features(messages, reuse=True))
        labels = self.classifier.classes_

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
        for message, ranking in zip(messages, self.rank(messages), strict=True):
            verdict = {**self.verdict(ranking), "ranking": ranking}
            message.set(self.output_key, verdict, add_to_output=True)
        return messages

    # -- persistence ----------------------------------------------------------------------
    def persist(self) -> None:
        import skops.io as sio

        with self._model_storage.write_to(self._resource) as directory:
            sio.dump(self.classifier, directory / "classifier.skops")
            if self.lexicon:
                names = json.dumps(self.lexicon.names, ensure_ascii=False)
                (directory / "lexicon.json").write_text(names, encoding="utf-8")

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LabelClassifier:
        import skops.io as sio

        try:
            with model_storage.read_from(resource) as directory:
                path = directory / "classifier.skops"
                classifier = sio.load(path, trusted=sio.get_untrusted_types(file=path))
                component = cls(config, model_storage, resource, classifier)
                lexicon = directory / "lexicon.json"
                if lexicon.exists():
                    component.lexicon = ServiceLexicon(json.loads(lexicon.read_text(encoding="utf-8")))
                return component
        except (ValueError, FileNotFoundError):
            logger.warning("%s: no trained classifier in the model.", cls.__name__)
            return cls(config, model_storage, resource)
