"""Metrics on hand-computed examples."""

from __future__ import annotations

import math

import polars as pl
import pytest

from models.recs.metrics import score_lists, user_scores


def test_one_list_by_hand():
    ranked = ["a", "b", "c", "d"] + [f"x{k}" for k in range(20)]
    s = user_scores(ranked, {"b", "d", "z"})
    assert s["precision@10"] == pytest.approx(2 / 10)
    assert s["recall@20"] == pytest.approx(2 / 3)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert s["ndcg@10"] == pytest.approx(dcg / idcg)


def test_a_perfect_list_has_ndcg_one_and_short_lists_are_not_rewarded():
    assert user_scores(["a", "b"], {"a", "b"})["ndcg@10"] == pytest.approx(1.0)
    assert user_scores(["a", "b"], {"a", "b"})["precision@10"] == pytest.approx(0.2)
    # a repeated item counts once
    assert user_scores(["a", "a", "a"], {"a", "b"})["recall@20"] == pytest.approx(0.5)
    assert user_scores([], {"a"}) == {"precision@10": 0.0, "recall@20": 0.0, "ndcg@10": 0.0}


def test_hit_beyond_ten_counts_for_recall_only():
    ranked = [f"x{k}" for k in range(10)] + ["a"]
    s = user_scores(ranked, {"a"})
    assert s["precision@10"] == 0.0 and s["ndcg@10"] == 0.0
    assert s["recall@20"] == 1.0


def test_averages_over_every_test_user_and_coverage():
    recs = pl.DataFrame({"user": ["u1", "u1", "u2"], "item": ["a", "b", "a"], "rank": [1, 2, 1]})
    truth = pl.DataFrame({"user": ["u1", "u2", "u3"], "item": ["a", "c", "a"]})
    out = score_lists(recs, truth, n_catalogue=4)
    # u1: 1 hit; u2: none; u3: no list at all (scores 0)
    assert out["precision@10"] == pytest.approx((0.1 + 0 + 0) / 3)
    assert out["recall@20"] == pytest.approx((1 + 0 + 0) / 3)
    assert out["ndcg@10"] == pytest.approx((1 + 0 + 0) / 3)
    assert out["coverage@10"] == pytest.approx(2 / 4)
