"""The global model's expected-demand (Poisson) forecast on intermittent series."""

import datetime as dt

import numpy as np
import polars as pl

from models.forecast.backtest import backtest
from models.forecast.model import ModelSettings, fit_predict
from models.forecast.panel import make_panel

SETTINGS = ModelSettings(max_iter=30, max_train_rows=20_000)
RATE = 0.1


def _intermittent_panel(n_series=30, n_days=120, seed=3):
    """1 unit on about 10 % of days, independently: the median of every day is 0."""
    rng = np.random.default_rng(seed)
    start = dt.date(2024, 1, 1)
    y = (rng.random((n_series, n_days)) < RATE).astype(float)
    frame = pl.DataFrame(
        {
            "unique_id": np.repeat([f"S{s:02d}" for s in range(n_series)], n_days),
            "ds": [start + dt.timedelta(days=t) for _ in range(n_series) for t in range(n_days)],
            "y": y.ravel(),
        }
    )
    return make_panel(frame, "D")


def test_the_mean_is_the_rate_where_the_median_is_zero():
    panel = _intermittent_panel()
    fc = fit_predict(panel, 99, 14, SETTINGS, ["quantile"])["quantile"]
    assert np.nanmax(fc.p50) == 0.0  # the median policy would see no demand at all
    assert (fc.mean >= 0).all()
    # the expected demand of the next 14 days, over all series, is near 30 * 14 * 0.1 = 42
    assert abs(np.nansum(fc.mean) / (30 * 14 * RATE) - 1) < 0.35


def test_the_backtest_scores_the_mean_and_writes_it_beside_the_quantiles():
    panel = _intermittent_panel()
    result = backtest(panel, 7, 2, SETTINGS, models=("hgb_quantile", "seasonal_naive"))
    assert "hgb_mean" in result.forecasts.columns
    over = result.metrics.filter(
        (pl.col("model") == "hgb_mean") & (pl.col("fold") == "all") & (pl.col("slice") == "all")
    )
    val = dict(zip(over["metric"], over["value"], strict=True))
    assert {"wape", "bias", "mase"} <= set(val)
    # the mean is unbiased in total where the all-zero P50 misses every unit (bias -1)
    assert abs(val["bias"]) < 0.35
    p50 = result.metrics.filter(
        (pl.col("model") == "hgb_quantile")
        & (pl.col("metric") == "bias")
        & (pl.col("fold") == "all")
        & (pl.col("slice") == "all")
    )["value"][0]
    assert p50 == -1.0
