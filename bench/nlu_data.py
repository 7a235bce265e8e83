"""The NLU training data as the benchmarks see it: examples, their three labels, and folds.

Every benchmark (cross-validation, calibration, tokenizer comparison) reads the data
through here so that they agree on what an example and a fold are.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("PYTHAINLP_OFFLINE", "1")

from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu import thai_text
from bot.nlu.conversation_context import AFTER_KEY, after_label
from bot.nlu.label_classifier import metadata_label
from contract.replies import ASK_INTENT

DATA_DIR = Path("data/nlu")
# The generated catalog names; its examples are the bare names of the lookup tables.
LEXICON_FILE = "lexicon.yml"
LABELS = ("intent", "service", "topic")


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    service: str | None
    topic: str | None
    # Generated from the catalog's names (data/nlu/lexicon.yml), not written by hand.
    from_lexicon: bool
    entities: tuple[dict, ...] = ()
    # A follow-up that moves to `service` from this related service (its `after` metadata).
    after: str | None = None

    def label(self, name: str) -> str | None:
        return {"intent": self.intent, "service": self.service, "topic": self.topic}[name]


@dataclass
class Corpus:
    examples: list[Example]
    # Lookup tables, regexes and synonyms: catalog and pattern data that every fold keeps.
    lookup_tables: list[dict]
    regex_features: list[dict]
    entity_synonyms: dict[str, str]

    def sample(self, size: int, seed: int) -> Corpus:
        """`size` examples drawn at random, in their order; all of them for 0 or more than there are."""
        if not 0 < size < len(self.examples):
            return self
        kept = sorted(random.Random(seed).sample(range(len(self.examples)), size))
        examples = [self.examples[i] for i in kept]
        return Corpus(examples, self.lookup_tables, self.regex_features, self.entity_synonyms)

    def training_data(self, indices: list[int] | None = None) -> TrainingData:
        """Rasa training data of some examples, with the labels as the project's files carry them."""
        chosen = self.examples if indices is None else [self.examples[i] for i in indices]
        messages = [to_message(e) for e in chosen]
        return TrainingData(
            training_examples=messages,
            lookup_tables=self.lookup_tables,
            regex_features=self.regex_features,
            entity_synonyms=self.entity_synonyms,
        )


def to_message(example: Example, intent: str | None = None) -> Message:
    """A training message; `intent` replaces the intent (a label rewritten as the intent)."""
    metadata = {}
    if example.intent == ASK_INTENT:
        metadata = {"example": {"service": example.service, "topic": example.topic}}
        if example.after:
            metadata["example"][AFTER_KEY] = example.after
    data: dict = {TEXT: example.text, INTENT: intent or example.intent, "metadata": metadata}
    if example.entities and intent is None:
        data[ENTITIES] = [dict(e) for e in example.entities]
    return Message(data=data)


def load_corpus(data_dir: Path = DATA_DIR) -> Corpus:
    data = load_data(str(data_dir), language="th")
    lexicon = (
        load_data(str(data_dir / LEXICON_FILE), language="th") if (data_dir / LEXICON_FILE).exists() else None
    )
    lexicon_texts = {m.get(TEXT) for m in lexicon.training_examples} if lexicon else set()
    examples = []
    for message in data.training_examples:
        if not message.get(TEXT) or not message.get(INTENT):
            continue
        ask = message.get(INTENT) == ASK_INTENT
        examples.append(
            Example(
                text=message.get(TEXT),
                intent=message.get(INTENT),
                service=metadata_label(message, "service") if ask else None,
                topic=metadata_label(message, "topic") if ask else None,
                from_lexicon=message.get(TEXT) in lexicon_texts,
                entities=tuple(message.get(ENTITIES) or ()),
                after=after_label(message) if ask else None,
            )
        )
    return Corpus(examples, data.lookup_tables, data.regex_features, data.entity_synonyms)


# Polite particles end a question without changing its form.
_PARTICLES = frozenset([
    "ครับ", "ครับผม", "คับ", "ค่ะ", "คะ", "ค่า", "ค้า", "นะ", "นะคะ", "นะครับ",
    "จ้า", "จ้ะ", "จ๊ะ", "ฮะ", "ฮับ", "อ่ะ", "อะ", "น่ะ",
])
FORM_WORDS = 3


def question_form(text: str) -> str:
    """The way a question ends, which carries its topic: its last words, particles left out.

    "...ต้องใช้เอกสารอะไรบ้างคะ" and "...ใช้เอกสารอะไรบ้างครับ" have one form.
    """
    words = [w for w in thai_text.tokenize(thai_text.normalise(text)) if w.strip() and w not in _PARTICLES]
    return " ".join(words[-FORM_WORDS:])


def folds(corpus: Corpus, n_folds: int, seed: int, hold_out: str = "text") -> list[list[int]]:
    """Test indices of each fold: stratified on intent (and service within ask_service).

    Examples with the same normalised text share a fold, so that no fold is tested on a
    sentence it was trained on. With `hold_out="form"`, examples that end the same way
    (question_form) share a fold: each fold is tested on question forms it never saw.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    strata = [e.intent if e.intent != ASK_INTENT else f"{ASK_INTENT}:{e.service}" for e in corpus.examples]
    group_of = question_form if hold_out == "form" else thai_text.normalise
    groups = [group_of(e.text) for e in corpus.examples]
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return [sorted(test.tolist()) for _, test in splitter.split(strata, strata, groups)]
