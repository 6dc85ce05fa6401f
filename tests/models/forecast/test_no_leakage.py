"""The backtest splitter: a forecast made at a cutoff uses only data up to the cutoff."""

import copy

import numpy as np
import polars as pl
import pytest

from models.forecast.backtest import forecast_at, plan_folds
from models.forecast.features import FeatureBuilder
from models.forecast.model import ModelSettings, training_rows
from models.forecast.panel import make_panel
from tests.models.forecast.synthetic import synthetic_frame

H = 7
SETTINGS = ModelSettings(max_iter=15, max_train_rows=5_000)


@pytest.fixture(scope="module")
def panel():
    frame = synthetic_frame(n_series=8, n_days=90).with_columns(
        traffic=(pl.int_range(pl.len()) % 13).cast(pl.Float64)
    )
    return make_panel(frame, "D", future_exog=["promo"], past_exog=["traffic"])


def perturbed_after(panel, cutoff: int, seed: int = 1):
    """The panel with every value after the cutoff replaced (y and past-only exogenous)."""
    rng = np.random.default_rng(seed)
    other = copy.deepcopy(panel)
    other.y[:, cutoff + 1 :] = rng.poisson(50, other.y[:, cutoff + 1 :].shape)
    other.past_exog["traffic"][:, cutoff + 1 :] = rng.random(
        other.past_exog["traffic"][:, cutoff + 1 :].shape
    )
    return other


def test_features_and_training_rows_ignore_the_future(panel):
    cutoff = 60
    other = perturbed_after(panel, cutoff)
    a, b = FeatureBuilder(panel, H), FeatureBuilder(other, H)
    xa, sa, ta, _ = a.rows(cutoff, range(1, H + 1))
    xb, sb, tb, _ = b.rows(cutoff, range(1, H + 1))
    np.testing.assert_array_equal(sa, sb)
    np.testing.assert_array_equal(xa, xb)
    ra, rb = training_rows(a, cutoff, H, SETTINGS), training_rows(b, cutoff, H, SETTINGS)
    for left, right in zip(ra, rb, strict=True):
        np.testing.assert_array_equal(left, right)
    assert ra[4].max() <= cutoff  # every training target is at or before the cutoff


def test_forecasts_of_every_model_ignore_the_future(panel):
    cutoff = 60
    other = perturbed_after(panel, cutoff)
    models = ["hgb_quantile", "hgb_cqr", "hgb_conformal", "seasonal_naive", "autoets"]
    fa, _ = forecast_at(panel, cutoff, H, SETTINGS, models)
    fb, _ = forecast_at(other, cutoff, H, SETTINGS, models)
    for m in models:
        for left, right in zip(fa[m], fb[m], strict=True):
            if left is not None:
                np.testing.assert_array_equal(left, right)


def test_the_past_does_change_the_features(panel):
    """The check above can fail: changing the last observed day changes the features."""
    cutoff = 60
    other = copy.deepcopy(panel)
    other.y[:, cutoff] += 10
    xa, *_ = FeatureBuilder(panel, H).rows(cutoff, [1])
    xb, *_ = FeatureBuilder(other, H).rows(cutoff, [1])
    assert not np.array_equal(xa, xb)


def test_plan_tiles_the_end_and_adapts_to_short_history():
    plan = plan_folds(365, "D", 28, 4)
    assert (plan.horizon, plan.folds, plan.notes) == (28, 4, [])
    assert plan.cutoffs == [364 - 112, 364 - 84, 364 - 56, 364 - 28]
    short = plan_folds(45, "D", 28, 4)  # the end-to-end demo: 45 days
    assert (short.horizon, short.folds) == (7, 4)
    assert short.cutoffs[-1] + short.horizon == 44
    assert "horizon shortened from 28 to 7" in short.notes[0]
    with pytest.raises(ValueError, match="too few"):
        plan_folds(10, "D", 7, 4)
