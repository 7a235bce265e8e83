"""FaqMatcher (bot/nlu/faq_matcher.py): which entry a question asks, and when it is sure enough."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu import faq_matcher
from bot.nlu.faq_matcher import FaqMatcher, centred, decide, ranked_entries, topic_accepts

DIM = 8
# Every question about the passport shares most of its vector (e5 does that): the service's part.
SERVICE = np.eye(DIM)[0] * 3.0


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


def direction(i: int, noise: int = 0) -> np.ndarray:
    rng = np.random.default_rng(noise)
    return unit(SERVICE + np.eye(DIM)[i] + rng.normal(scale=0.05, size=DIM))


def example(text: str, vector: np.ndarray, **labels: str) -> Message:
    faq = labels.pop("faq", None)
    metadata: dict[str, Any] = {"example": dict(labels)}
    if faq:
        metadata["example"]["faq"] = faq
        metadata["intent"] = {"faq_service": "passport"}
    message = Message(data={TEXT: text, INTENT: "ask_service", "metadata": metadata})
    message.add_features(Features(vector[np.newaxis, :], "sentence", TEXT, "E5Featurizer"))
    return message


def training_data() -> TrainingData:
    examples = [
        # Entry "queue" (steps) and entry "minor" (documents): their texts lean two ways.
        *(example(f"จองคิว {n}", direction(1, n), topic="steps", faq="passport-queue") for n in range(4)),
        *(example(f"พ่อแม่ {n}", direction(2, n), topic="documents", faq="passport-minor") for n in range(4)),
        # The service's other questions: fees, places.
        *(example(f"อื่น {n}", direction(3 + n % 3, 10 + n), service="passport", topic="fee")
          for n in range(12)),
    ]
    return TrainingData(examples)


def trained(tmp_path: Path, **config: Any) -> FaqMatcher:
    storage = LocalModelStorage(tmp_path)
    component = FaqMatcher.create({**FaqMatcher.get_default_config(), **config}, storage, Resource("faq"),
                                  ExecutionContext(graph_schema=None, model_id="test"))  # type: ignore[arg-type]  # fmt: skip
    component.train(training_data())
    return component


def question(vector: np.ndarray | None, *, topic: str = "steps", service: str = "passport",
             ambiguous: bool = False, text: str = "ต้องจองคิวไหม") -> Message:  # fmt: skip
    message = Message(data={TEXT: text})
    message.set(INTENT, {"name": "ask_service", "confidence": 0.9})
    message.set("service", {"name": service, "confidence": 0.8, "ambiguous": ambiguous, "ranking": []})
    ranking = [{"name": topic, "confidence": 0.7}, {"name": "fee", "confidence": 0.2}]
    message.set("topic", {"name": topic, "confidence": 0.7, "ranking": ranking})
    if vector is not None:
        message.add_features(Features(vector[np.newaxis, :], "sentence", TEXT, "E5Featurizer"))
    return message


def faq_of(component: FaqMatcher, message: Message) -> dict[str, Any] | None:
    component.process([message])
    return message.get("faq")


def test_an_entry_scores_by_its_nearest_text_and_needs_a_lead() -> None:
    ranked = ranked_entries(np.array([0.2, 0.9, 0.5, 0.6]), ["a", "a", "b", "b"])
    assert ranked == [("a", 0.9), ("b", 0.6)]
    assert decide(ranked, threshold=0.8, margin=0.2) == ("a", 0.9)
    assert decide(ranked, threshold=0.95, margin=0.0) is None  # not sure enough
    assert decide(ranked, threshold=0.8, margin=0.4) is None  # too close to the runner-up
    assert decide([], threshold=0.0, margin=0.0) is None


def test_the_topic_admits_an_entry_when_it_is_the_top_or_likely_enough() -> None:
    ranking = [{"name": "steps", "confidence": 0.6}, {"name": "fee", "confidence": 0.35}]
    topic = {"name": "steps", "ranking": ranking}
    assert topic_accepts(topic, "steps", 0.3) and topic_accepts(topic, "fee", 0.3)
    assert not topic_accepts(topic, "fee", 0.4) and not topic_accepts(topic, "documents", 0.0)
    assert not topic_accepts(None, "steps", 0.0)


def test_centring_takes_the_services_part_away() -> None:
    a, b = direction(1), direction(2)
    assert float(a @ b) > 0.8  # alike, as e5 makes any two questions about a service
    mean = np.mean([direction(i, n) for i in (1, 2, 3, 4) for n in range(3)], axis=0)
    ca, cb = centred(np.stack([a, b]), mean)
    assert float(ca @ cb) < 0.2 and np.isclose(np.linalg.norm(ca), 1.0)


def test_a_question_gets_the_entry_it_asks(tmp_path: Path) -> None:
    matcher = trained(tmp_path, threshold=0.6)
    found = faq_of(matcher, question(direction(1, 99)))
    assert found is not None and found["id"] == "passport-queue" and 0.6 <= found["confidence"] <= 1.0
    assert faq_of(matcher, question(direction(2, 99), topic="documents"))["id"] == "passport-minor"


@pytest.mark.parametrize(
    "change",
    [
        {"topic": "fee"},  # the entry is about steps, the question about the fee
        {"service": "id-card"},  # the entries of another service
        {"service": "none"},  # a follow-up with no service discussed
        {"ambiguous": True},  # the bot will ask back which service
    ],
)
def test_no_entry_for_another_topic_service_or_an_unsure_one(tmp_path: Path, change: dict[str, Any]) -> None:
    assert faq_of(trained(tmp_path, threshold=0.6), question(direction(1, 99), **change)) is None


def test_no_entry_below_the_threshold_or_for_another_question(tmp_path: Path) -> None:
    assert faq_of(trained(tmp_path, threshold=0.99), question(direction(1, 99))) is None
    assert faq_of(trained(tmp_path, threshold=0.6), question(direction(4, 99), topic="fee")) is None
    other = Message(data={TEXT: "สวัสดี"})
    other.set(INTENT, {"name": "greet", "confidence": 0.99})
    assert faq_of(trained(tmp_path, threshold=0.0), other) is None


def test_a_message_without_e5_features_is_embedded_only_when_its_letters_are_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []

    def embed(text: str) -> np.ndarray:
        asked.append(text)
        return direction(1, 99)

    monkeypatch.setattr(faq_matcher, "embed_one", embed)
    matcher = trained(tmp_path, threshold=0.6, prefilter=0.3)
    assert faq_of(matcher, question(None, text="ค่าธรรมเนียมเท่าไหร่")) is None
    assert asked == []  # unlike every FAQ text: no e5 call
    assert faq_of(matcher, question(None, text="จองคิว 7", topic="fee")) is None
    assert asked == []  # no entry of the passport is about its fee: no e5 call either
    assert faq_of(matcher, question(None, text="จองคิว 7", topic="documents")) is None
    assert asked == []  # alike only to the texts of an entry its topic does not admit
    assert faq_of(matcher, question(None, text="จองคิว 7"))["id"] == "passport-queue"
    assert asked == ["จองคิว 7"]


def test_the_model_keeps_the_entries(tmp_path: Path) -> None:
    matcher = trained(tmp_path, threshold=0.6)
    config = {**FaqMatcher.get_default_config(), "threshold": 0.6}
    context = ExecutionContext(graph_schema=None, model_id="test")  # type: ignore[arg-type]
    loaded = FaqMatcher.load(config, LocalModelStorage(tmp_path), Resource("faq"), context)
    assert {r["faq"] for r in loaded.rows} == {"passport-queue", "passport-minor"}
    np.testing.assert_allclose(loaded.centroids["passport"], matcher.centroids["passport"], rtol=1e-6)
    assert faq_of(loaded, question(direction(1, 99)))["id"] == "passport-queue"


def test_without_e5_features_it_trains_loads_and_matches_nothing(tmp_path: Path) -> None:
    # A pipeline without E5Featurizer (bench.cv --no-dense): an empty index, not a failure.
    plain = [Message(data={TEXT: m.get(TEXT), INTENT: "ask_service", "metadata": m.get("metadata")})
             for m in training_data().training_examples]  # fmt: skip
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(graph_schema=None, model_id="test")  # type: ignore[arg-type]
    component = FaqMatcher.create(FaqMatcher.get_default_config(), storage, Resource("faq"), context)
    component.train(TrainingData(plain))
    loaded = FaqMatcher.load(FaqMatcher.get_default_config(), storage, Resource("faq"), context)
    assert loaded.rows == [] and faq_of(loaded, question(None)) is None
