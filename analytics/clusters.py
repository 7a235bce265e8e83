"""Unanswered questions grouped by meaning: e5 vectors, agglomerative clustering on cosine distance.

Average linkage with a distance threshold: two questions whose vectors are closer than the
threshold already make a group, and a question joins a group when it is close to its members
on average. The threshold was chosen on a labelled set of Thai question pairs written for it
(analytics/threshold.py, `python -m analytics.threshold`), not on any evaluation data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.cluster import AgglomerativeClustering

# Cosine distance (1 - cosine similarity of the e5 vectors) below which two questions are about
# the same thing: on the labelled pairs of analytics/threshold.py, paraphrases lie at 0.014-0.079
# and different needs at 0.087-0.182, so the middle of that gap sorts all 62 pairs right.
DISTANCE_THRESHOLD = 0.083
MAX_EXAMPLES = 5


@dataclass(frozen=True)
class Cluster:
    label: str  # the most central question of the group
    count: int  # how many times its questions were asked
    examples: list[str]  # distinct questions, most central first

    def to_dict(self) -> dict[str, object]:
        return {"label": self.label, "count": self.count, "examples": self.examples}


def labels_for(vectors: np.ndarray, threshold: float = DISTANCE_THRESHOLD) -> np.ndarray:
    """A group number per row of unit vectors."""
    if len(vectors) < 2:
        return np.zeros(len(vectors), dtype=int)
    model = AgglomerativeClustering(
        n_clusters=None, metric="cosine", linkage="average", distance_threshold=threshold
    )
    return model.fit_predict(vectors)


def cluster(
    texts: list[str], counts: list[int], vectors: np.ndarray, threshold: float = DISTANCE_THRESHOLD
) -> list[Cluster]:
    """Groups of distinct `texts` (asked `counts` times each), largest first; a question alike to
    no other is a group of its own."""
    if not texts:
        return []
    labels = labels_for(vectors, threshold)
    weights = np.asarray(counts, dtype=float)
    clusters = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        block = vectors[members]
        # Centrality: the similarity to the group's questions, each as often as it was asked.
        centrality = (block @ block.T) @ weights[members]
        order = members[np.argsort(-centrality, kind="stable")]
        examples = [texts[i] for i in order]
        clusters.append(Cluster(examples[0], int(weights[members].sum()), examples[:MAX_EXAMPLES]))
    clusters.sort(key=lambda c: (-c.count, c.label))
    return clusters
