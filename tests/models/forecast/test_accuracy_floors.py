"""Accuracy floors on a synthetic panel with known structure: Poisson demand with a
per-series level, a weekly season (weekends x 1.6) and promotions (x 2, known in advance),
one series in four intermittent, a gap and stock-out (censored) days
(``tests/models/forecast/synthetic.py``). The global model knows the promotions and the
season; seasonal naive repeats last week, noise included, so the model must beat it clearly,
and the conformalised interval must cover about 80 %."""

import polars as pl
import pytest

from models.forecast.backtest import COVERAGE_RANGE, backtest, choose_method
from models.forecast.metrics import tail_calibrated
from models.forecast.model import ModelSettings
from models.forecast.panel import make_panel
from tests.models.forecast.synthetic import synthetic_frame


@pytest.fixture(scope="module")
def result():
    frame = synthetic_frame(n_series=24, n_days=100, seed=3)
    panel = make_panel(frame, "D", future_exog=["promo"], censored="censored")
    return backtest(
        panel,
        7,
        4,
        ModelSettings(max_iter=30, max_train_rows=20_000),
        ["hgb_quantile", "hgb_cqr", "hgb_conformal", "seasonal_naive"],
    )


def _value(metrics: pl.DataFrame, model: str, metric: str, fold: str = "all") -> float:
    row = metrics.filter(
        (pl.col("model") == model)
        & (pl.col("metric") == metric)
        & (pl.col("fold") == fold)
        & (pl.col("slice") == "all")
    )
    return row["value"][0]


def test_the_global_model_beats_seasonal_naive_by_a_margin(result):
    hgb = _value(result.metrics, "hgb_cqr", "wape")
    naive = _value(result.metrics, "seasonal_naive", "wape")
    # measured: HGB 0.388, seasonal naive 0.576 (33 % better); floor: 20 % better
    assert hgb <= 0.80 * naive
    for fold in ("1", "2", "3", "4"):  # and in every fold
        assert _value(result.metrics, "hgb_cqr", "wape", fold) < _value(
            result.metrics, "seasonal_naive", "wape", fold
        )


def test_conformalised_intervals_cover_about_80_percent(result):
    # measured (per-end CQR, a margin for each end): raw quantile models 0.571 overall (too
    # narrow: 28 % of actuals below P10); CQR 0.722 overall, below P10 0.140, above P90 0.138;
    # folds 1-4: 0.792, 0.786, 0.649, 0.661 (the symmetric margin it replaces: 0.792 overall,
    # folds 0.810, 0.786, 0.845, 0.726). The calibration slice is the 7 days before each
    # cutoff of 24 series, so a fold's coverage varies; the floors hold with margin
    raw = _value(result.metrics, "hgb_quantile", "coverage_p10_p90")
    cqr = _value(result.metrics, "hgb_cqr", "coverage_p10_p90")
    assert COVERAGE_RANGE[0] <= cqr <= COVERAGE_RANGE[1]
    assert abs(cqr - 0.8) < abs(raw - 0.8)
    for fold in ("1", "2", "3", "4"):
        assert 0.60 <= _value(result.metrics, "hgb_cqr", "coverage_p10_p90", fold) <= 0.92
    # each end is a calibrated quantile (10 % +- 5 points beyond it); the raw P10 is not
    tails = {
        m: _value(result.metrics, "hgb_cqr", m)
        for m in ("below_p10", "at_or_below_p10", "above_p90", "at_or_above_p90")
    }
    assert tail_calibrated(tails)
    assert _value(result.metrics, "hgb_quantile", "below_p10") > 0.15
    chosen = choose_method(result.metrics)
    assert COVERAGE_RANGE[0] <= _value(result.metrics, chosen, "coverage_p10_p90") <= 0.9
