"""SKU groups (hash buckets) and the predict of one group from the stored fit."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from models.forecast.groups import group_keys, series_in_group, sku_group, sku_groups
from models.forecast.model import ModelSettings
from models.forecast.panel import make_panel
from models.forecast.pipeline import future_forecast
from models.forecast.store import NoFit
from tests.models.forecast.synthetic import synthetic_frame

H = 7
SETTINGS = ModelSettings(max_iter=8, max_train_rows=2_000, jobs=2)


def test_every_sku_is_in_exactly_one_group_and_the_groups_are_balanced():
    skus = pl.Series([f"SKU-{i:05d}" for i in range(4000)])
    groups = sku_groups(skus, 8)
    assert groups.len() == skus.len() and groups.null_count() == 0
    assert set(groups) <= set(group_keys(8))
    ids = skus + "|LOC-1"
    masks = np.stack([series_in_group(ids, g, 8) for g in group_keys(8)])
    assert (masks.sum(axis=0) == 1).all()  # each series in one group, none in none
    sizes = masks.sum(axis=1)
    assert sizes.min() > 0.8 * 500 and sizes.max() < 1.2 * 500  # 4000 / 8 each, roughly


def test_a_skus_group_is_stable_and_independent_of_the_catalogue():
    alone = sku_groups(pl.Series(["A-1"]), 8)[0]
    among = sku_groups(pl.Series(["Z-9", "A-1", "B-2"] + [f"n{i}" for i in range(50)]), 8)[1]
    assert alone == among == sku_group("A-1", 8)
    # pinned: a change of hash would move every SKU between partitions
    assert [sku_group(s, 8) for s in ("A-1", "SKU-00001", "茶-1")] == ["g00", "g07", "g05"]
    # every location of a SKU is in its group
    ids = pl.Series(["A-1|L1", "A-1|L2", "B-2|L1"])
    mask = series_in_group(ids, sku_group("A-1", 8), 8)
    assert mask[0] and mask[1]


@pytest.mark.parametrize("n", [0, 101])
def test_a_bad_number_of_groups_is_refused(n):
    with pytest.raises(ValueError, match="1..100"):
        group_keys(n)


def _panel():
    frame = synthetic_frame(n_series=16, n_days=70)
    # a series sold nothing in its long window: its scale is the floor, a share of the
    # median scale of every series (the one feature that reads other series)
    frame = frame.with_columns(
        y=pl.when(pl.col("unique_id") == pl.col("unique_id").min()).then(0.0).otherwise("y"),
        unique_id=pl.col("unique_id") + "|L1",
    )
    return make_panel(frame, "D", future_exog=["promo"])


def test_the_groups_predicted_apart_are_the_whole_forecast(tmp_path):
    panel = _panel()
    whole, _, info = future_forecast(panel, H, SETTINGS, "hgb_cqr", tmp_path, 7)
    assert info.action == "refitted"
    parts = [
        future_forecast(
            panel,
            H,
            SETTINGS,
            "hgb_cqr",
            tmp_path,
            7,
            series=series_in_group(panel.ids, g, 4),
            refit=False,
        )
        for g in group_keys(4)
    ]
    assert all(p[2].action == "predicted" for p in parts)  # no group refitted
    assert sum(p[0].height > 0 for p in parts) >= 2
    joined = pl.concat([p[0] for p in parts]).sort("sku", "location_id", "ds")
    assert joined.select("sku", "location_id", "ds", "cutoff", "horizon", "model").equals(
        whole.select("sku", "location_id", "ds", "cutoff", "horizon", "model")
    )
    for col in ("p10", "p50", "p90", "mean"):
        np.testing.assert_allclose(joined[col].to_numpy(), whole[col].to_numpy(), rtol=1e-12)


def test_a_group_never_fits(tmp_path, fits):
    panel = _panel()
    with pytest.raises(NoFit, match="no stored fit"):
        future_forecast(panel, H, SETTINGS, "hgb_cqr", tmp_path, 7, refit=False)
    assert fits == []
