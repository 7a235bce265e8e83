"""The clustering's threshold against the labelled pairs it was chosen on (analytics/threshold.py)."""

from __future__ import annotations

import numpy as np

from analytics.clusters import DISTANCE_THRESHOLD, cluster
from analytics.embed import embed
from analytics.threshold import DIFFERENT, SAME, best_threshold, distances


def test_the_threshold_sorts_every_labelled_pair_and_is_the_best_one() -> None:
    same, different = distances(SAME), distances(DIFFERENT)
    assert np.all(same < DISTANCE_THRESHOLD) and np.all(different >= DISTANCE_THRESHOLD)
    threshold, right = best_threshold(same, different)
    assert right == len(SAME) + len(DIFFERENT)
    assert abs(threshold - DISTANCE_THRESHOLD) < 0.002


def test_two_questions_about_the_same_thing_already_make_a_group() -> None:
    texts = ["ต่ออายุวีซ่าท่องเที่ยวได้ไหม", "วีซ่าท่องเที่ยวหมดอายุ ขอต่อได้หรือเปล่า", "ราคาทองวันนี้เท่าไหร่"]
    groups = cluster(texts, [1, 3, 1], embed(texts))
    assert [(g.count, sorted(g.examples)) for g in groups] == [
        (4, sorted(texts[:2])), (1, [texts[2]]),
    ]  # fmt: skip
    # The label is the most central question, each counted as often as it was asked.
    assert groups[0].label == texts[1]


def test_nothing_to_group() -> None:
    assert cluster([], [], np.zeros((0, 384), dtype=np.float32)) == []
    one = cluster(["สมัครงานที่ไหนดี"], [2], embed(["สมัครงานที่ไหนดี"]))
    assert [(g.label, g.count) for g in one] == [("สมัครงานที่ไหนดี", 2)]
