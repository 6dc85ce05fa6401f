"""Pairwise precision/recall by pair counting equals a brute-force count over all pairs."""

from __future__ import annotations

import itertools

import numpy as np
import polars as pl
import pytest

from models.identity.metrics import pairwise_scores


def _brute_force(clusters: list, truth: list) -> tuple[int, int, int]:
    tp = pred = true = 0
    for i, j in itertools.combinations(range(len(clusters)), 2):
        if truth[i] is None or truth[j] is None:
            continue
        same_c = clusters[i] is not None and clusters[i] == clusters[j]
        same_t = truth[i] == truth[j]
        pred += same_c
        true += same_t
        tp += same_c and same_t
    return tp, pred, true


@pytest.mark.parametrize("seed", range(6))
def test_pair_counting_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = 120
    clusters = [None if rng.random() < 0.1 else f"c{rng.integers(25)}" for _ in range(n)]
    truth = [None if rng.random() < 0.05 else int(rng.integers(30)) for _ in range(n)]
    scores = pairwise_scores(pl.DataFrame({"cluster_id": clusters, "truth": truth}))
    tp, pred, true = _brute_force(clusters, truth)
    assert (scores.true_positives, scores.predicted_pairs, scores.true_pairs) == (tp, pred, true)
    assert scores.precision == pytest.approx(tp / pred)
    assert scores.recall == pytest.approx(tp / true)
    assert scores.f1 == pytest.approx(2 * tp / (pred + true))


def test_a_small_case_by_hand():
    frame = pl.DataFrame(
        {"cluster_id": ["a", "a", "a", "b", "b", None], "truth": [1, 1, 2, 2, 2, 2]}
    )
    s = pairwise_scores(frame)
    # predicted pairs: a:3, b:1 -> 4; true pairs: 1:1, 2:6 -> 7; correct: (0,1), (3,4) -> 2
    assert (s.true_positives, s.predicted_pairs, s.true_pairs) == (2, 4, 7)
    assert s.clusters == 3 and s.persons == 2 and s.exact_clusters == 0


def test_perfect_and_empty():
    frame = pl.DataFrame({"cluster_id": ["x", "x", "y"], "truth": [1, 1, 2]})
    s = pairwise_scores(frame)
    assert s.precision == s.recall == s.f1 == 1.0 and s.exact_clusters == 2
    empty = pairwise_scores(pl.DataFrame({"cluster_id": ["x"], "truth": [None]}))
    assert empty.records == 0
