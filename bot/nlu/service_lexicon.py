"""The catalog's names of each service, found in a message with spaCy's PhraseMatcher.

The names come from the `service:<id>` lookup tables that ``bot/tools/lexicon.py``
writes from the catalog. Matching runs over Thai character clusters (pythainlp's
TCC), not words: word segmentation of a compound is ambiguous (ภาษีรถ|เก๋ง or
ภาษี|รถเก๋ง), character clusters are not, and a match never splits a cluster.
Citizens write one abbreviation many ways (ภ.ง.ด.91, ภงด.91, ภงด 91), so dots,
dashes and spaces are removed on both sides first.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from typing import Any

import spacy
from pythainlp.tokenize import tcc
from rasa.shared.nlu.training_data.training_data import TrainingData
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc
from spacy.util import filter_spans

from bot.nlu import thai_text

LOOKUP_PREFIX = "service:"
_NOT_COMPACT = re.compile(r"[\s.\-_/()]+")


def compact(text: str) -> str:
    return _NOT_COMPACT.sub("", thai_text.normalise(text))


class ServiceLexicon:
    def __init__(self, names: dict[str, list[str]]) -> None:
        self.names = names
        self.services = sorted(names)
        self._index = {service: i for i, service in enumerate(self.services)}
        self._vocab = spacy.blank("th").vocab
        self._matcher = PhraseMatcher(self._vocab)
        for service, service_names in names.items():
            patterns = {compact(n): None for n in service_names if len(compact(n)) > 1}
            self._matcher.add(service, [self.doc(p) for p in patterns])
        # The classifiers of one turn ask about the same text several times in a row.
        self.mentions = functools.lru_cache(maxsize=64)(self._mentions)

    @classmethod
    def from_training_data(cls, training_data: TrainingData) -> ServiceLexicon:
        return cls(
            {
                table["name"][len(LOOKUP_PREFIX) :]: list(table["elements"])
                for table in training_data.lookup_tables
                if table["name"].startswith(LOOKUP_PREFIX)
            }
        )

    def doc(self, text: str) -> Doc:
        return Doc(self._vocab, words=tcc.segment(compact(text)))

    def _mentions(self, text: str) -> list[dict[str, Any]]:
        """Services named in the text, in reading order; overlapping names keep the longest."""
        doc = self.doc(text)
        services_at: dict[tuple[int, int], set[str]] = defaultdict(set)
        for match_id, start, end in self._matcher(doc):
            services_at[(start, end)].add(self._vocab.strings[match_id])
        spans = filter_spans([doc[start:end] for start, end in services_at])
        return [
            {"text": "".join(t.text for t in span), "services": sorted(services_at[(span.start, span.end)])}
            for span in sorted(spans, key=lambda s: s.start)
        ]

    def vector(self, text: str) -> list[float]:
        """One value per service: 1 for a name only it has, 1/n for a name n services share."""
        row = [0.0] * len(self.services)
        for mention in self.mentions(text):
            for service in mention["services"]:
                i = self._index[service]
                row[i] = max(row[i], 1.0 / len(mention["services"]))
        return row
