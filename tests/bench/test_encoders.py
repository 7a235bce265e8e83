"""bench/encoders.py: the side-by-side vectors and the grouped choice of the logistic regression's C."""

from __future__ import annotations

import numpy as np
import pytest

from bench.encoders import combine, logreg


def test_combine_weighs_each_encoder_equally() -> None:
    small = np.array([[3.0, 4.0]])
    large = np.array([[0.0, 0.0, 10.0]])
    both = combine([small, large])
    assert both.shape == (1, 5)
    assert np.linalg.norm(both) == pytest.approx(1.0)
    # Each part carries half of the squared length, whatever its own scale.
    assert np.linalg.norm(both[0, :2]) == pytest.approx(np.linalg.norm(both[0, 2:]))


def test_logreg_learns_and_picks_c_from_its_choices() -> None:
    rng = np.random.default_rng(1)
    vectors = np.vstack([rng.normal(1, 0.3, (20, 4)), rng.normal(-1, 0.3, (20, 4))])
    labels = ["a"] * 20 + ["b"] * 20
    groups = [str(i // 2) for i in range(40)]
    model, c = logreg(vectors, labels, groups, seed=0)
    assert c in (10.0, 100.0, 1000.0)
    assert list(model.predict(np.array([[1.0] * 4, [-1.0] * 4]))) == ["a", "b"]
