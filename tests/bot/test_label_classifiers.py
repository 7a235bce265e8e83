"""The linear classifiers: the fast prediction path and the e5 cascade."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.e5_featurizer import E5Featurizer
from bot.nlu.intent_classifier import IntentClassifier
from bot.nlu.topic_classifier import TopicClassifier

VOCABULARY = 40
INTENTS = ["ask_service", "greet", "goodbye", "thank"]
LABELS = ["fee", "documents", "where", "overview"]


def message(i: int, *, dense: bool, label: str | None = None) -> Message:
    rng = np.random.default_rng(i)
    counts = scipy.sparse.coo_matrix(rng.poisson(0.3, size=(1, VOCABULARY)).astype(float))
    data: dict[str, Any] = {TEXT: f"ข้อความ {i}"}
    if label:
        data[INTENT] = "ask_service"
        data["metadata"] = {"example": {"topic": label}}
    result = Message(data=data)
    result.add_features(Features(counts, "sentence", TEXT, "CountVectorsFeaturizer"))
    # A second block, as config.yml has several featurizers: training stacks each block whole.
    question = scipy.sparse.coo_matrix(rng.poisson(0.5, size=(1, 7)).astype(float))
    result.add_features(Features(question, "sentence", TEXT, "QuestionFeaturizer"))
    if dense:
        result.add_features(Features(rng.normal(size=(1, 8)), "sentence", TEXT, "E5Featurizer"))
    return result


def trained(tmp_path: Path, cls: type, examples: list[Message], **config: Any) -> Any:
    storage = LocalModelStorage(tmp_path)
    component = cls.create({**cls.get_default_config(), **config}, storage, Resource(cls.__name__),
                           ExecutionContext(graph_schema=None, model_id="test"))  # type: ignore[arg-type]
    component.train(TrainingData(examples))
    return component


@pytest.mark.parametrize("dense", [False, True])
def test_fast_probabilities_equal_predict_proba(tmp_path: Path, dense: bool) -> None:
    """The training matrix (stacked for all messages) and one message's features agree."""
    examples = [message(i, dense=dense, label=LABELS[i % len(LABELS)]) for i in range(80)]
    topic = trained(tmp_path, TopicClassifier, examples, dense_weight=0.7)
    for probe in (message(1000 + i, dense=dense) for i in range(10)):
        expected = topic.classifier.predict_proba(topic.features([probe]))[0]
        np.testing.assert_allclose(topic.probabilities(probe), expected, rtol=1e-9, atol=1e-12)


def test_features_are_rasas_combined_sentence_features(tmp_path: Path) -> None:
    """The blocks are stacked as Rasa's own Message.get_sparse/dense_features combine them."""
    from sklearn.preprocessing import normalize

    examples = [message(i, dense=True, label=LABELS[i % 4]) for i in range(40)]
    topic = trained(tmp_path, TopicClassifier, examples, dense_weight=0.7)
    probes = [message(900 + i, dense=True) for i in range(5)]
    sparse, dense = topic.stacked_parts(probes)
    for row, probe in enumerate(probes):
        rasa_sparse = normalize(scipy.sparse.csr_matrix(probe.get_sparse_features(TEXT)[1].features))
        np.testing.assert_allclose(sparse[row].toarray(), rasa_sparse.toarray())
        np.testing.assert_allclose(dense[row], probe.get_dense_features(TEXT)[1].features.reshape(-1) * 0.7)


def test_classifier_trained_with_e5_leaves_unembedded_messages_to_the_one_before(tmp_path: Path) -> None:
    examples = [message(i, dense=True, label=LABELS[i % len(LABELS)]) for i in range(80)]
    topic = trained(tmp_path, TopicClassifier, examples)
    assert topic.uses_dense
    earlier = {"name": "fee", "confidence": 0.95, "ambiguous": False, "ranking": []}
    skipped, embedded = message(500, dense=False), message(501, dense=True)
    skipped.set("topic", earlier, add_to_output=True)
    topic.process([skipped, embedded])
    assert skipped.get("topic") is earlier
    assert embedded.get("topic")["ranking"]


def sure_of(intent: str, confidence: float, **labels: float) -> Message:
    result = Message(data={TEXT: "x"})
    result.set(INTENT, {"name": intent, "confidence": confidence})
    result.set(INTENT_RANKING_KEY, [{"name": intent, "confidence": confidence}])
    for label, value in labels.items():
        result.set(label, {"ranking": [{"name": "a", "confidence": value}]})
    return result


def test_e5_only_for_messages_the_first_classifiers_are_unsure_of() -> None:
    e5 = E5Featurizer({**E5Featurizer.get_default_config(),
                       "skip_when_confident": {"intent": 0.8, "service": 0.8, "topic": 0.8}}, "e5")
    assert not e5.needs_embedding(sure_of("greet", 0.95))
    assert e5.needs_embedding(sure_of("greet", 0.6))
    assert not e5.needs_embedding(sure_of("ask_service", 0.9, service=0.9, topic=0.85))
    assert e5.needs_embedding(sure_of("ask_service", 0.9, service=0.5, topic=0.85))
    assert e5.needs_embedding(sure_of("ask_service", 0.9, service=0.9, topic=0.3))
    assert e5.needs_embedding(sure_of("ask_service", 0.9))  # no service ranking yet
    every = E5Featurizer(E5Featurizer.get_default_config(), "e5")
    assert every.needs_embedding(sure_of("greet", 0.99))


def test_intent_classifier_writes_rasas_intent(tmp_path: Path) -> None:
    examples = []
    for i in range(80):
        example = message(i, dense=False)
        example.set(INTENT, INTENTS[i % len(INTENTS)])
        examples.append(example)
    intent = trained(tmp_path, IntentClassifier, examples)
    probe = message(7, dense=False)
    intent.process([probe])
    assert probe.get(INTENT)["name"] in INTENTS
    assert probe.get(INTENT) == probe.get(INTENT_RANKING_KEY)[0]
    # With the catalog-name feature block too.
    expected = intent.classifier.predict_proba(intent.features([probe]))[0]
    np.testing.assert_allclose(intent.probabilities(probe), expected, rtol=1e-9, atol=1e-12)


def test_loading_the_classifiers_library_keeps_the_root_loggers_level() -> None:
    # In a fresh interpreter: the import that changes the level happens once per process.
    probe = (
        "import logging; logging.getLogger().setLevel(logging.INFO)\n"
        "from bot.nlu.model_files import skops_io; skops_io()\n"
        "print(logging.getLogger().level)"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": str(root)})
    assert done.stdout.strip() == "20"


def test_a_change_to_the_lexicons_code_retrains_the_classifiers(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.nlu import label_classifier

    before = IntentClassifier.fingerprint_addon({})
    assert TopicClassifier.fingerprint_addon({}) != before  # each classifier its own entry
    label_classifier.lexicon_code_digest.cache_clear()
    monkeypatch.setattr(label_classifier.inspect, "getsource", lambda module: "changed code")
    try:
        assert IntentClassifier.fingerprint_addon({}) != before
    finally:
        label_classifier.lexicon_code_digest.cache_clear()
