"""Top-k metrics of ranked recommendation lists against the items each user touched in the
test window, with binary relevance (an item is relevant once, however often it was bought).

    precision@k = |top-k ∩ T| / k            (k, not len(list): a short list is not rewarded)
    recall@k    = |top-k ∩ T| / |T|
    NDCG@k      = sum_{r<=k, item_r in T} 1/log2(r+1)  /  sum_{r<=min(k,|T|)} 1/log2(r+1)
    coverage@k  = distinct items in any top-k list / items in the catalogue

Each user's figure is averaged over every evaluated user (a user with no recommendations
scores 0). Items the user already had before the cutoff count when they come back: a repeat
purchase is a hit, as it is for a retailer.
"""

from __future__ import annotations

import math

import polars as pl

METRICS = ("precision@10", "recall@20", "ndcg@10", "coverage@10")


def user_scores(ranked: list, relevant: set, k_precision=10, k_recall=20, k_ndcg=10) -> dict:
    """The metrics of one ranked list (duplicates after their first position are ignored)."""
    seen: set = set()
    ranked_unique = []
    for item in ranked:
        if item not in seen:
            seen.add(item)
            ranked_unique.append(item)
    if not relevant:
        raise ValueError("a user without relevant items cannot be scored")
    hits_p = sum(1 for item in ranked_unique[:k_precision] if item in relevant)
    hits_r = sum(1 for item in ranked_unique[:k_recall] if item in relevant)
    dcg = sum(
        1.0 / math.log2(rank + 2)
        for rank, item in enumerate(ranked_unique[:k_ndcg])
        if item in relevant
    )
    idcg = sum(1.0 / math.log2(rank + 2) for rank in range(min(k_ndcg, len(relevant))))
    return {
        "precision@10": hits_p / k_precision,
        "recall@20": hits_r / len(relevant),
        "ndcg@10": dcg / idcg,
    }


def score_lists(recs: pl.DataFrame, truth: pl.DataFrame, n_catalogue: int) -> dict[str, float]:
    """Metrics of ``recs`` (user, item, rank) against ``truth`` (user, item), averaged over the
    users of ``truth``; coverage over ``n_catalogue`` items."""
    relevant = {
        u: set(items)
        for u, items in truth.group_by("user").agg(pl.col("item").unique()).iter_rows()
    }
    lists = {
        u: items
        for u, items in recs.sort("user", "rank")
        .group_by("user", maintain_order=True)
        .agg("item")
        .iter_rows()
    }
    totals = {"precision@10": 0.0, "recall@20": 0.0, "ndcg@10": 0.0}
    for user, rel in relevant.items():
        for name, value in user_scores(lists.get(user, []), rel).items():
            totals[name] += value
    n = len(relevant)
    out = {name: (value / n if n else 0.0) for name, value in totals.items()}
    top10 = recs.filter(pl.col("rank") <= 10)["item"].n_unique()
    out["coverage@10"] = top10 / n_catalogue if n_catalogue else 0.0
    return out
