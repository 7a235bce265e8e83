"""The persistent e5 cache (bot/nlu/embedding_cache.py): found again, per model, whole shards only, merged."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import numpy as np
import pytest

from bot.nlu import embedding_cache
from bot.nlu.embedding_cache import EmbeddingCache


def vectors(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 384)).astype(np.float32)


def test_stored_vectors_are_found_by_another_instance(tmp_path: Path) -> None:
    texts = ["ทำพาสปอร์ตกี่บาท", "ต่อภาษีรถ", "แจ้งเกิดลูก"]
    first = EmbeddingCache(tmp_path, "model-a")
    assert first.lookup(texts) == [None, None, None]
    first.store(texts, vectors(3))
    found = EmbeddingCache(tmp_path, "model-a").lookup([*texts, "ไม่เคยเห็น"])
    assert found[3] is None
    np.testing.assert_array_equal(np.stack(found[:3]), vectors(3))


def test_another_model_does_not_see_the_vectors(tmp_path: Path) -> None:
    EmbeddingCache(tmp_path, "model-a").store(["ข้อความ"], vectors(1))
    assert EmbeddingCache(tmp_path, "model-b").lookup(["ข้อความ"]) == [None]


def test_a_text_stored_twice_is_written_once(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path, "m")
    cache.store(["ก"], vectors(1))
    cache.store(["ก"], vectors(1, seed=1))
    assert len(list(cache.directory.glob("shard-*.npz"))) == 1


def test_many_shards_are_merged_into_one(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path, "m")
    for n in range(embedding_cache.MAX_SHARDS + 1):
        cache.store([f"text {n}"], vectors(1, seed=n))
    assert len(list(cache.directory.glob("shard-*.npz"))) == 1
    found = EmbeddingCache(tmp_path, "m").lookup([f"text {n}" for n in range(embedding_cache.MAX_SHARDS + 1)])
    assert all(v is not None for v in found)
    np.testing.assert_array_equal(found[2], vectors(1, seed=2)[0])


def _writer(directory: str, worker: int) -> None:
    cache = EmbeddingCache(Path(directory), "shared")
    for n in range(6):
        texts = [f"w{worker}-{n}-{k}" for k in range(20)]
        cache.store(texts, vectors(20, seed=worker * 100 + n))
        # Every reader sees whole shards only, whatever the others are writing or merging.
        assert all(v is None or v.shape == (384,) for v in cache.lookup(texts))


def test_concurrent_writers_and_mergers_lose_nothing(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_writer, args=(str(tmp_path), w)) for w in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(60)
        assert process.exitcode == 0
    found = EmbeddingCache(tmp_path, "shared").lookup(
        [f"w{w}-{n}-{k}" for w in range(4) for n in range(6) for k in range(20)]
    )
    assert sum(v is not None for v in found) == len(found)
    assert not list(EmbeddingCache(tmp_path, "shared").directory.glob(".tmp-*"))


@pytest.mark.parametrize("value", ["off", "OFF", "0"])
def test_the_cache_can_be_turned_off(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(embedding_cache.ENV, value)
    assert EmbeddingCache.from_env("m") is None


def test_the_default_folder_is_the_users_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(embedding_cache.ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert embedding_cache.default_directory() == tmp_path / "thai-eservice" / "e5"


def test_training_embeds_only_the_texts_not_cached(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from bot.nlu.e5_featurizer import E5Featurizer

    monkeypatch.setenv(embedding_cache.ENV, str(tmp_path))
    asked: list[list[str]] = []

    def fake_vectors(self: E5Featurizer, texts: list[str], threads: int) -> np.ndarray:
        asked.append(list(texts))
        return np.stack([np.full(384, float(len(t)), dtype=np.float32) for t in texts])

    monkeypatch.setattr(E5Featurizer, "_vectors", fake_vectors)

    def train(texts: list[str]) -> list[Message]:
        featurizer = E5Featurizer({**E5Featurizer.get_default_config()}, "e5")
        messages = [Message(data={"text": t}) for t in texts]
        featurizer.process_training_data(TrainingData(training_examples=messages))
        return messages

    train(["ทำพาสปอร์ต", "ต่อภาษีรถ"])
    messages = train(["ทำพาสปอร์ต", "ต่อภาษีรถ", "แจ้งเกิด"])
    assert asked == [["ต่อภาษีรถ", "ทำพาสปอร์ต"], ["แจ้งเกิด"]]
    for message in messages:
        _, sentence = message.get_dense_features("text")
        assert sentence is not None and sentence.features[0, 0] == len(message.get("text"))
