"""Pairwise precision, recall and F1 of same-person decisions, by pair counting.

Two records are a predicted pair when they share a cluster and a true pair when they share a
truth label. With n_ij records in cluster i and truth j, a_i = sum_j n_ij, b_j = sum_i n_ij:

    true positives  = sum_ij C(n_ij, 2)
    predicted pairs = sum_i C(a_i, 2)
    true pairs      = sum_j C(b_j, 2)

so precision = TP / predicted pairs and recall = TP / true pairs need one group-by, never a
list of pairs (a 10 000-record cluster has 50 million pairs). A record with no cluster
(null) is a cluster of its own; records without a truth label are left out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import polars as pl


@dataclass(frozen=True)
class PairScores:
    records: int
    clusters: int
    persons: int
    true_positives: int
    predicted_pairs: int
    true_pairs: int
    exact_clusters: int  # predicted clusters that are exactly one person's records

    @property
    def precision(self) -> float:
        return self.true_positives / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict:
        return {
            **asdict(self),
            "precision": round(self.precision, 6),
            "recall": round(self.recall, 6),
            "f1": round(self.f1, 6),
        }


def _pairs(col: str) -> pl.Expr:
    n = pl.col(col).cast(pl.Int64)
    return (n * (n - 1) // 2).sum()


def pairwise_scores(
    frame: pl.DataFrame, cluster: str = "cluster_id", truth: str = "truth"
) -> PairScores:
    """Pairwise scores of the ``cluster`` column against the ``truth`` column of ``frame``."""
    df = frame.select(pl.col(cluster).alias("c"), pl.col(truth).alias("t")).filter(
        pl.col("t").is_not_null()
    )
    df = df.with_row_index("_row").with_columns(
        pl.when(pl.col("c").is_null())
        .then(pl.format("__single_{}", pl.col("_row")))
        .otherwise(pl.col("c").cast(pl.String))
        .alias("c"),
        pl.col("t").cast(pl.String),
    )
    return cell_scores(df.group_by("c", "t").len("n"))


def cell_scores(cells: pl.DataFrame) -> PairScores:
    """Pairwise scores from the cells: ``n`` records of cluster ``c`` and truth ``t``, one row
    per (c, t) (a record with no cluster a cluster of its own, records without a truth left
    out), as ``pairwise_scores`` counts them (``models.identity.evaluate`` counts them in
    DuckDB)."""
    if cells.is_empty():
        return PairScores(0, 0, 0, 0, 0, 0, 0)
    per_cluster = cells.group_by("c").agg(pl.col("n").sum(), pl.len().alias("truths"))
    per_truth = cells.group_by("t").agg(pl.col("n").sum(), pl.len().alias("clusters"))
    exact = (
        per_cluster.filter(pl.col("truths") == 1)
        .join(cells.select("c", "t"), on="c")
        .join(per_truth.filter(pl.col("clusters") == 1).select("t"), on="t")
    )
    return PairScores(
        records=int(cells["n"].sum()),
        clusters=per_cluster.height,
        persons=per_truth.height,
        true_positives=int(cells.select(_pairs("n")).item()),
        predicted_pairs=int(per_cluster.select(_pairs("n")).item()),
        true_pairs=int(per_truth.select(_pairs("n")).item()),
        exact_clusters=exact.height,
    )
