"""Which service is the citizen asking about?

Two signals: the catalog's names and synonyms found in the message (a spaCy
PhraseMatcher over the tokens, built from the `service:<id>` lookup tables that
``bot/tools/lexicon.py`` writes from the catalog), and a logistic regression over
the sentence features, which also learns what the names cannot say (ขายเหล้า ->
liquor-licence, a typo, no name at all). The matches are also features of the
regression, so a new service is learnt from its catalog names.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import scipy.sparse
import spacy
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc
from spacy.util import filter_spans

from bot.nlu import thai_text
from bot.nlu.label_classifier import ASK_INTENT, NONE, LabelClassifier, metadata_label

LOOKUP_PREFIX = "service:"


class ServiceLexicon:
    """The catalog's names of each service, matched on word boundaries."""

    def __init__(self, names: dict[str, list[str]]) -> None:
        self.names = names
        self.services = sorted(names)
        self._index = {service: i for i, service in enumerate(self.services)}
        dictionary = thai_text.make_dictionary(n for ns in names.values() for n in ns)
        self._vocab = spacy.blank("th").vocab
        self._matcher = PhraseMatcher(self._vocab)
        for service, service_names in names.items():
            patterns = [self._doc(thai_text.tokenize(thai_text.normalise(n), dictionary)) for n in service_names]
            self._matcher.add(service, [p for p in patterns if len(p)])

    @classmethod
    def from_training_data(cls, training_data: TrainingData) -> ServiceLexicon:
        return cls(
            {
                table["name"][len(LOOKUP_PREFIX) :]: list(table["elements"])
                for table in training_data.lookup_tables
                if table["name"].startswith(LOOKUP_PREFIX)
            }
        )

    def _doc(self, words: list[str]) -> Doc:
        return Doc(self._vocab, words=words)

    def mentions(self, words: list[str]) -> list[dict[str, Any]]:
        """Services named in the words, in reading order; overlapping names keep the longest."""
        doc = self._doc(words)
        services_at: dict[tuple[int, int], set[str]] = defaultdict(set)
        for match_id, start, end in self._matcher(doc):
            services_at[(start, end)].add(self._vocab.strings[match_id])
        spans = filter_spans([doc[start:end] for start, end in services_at])
        return [
            {"text": span.text, "start": span.start, "services": sorted(services_at[(span.start, span.end)])}
            for span in sorted(spans, key=lambda s: s.start)
        ]

    def vector(self, words: list[str]) -> list[float]:
        row = [0.0] * len(self.services)
        for mention in self.mentions(words):
            for service in mention["services"]:
                # A name shared by several services (ใบขับขี่) says less than a unique one.
                row[self._index[service]] = max(row[self._index[service]], 1.0 / len(mention["services"]))
        return row


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class ServiceClassifier(LabelClassifier):
    """Writes `service` ({name, confidence, ambiguous, ranking, mentions}) into the parse result."""

    label_key = "service"
    output_key = "service"
    lexicon: ServiceLexicon | None = None

    @classmethod
    def required_components(cls) -> list[type]:
        return [Tokenizer, *LabelClassifier.required_components()]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**LabelClassifier.get_default_config(), "lexicon_weight": 3.0}

    def training_label(self, message: Message) -> str | None:
        if message.get(INTENT) != ASK_INTENT:
            return NONE
        return metadata_label(message, self.label_key)

    def _words(self, message: Message) -> list[str]:
        return [t.text for t in message.get(TOKENS_NAMES[TEXT]) or []]

    def extra_features(self, messages: list[Message]) -> scipy.sparse.csr_matrix | None:
        if self.lexicon is None:
            return None
        weight = self.config["lexicon_weight"]
        rows = [[weight * v for v in self.lexicon.vector(self._words(m))] for m in messages]
        return scipy.sparse.csr_matrix(rows)

    def train(self, training_data: TrainingData) -> Resource:
        self.lexicon = ServiceLexicon.from_training_data(training_data)
        return super().train(training_data)

    def process(self, messages: list[Message]) -> list[Message]:
        messages = super().process(messages)
        for message in messages:
            found = self.lexicon.mentions(self._words(message)) if self.lexicon else []
            message.get(self.output_key)["mentions"] = found
        return messages

    def persist_extra(self, directory: Any) -> None:
        (directory / "lexicon.json").write_text(json.dumps(self.lexicon.names, ensure_ascii=False), "utf-8")

    def load_extra(self, directory: Any) -> None:
        self.lexicon = ServiceLexicon(json.loads((directory / "lexicon.json").read_text("utf-8")))
