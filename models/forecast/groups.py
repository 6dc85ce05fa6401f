"""SKU groups: the partitions of the forecast's predict (``orchestration.defs.forecast``).

A SKU's group is a fixed number of hash buckets of its id: ``g00`` .. ``gNN``, bucket
``blake2b(sku) mod n``. Any brand's catalogue gets groups without knowing its categories; the
buckets are balanced (a hash spreads ids evenly, where categories are as uneven as the brand
makes them); a SKU's group never changes when others are added or dropped (only ``n`` moves
SKUs, and it is a setting); and the set of partitions is fixed, so Dagster's partitions are
static (no dynamic partitions to add as the catalogue changes). Every location of a SKU is in
its group: one partition predicts whole SKUs."""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl

MAX_GROUPS = 100


def group_keys(n: int) -> list[str]:
    """The partition keys of ``n`` groups: ``g00`` .. ``g{n-1:02d}``."""
    if not 1 <= n <= MAX_GROUPS:
        raise ValueError(f"the number of SKU groups must be 1..{MAX_GROUPS}, not {n}")
    return [f"g{i:02d}" for i in range(n)]


def sku_group(sku: str, n: int) -> str:
    """The group of one SKU id among ``n`` (stable across runs, machines and versions)."""
    digest = hashlib.blake2b(str(sku).encode("utf-8"), digest_size=8).digest()
    return f"g{int.from_bytes(digest, 'big') % n:02d}"


def sku_groups(skus: pl.Series, n: int) -> pl.Series:
    """The group of every SKU id of ``skus`` (hashing each distinct id once)."""
    distinct = skus.unique()
    lookup = dict(zip(distinct, (sku_group(s, n) for s in distinct), strict=True))
    return skus.replace_strict(lookup, return_dtype=pl.String).alias("sku_group")


def series_in_group(ids: pl.Series, group: str, n: int) -> np.ndarray:
    """A boolean mask over panel series ids ``sku|location``: those whose SKU is in ``group``."""
    group_keys(n)  # a bad n fails here, naming the range
    skus = ids.str.split_exact("|", 1).struct.field("field_0")
    return (sku_groups(skus, n) == group).to_numpy()
