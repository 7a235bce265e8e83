"""The catalog's names of each service, found in a tokenised message with spaCy's PhraseMatcher.

The names come from the `service:<id>` lookup tables that ``bot/tools/lexicon.py``
writes from the catalog. Citizens write the same abbreviation many ways (ภ.ง.ด.91,
ภงด.91, ภงด 91), so tokens are compared on a compact form without dots, dashes and
spaces, and each name is matched in its own segmentation and in that of its compact
form. Matching whole tokens keeps a short name (พาส) from matching inside another
word (พาสต้า).
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import spacy
from rasa.shared.nlu.training_data.training_data import TrainingData
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc
from spacy.util import filter_spans

from bot.nlu import thai_text

LOOKUP_PREFIX = "service:"
_NOT_COMPACT = re.compile(r"[\s.\-_/]+")


def compact(word: str) -> str:
    return _NOT_COMPACT.sub("", word)


class ServiceLexicon:
    def __init__(self, names: dict[str, list[str]]) -> None:
        self.names = names
        self.services = sorted(names)
        self._index = {service: i for i, service in enumerate(self.services)}
        self._dictionary = thai_text.make_dictionary(n for ns in names.values() for n in ns)
        self._vocab = spacy.blank("th").vocab
        self._matcher = PhraseMatcher(self._vocab, attr="NORM")
        for service, service_names in names.items():
            patterns = {}
            for name in service_names:
                normalised = thai_text.normalise(name)
                for variant in (normalised, compact(normalised)):
                    words = thai_text.tokenize(variant, self._dictionary)
                    doc = self.doc(words)
                    if len(doc):
                        patterns[tuple(t.norm_ for t in doc)] = doc
            self._matcher.add(service, list(patterns.values()))

    @classmethod
    def from_training_data(cls, training_data: TrainingData) -> ServiceLexicon:
        return cls(
            {
                table["name"][len(LOOKUP_PREFIX) :]: list(table["elements"])
                for table in training_data.lookup_tables
                if table["name"].startswith(LOOKUP_PREFIX)
            }
        )

    def doc(self, words: list[str]) -> Doc:
        """A spaCy Doc of the words that carry letters or digits, compared on their compact form."""
        kept = [w for w in words if compact(w)]
        doc = Doc(self._vocab, words=kept)
        for token in doc:
            token.norm_ = compact(token.text)
        return doc

    def mentions(self, words: list[str]) -> list[dict[str, Any]]:
        """Services named in the words, in reading order; overlapping names keep the longest."""
        doc = self.doc(words)
        services_at: dict[tuple[int, int], set[str]] = defaultdict(set)
        for match_id, start, end in self._matcher(doc):
            services_at[(start, end)].add(self._vocab.strings[match_id])
        spans = filter_spans([doc[start:end] for start, end in services_at])
        return [
            {"text": span.text, "start": span.start, "services": sorted(services_at[(span.start, span.end)])}
            for span in sorted(spans, key=lambda s: s.start)
        ]

    def vector(self, words: list[str]) -> list[float]:
        """One value per service: 1 for a name only it has, 1/n for a name n services share."""
        row = [0.0] * len(self.services)
        for mention in self.mentions(words):
            for service in mention["services"]:
                i = self._index[service]
                row[i] = max(row[i], 1.0 / len(mention["services"]))
        return row
