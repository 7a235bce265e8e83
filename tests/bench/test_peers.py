"""The peers of `make bench-nlu` (bench/peers.py): e5-knn's voting and choice, community's joint intents."""

from __future__ import annotations

import numpy as np
import pytest

from bench.peers import (
    KnnPeer,
    Settings,
    answer,
    choose,
    confidently_wrong,
    falls_back,
    joint_intent,
    neighbours,
    split_joint,
    vote,
)


def unit(*rows: tuple[float, float]) -> np.ndarray:
    vectors = np.array(rows, dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


# -- answering or asking back --------------------------------------------------------------------
def test_fallback_as_rasa_fallback_classifier() -> None:
    assert not falls_back([("greet", 0.8), ("bye", 0.1)], 0.3, 0.1)
    assert falls_back([("greet", 0.25), ("bye", 0.1)], 0.3, 0.1)  # below the threshold
    assert falls_back([("greet", 0.45), ("bye", 0.4)], 0.3, 0.1)  # too close to the next
    assert not falls_back([("greet", 0.45)], 0.3, 0.1)
    assert falls_back([], 0.3, 0.1)


def test_answer_and_confidently_wrong() -> None:
    assert answer([("passport", 0.9), ("none", 0.1)], 0.3, 0.1, label="service") == "passport"
    # `none` names no service: nothing is answered, so nothing can be wrong.
    assert answer([("none", 0.9), ("passport", 0.1)], 0.3, 0.1, label="service") is None
    assert answer([("none", 0.9)], 0.3, 0.1, label="intent") == "none"
    truths = ["a", "b", "c", "d"]
    # Right, asked back, wrong, wrong.
    assert confidently_wrong(truths, ["a", None, "a", "a"]) == pytest.approx(0.5)
    assert confidently_wrong([], []) == 0.0


# -- community: the service inside the intent ------------------------------------------------------
def test_joint_intent_names_the_service_of_a_question_about_one() -> None:
    assert joint_intent("ask_service", "passport") == "ask_service+passport"
    assert joint_intent("ask_service", "none") == "ask_service+none"
    assert joint_intent("greet", None) == "greet"
    assert joint_intent("ask_service", None) == "ask_service"


def test_split_joint_gives_intent_and_service() -> None:
    raw = [("ask_service+passport", 0.6), ("ask_service+id-card", 0.2), ("greet", 0.1), ("goodbye", 0.05)]
    out = split_joint(raw, 0.3, 0.1)
    # The intent keeps its best joint confidence; the services their own, in order.
    assert out["intent"]["ranking"] == [("ask_service", 0.6), ("greet", 0.1), ("goodbye", 0.05)]
    assert out["intent"]["answer"] == "ask_service"
    assert out["service"]["ranking"] == [("passport", 0.6), ("id-card", 0.2)]
    assert out["service"]["answer"] == "passport"


def test_split_joint_asks_back_as_the_deployed_bot_would() -> None:
    # Two services close together: the FallbackClassifier sees the joint intents and asks back.
    close = split_joint([("ask_service+passport", 0.45), ("ask_service+id-card", 0.4)], 0.3, 0.1)
    assert close["intent"]["answer"] is None and close["service"]["answer"] is None
    assert close["service"]["ranking"][0] == ("passport", 0.45)
    # Another intent on top: the service is ranked (scored like the project's) but not acted on.
    other = split_joint([("greet", 0.7), ("ask_service+passport", 0.2)], 0.3, 0.1)
    assert other["intent"]["answer"] == "greet"
    assert other["service"]["ranking"] == [("passport", 0.2)] and other["service"]["answer"] is None
    # A follow-up (`none`) names no service.
    follow_up = split_joint([("ask_service+none", 0.9), ("greet", 0.05)], 0.3, 0.1)
    assert follow_up["intent"]["answer"] == "ask_service" and follow_up["service"]["answer"] is None
    assert split_joint([], 0.3, 0.1)["intent"] == {"ranking": [], "answer": None}


# -- e5-knn ----------------------------------------------------------------------------------------
def test_neighbours_are_nearest_first_and_skip_the_excluded() -> None:
    sims = np.array([[0.1, 0.9, 0.5], [0.8, 0.2, 0.3]])
    columns, near = neighbours(sims, 2)
    assert columns.tolist() == [[1, 2], [0, 2]]
    assert near.tolist() == [[0.9, 0.5], [0.8, 0.3]]
    columns, near = neighbours(sims, 2, np.array([[False, True, False], [True, True, True]]))
    assert columns[0].tolist() == [2, 0]
    assert np.isneginf(near[1]).all()


def test_vote_counts_neighbours_and_breaks_ties_by_the_nearer() -> None:
    labels = ["a", "b", "b", "c"]
    sims = np.array([[0.95, 0.9, 0.85, 0.1]])
    # One vote each: b has two of the three nearest.
    assert vote(sims, labels, Settings(3, None)) == [[("b", 0.6667), ("a", 0.3333)]]
    # The nearest alone.
    assert vote(sims, labels, Settings(1, None)) == [[("a", 1.0)]]
    # A sharp temperature lets the nearest outweigh the majority.
    sharp = vote(sims, labels, Settings(3, 0.01))[0]
    assert sharp[0][0] == "a" and sharp[0][1] > 0.5
    assert sum(c for _, c in sharp) == pytest.approx(1.0, abs=1e-3)
    # A tie (one vote each) goes to the label of the nearer neighbour, whatever its name.
    assert vote(np.array([[0.2, 0.9]]), ["a", "z"], Settings(2, None))[0][0] == ("z", 0.5)
    # Nothing left to vote: no ranking.
    assert vote(sims, labels, Settings(2, None), np.ones_like(sims, dtype=bool)) == [[]]


def test_choose_leaves_out_the_whole_group_of_an_example() -> None:
    # Two copies of one text (labelled a), an example of b close to them, and one far away.
    vectors = unit((1, 0), (1, 0), (0.9, 0.44), (0, 1))
    labels = ["a", "a", "b", "b"]
    sims = vectors @ vectors.T
    # Each copy is tested without its twin, as a fold never splits a group: its nearest is
    # then the b; the b's nearest is a copy (a); the far b's nearest is the b.
    settings, accuracy = choose(sims, labels, ["x", "x", "y", "z"], k_choices=(1,), temperatures=(None,))
    assert settings == Settings(1, None)
    assert accuracy == pytest.approx(0.25)
    # Were the copies apart, each would find its twin: what the folds must not allow.
    _, apart = choose(sims, labels, ["x1", "x2", "y", "z"], k_choices=(1,), temperatures=(None,))
    assert apart == pytest.approx(0.75)


def test_choose_prefers_more_neighbours_when_the_nearest_is_noisy() -> None:
    rng = np.random.default_rng(0)
    centres = {"a": np.array([1.0, 0.0, 0.0]), "b": np.array([0.0, 1.0, 0.0])}
    rows, labels = [], []
    for label, centre in centres.items():
        for _ in range(30):
            rows.append(centre + rng.normal(0, 0.35, 3))
            labels.append(label)
    # Mislabel a few: a single neighbour copies the noise, a vote of many outvotes it.
    for i in (0, 5, 10, 35, 40, 45):
        labels[i] = "b" if labels[i] == "a" else "a"
    vectors = np.array(rows) / np.linalg.norm(rows, axis=1, keepdims=True)
    groups = [str(i) for i in range(len(rows))]
    settings, accuracy = choose(vectors @ vectors.T, labels, groups, k_choices=(1, 10), temperatures=(None,))
    assert settings.k == 10
    _, one_only = choose(vectors @ vectors.T, labels, groups, k_choices=(1,), temperatures=(None,))
    assert accuracy > one_only


def test_knn_peer_ranks_new_vectors() -> None:
    vectors = unit((1, 0), (0.9, 0.2), (0, 1), (0.2, 0.9))
    peer = KnnPeer(vectors, ["a", "a", "b", "b"], ["1", "2", "3", "4"])
    assert peer.settings.k in (1, 3, 5, 10, 20, 40) and peer.loo_accuracy == pytest.approx(1.0)
    ranked = peer.rank(unit((0.95, 0.1), (0.1, 0.95)))
    assert [r[0][0] for r in ranked] == ["a", "b"]
    fixed = KnnPeer(vectors, ["a", "a", "b", "b"], ["1", "2", "3", "4"], settings=Settings(4, None))
    assert fixed.loo_accuracy is None
    assert fixed.rank(unit((1, 0)))[0] == [("a", 0.5), ("b", 0.5)]
