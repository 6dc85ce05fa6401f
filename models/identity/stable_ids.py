"""Stable customer ids across runs.

Given this run's clusters (identifier -> cluster) and the previous run's map (identifier ->
customer_id), every cluster inherits an id by one deterministic rule:

- each previous id has one *heir*: the cluster now holding most of its identifiers (ties: the
  cluster whose smallest identifier key sorts first);
- a cluster that is the heir of one or more previous ids keeps the **oldest** of them (ids are
  issued in increasing order, so the smallest number is the oldest); the others are merged
  into it (a ``merge`` row);
- a cluster that is nobody's heir gets a new id; where it took identifiers from a previous id,
  that is a ``split`` row (evidence disappeared: an erasure, a rule change, a newly blocked
  identifier), and nothing else moves;
- a previous id none of whose identifiers is left is ``retired``.

New ids are numbered after the largest id ever issued, in the order of each new cluster's
smallest identifier key, so the same data gives the same ids with or without a previous map.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

PREFIX = "C"
WIDTH = 9

CHANGES_SCHEMA = {
    "kind": pl.String,
    "from_customer_id": pl.String,
    "to_customer_id": pl.String,
    "identifiers": pl.Int64,
}


def format_id(number: int) -> str:
    return f"{PREFIX}{number:0{WIDTH}d}"


def id_number(customer_id: str) -> int:
    digits = re.sub(r"\D", "", customer_id or "")
    return int(digits) if digits else 0


@dataclass
class Assignment:
    """``ids``: cluster -> customer_id for every keyed cluster. ``changes``: merge, split and
    retired rows. ``next_number``: the number the next new id would get."""

    ids: pl.DataFrame
    changes: pl.DataFrame
    next_number: int


def assign_ids(
    keys: pl.DataFrame,
    previous: pl.DataFrame | None = None,
    issued_up_to: int = 0,
) -> Assignment:
    """``keys``: (node_key, cluster) of every identifier that anchors an id. ``previous``:
    (node_key, customer_id) of the last run. ``issued_up_to``: the largest id number ever
    issued (ids merged away are never reused)."""
    keys = keys.select(pl.col("node_key").cast(pl.String), pl.col("cluster").cast(pl.Int64))
    first_key = keys.group_by("cluster").agg(pl.col("node_key").min().alias("first_key"))
    if previous is None or previous.is_empty():
        previous = pl.DataFrame(schema={"node_key": pl.String, "customer_id": pl.String})
    previous = previous.select(
        pl.col("node_key").cast(pl.String), pl.col("customer_id").cast(pl.String)
    ).unique("node_key", keep="first")
    top = max(
        [issued_up_to]
        + [id_number(c) for c in previous["customer_id"].unique().drop_nulls().to_list()]
    )
    overlap = (
        keys.join(previous, on="node_key", how="inner")
        .group_by("customer_id", "cluster")
        .len()
        .join(first_key, on="cluster")
    )
    heirs = overlap.sort(["customer_id", "len", "first_key"], descending=[False, True, False])
    heirs = heirs.group_by("customer_id", maintain_order=True).first()
    inherited = (
        heirs.with_columns(
            pl.col("customer_id").map_elements(id_number, return_dtype=pl.Int64).alias("number")
        )
        .sort(["cluster", "number"])
        .group_by("cluster", maintain_order=True)
        .agg(pl.col("customer_id"), pl.col("len"))
    )
    kept = inherited.select("cluster", pl.col("customer_id").list.first().alias("customer_id"))
    merges = (
        inherited.filter(pl.col("customer_id").list.len() > 1)
        .select(
            pl.col("customer_id").list.first().alias("to_customer_id"),
            pl.col("customer_id").list.slice(1).alias("from_customer_id"),
            pl.col("len").list.slice(1).alias("identifiers"),
        )
        .explode("from_customer_id", "identifiers", empty_as_null=True)
    )
    fresh = (
        first_key.join(kept, on="cluster", how="anti")
        .sort("first_key")
        .with_row_index("i")
        .select(
            "cluster",
            pl.format(
                "{}{}",
                pl.lit(PREFIX),
                (pl.col("i").cast(pl.Int64) + top + 1).cast(pl.String).str.zfill(WIDTH),
            ).alias("customer_id"),
        )
    )
    ids = pl.concat([kept, fresh]).sort("cluster")
    splits = (
        overlap.join(heirs.select("customer_id", pl.col("cluster").alias("heir")), on="customer_id")
        .filter(pl.col("cluster") != pl.col("heir"))
        .join(ids.rename({"customer_id": "to_customer_id"}), on="cluster")
        .select(
            pl.col("customer_id").alias("from_customer_id"),
            "to_customer_id",
            pl.col("len").alias("identifiers"),
        )
    )
    retired = (
        previous.select("customer_id")
        .unique()
        .join(heirs.select("customer_id"), on="customer_id", how="anti")
        .join(previous.group_by("customer_id").len(), on="customer_id", how="left")
    )
    changes = pl.concat(
        [
            merges.select(
                pl.lit("merge").alias("kind"),
                "from_customer_id",
                "to_customer_id",
                pl.col("identifiers").cast(pl.Int64),
            ),
            splits.select(
                pl.lit("split").alias("kind"),
                "from_customer_id",
                "to_customer_id",
                pl.col("identifiers").cast(pl.Int64),
            ),
            retired.select(
                pl.lit("retired").alias("kind"),
                pl.col("customer_id").alias("from_customer_id"),
                pl.lit(None, dtype=pl.String).alias("to_customer_id"),
                pl.col("len").cast(pl.Int64).alias("identifiers"),
            ),
        ]
    ).sort(["kind", "from_customer_id", "to_customer_id"])
    return Assignment(ids=ids, changes=changes, next_number=top + fresh.height + 1)
