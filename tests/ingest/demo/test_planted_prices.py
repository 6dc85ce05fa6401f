"""The planted price conflict of the demo truth: where it is, and that nothing else moves."""

import datetime as dt

import numpy as np
import polars as pl

from ingest.demo.calendar import Calendar
from ingest.demo.catalog import (
    assortment,
    plant_price_conflict,
    price_matrices,
    products_frame,
)


def test_planting_changes_only_the_planted_cells():
    start, days, seed = dt.date(2024, 11, 1), 60, 5
    cal, products = Calendar(start, days), products_frame(start, days, seed)
    before = price_matrices(cal, products, seed)
    after = price_matrices(cal, products, seed)
    truth = plant_price_conflict(cal, products, after, assortment(products, seed), seed)
    assert truth.height == 1
    row = truth.row(0, named=True)
    j = products["sku"].to_list().index(row["sku"])
    t0, t1 = (row["date_from"] - start).days, (row["date_to"] - start).days
    for ch in before:
        for part in ("list", "promo", "lift"):
            assert np.array_equal(before[ch][part], after[ch][part])
        diff = np.argwhere(before[ch]["price"] != after[ch]["price"])
        if ch == row["channel"]:
            assert sorted({int(t) for t, _ in diff}) == list(range(t0, t1 + 1))
            assert {int(s) for _, s in diff} == {j}
        else:
            assert len(diff) == 0
    web = after[row["reference_channel"]]["price"][t0 : t1 + 1, j]
    planted = after[row["channel"]]["price"][t0 : t1 + 1, j]
    assert (planted <= 0.66 * web).all()  # well below the own shop
    assert (after[row["channel"]]["promo"][t0 : t1 + 1, j] == 0).all()  # outside promotions


def test_planted_conflict_is_in_the_prices_file(tiny):
    root, _ = tiny
    truth = pl.read_parquet(root / "truth/price_conflicts.parquet")
    assert truth.height == 1
    row = truth.row(0, named=True)
    prices = pl.concat(
        [
            pl.read_csv(f, infer_schema_length=0)
            for f in sorted((root / "landing/erp/prices").glob("*.csv"))
        ]
    )
    days = [
        (row["date_from"] + dt.timedelta(days=k)).isoformat()
        for k in range((row["date_to"] - row["date_from"]).days + 1)
    ]
    got = prices.filter(pl.col("sku") == row["sku"], pl.col("date").is_in(days))
    own = got.filter(pl.col("channel") == row["channel"])
    ref = got.filter(pl.col("channel") == row["reference_channel"])
    assert own.height == ref.height == len(days)
    assert (own["price"].cast(pl.Float64) == row["price"]).all()
    assert (ref["price"].cast(pl.Float64) == row["reference_price"]).all()
    assert own["promo_type"].fill_null("").eq("").all()
