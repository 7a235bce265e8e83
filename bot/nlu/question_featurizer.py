"""Sparse features of the question itself: the last clause of a message.

Citizens tell their situation first and ask last ("ยายอายุเก้าสิบ ... ตอนนี้ได้เดือนละเท่าไหร่").
The word and character counts of the whole message weigh the story as much as the
question, and the topic is in the question. This featurizer adds character n-grams of
the message's last clause (its trailing space-separated parts, at least `min_chars`
long) as a sentence feature beside the others, so every classifier can weigh the
question apart from the story. A short message is its own last clause.
"""

from __future__ import annotations

import re
from typing import Any

import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.sparse_featurizer.sparse_featurizer import SparseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import CountVectorizer

from bot.nlu.model_files import stored_json, write_json
from bot.nlu.thai_tokenizer import NORMALISED_TEXT

_PARTS = re.compile(r"[\s?!.,;:()\"']+")
_VOCABULARY_FILE = "vocabulary.json"


def last_clause(text: str, min_chars: int) -> str:
    """The trailing parts of the text, as few as make at least `min_chars` characters."""
    parts = [p for p in _PARTS.split(text) if p]
    clause: list[str] = []
    while parts and sum(len(p) for p in clause) < min_chars:
        clause.insert(0, parts.pop())
    return " ".join(clause)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class QuestionFeaturizer(SparseFeaturizer, GraphComponent):
    """Character n-grams (within words) of the last clause, as a sentence feature."""

    @classmethod
    def required_components(cls) -> list[type]:
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**SparseFeaturizer.get_default_config(), "min_chars": 12, "min_ngram": 2, "max_ngram": 4}

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        pass

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        name: str,
        vocabulary: dict[str, int] | None = None,
    ) -> None:
        super().__init__(name, config)
        self._model_storage = model_storage
        self._resource = resource
        self.vectorizer = self._vectorizer(vocabulary) if vocabulary else None

    def _vectorizer(self, vocabulary: dict[str, int] | None = None) -> CountVectorizer:
        return CountVectorizer(
            analyzer="char_wb",
            ngram_range=(self._config["min_ngram"], self._config["max_ngram"]),
            vocabulary=vocabulary,
        )

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> QuestionFeaturizer:
        return cls(config, model_storage, resource, execution_context.node_name)

    def _clause(self, message: Message) -> str:
        return last_clause(message.get(NORMALISED_TEXT) or message.get(TEXT) or "", self._config["min_chars"])

    def train(self, training_data: TrainingData) -> Resource:
        clauses = [self._clause(m) for m in training_data.training_examples if m.get(TEXT)]
        self.vectorizer = self._vectorizer()
        self.vectorizer.fit(clauses)
        vocabulary = {gram: int(i) for gram, i in self.vectorizer.vocabulary_.items()}
        with self._model_storage.write_to(self._resource) as directory:
            write_json(directory, _VOCABULARY_FILE, vocabulary)
        self.vectorizer = self._vectorizer(vocabulary)
        return self._resource

    def _featurize(self, messages: list[Message]) -> None:
        todo = [m for m in messages if m.get(TEXT)]
        if self.vectorizer is None or not todo:
            return
        rows = self.vectorizer.transform([self._clause(m) for m in todo])
        for message, row in zip(todo, rows, strict=True):
            self.add_features_to_message(None, scipy.sparse.coo_matrix(row), TEXT, message)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(training_data.training_examples)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        self._featurize(messages)
        return messages

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> QuestionFeaturizer:
        vocabulary = stored_json(model_storage, resource, _VOCABULARY_FILE)
        return cls(config, model_storage, resource, execution_context.node_name, vocabulary)
