"""The time split and the absence of leakage: nothing at or after the cutoff reaches a model."""

from __future__ import annotations

import polars as pl
import pytest

from models.recs.evaluate import default_cutoff, evaluate, time_split
from tests.models.recs.synthetic import synthetic_interactions


def test_split_boundaries_and_default_cutoff():
    frame = pl.DataFrame(
        {"user": ["a"] * 6, "item": list("pqrstu"), "ts": [0.0, 20, 40, 60, 80, 100], "weight": 1.0}
    )
    assert default_cutoff(frame) == pytest.approx(80.0)
    s = time_split(frame)
    assert s.train["ts"].max() < 80 <= s.test["ts"].min()
    assert s.train.height + s.test.height == frame.height
    h = time_split(frame, cutoff=40, horizon_days=20)
    assert h.test["ts"].to_list() == [40.0, 60.0]
    with pytest.raises(ValueError, match="before the cutoff"):
        time_split(frame, cutoff=-1)


MODELS = ("zhongtai", "popularity", "trending", "buy_again", "implicit_itemknn", "implicit_als")


def test_changing_the_test_rows_changes_no_recommendation():
    """Replace every item after the cutoff by an item never seen before: the test users stay
    the same, so every model must give exactly the same lists, and none may contain an item
    that exists only after the cutoff."""
    frame = synthetic_interactions(users=150, items=60, days=90, seed=4)
    cutoff = default_cutoff(frame)
    leaked = frame.with_columns(
        pl.when(pl.col("ts") >= cutoff)
        .then(pl.lit("leak_") + pl.col("item"))
        .otherwise(pl.col("item"))
        .alias("item")
    )
    # an item attribute (category) for every item, the leaked ones too: the model may use
    # the catalogue, never what was bought after the cutoff
    categories = {
        i: f"c{int(i.removeprefix('leak_')[1:]) % 5}"
        for i in set(frame["item"]) | set(leaked["item"])
    }
    a = evaluate(frame, models=MODELS, categories=categories).recommendations
    b = evaluate(leaked, models=MODELS, categories=categories).recommendations
    assert b.filter(pl.col("item").str.starts_with("leak_")).height == 0
    key = ["model", "user", "rank"]
    deterministic = a.filter(pl.col("model") != "implicit_als").sort(key)
    assert deterministic.equals(b.filter(pl.col("model") != "implicit_als").sort(key))
    assert set(a["user"].unique()) == set(b["user"].unique())
