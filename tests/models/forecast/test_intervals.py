"""Calibrated intervals: conformalised quantile regression, the interval score, and the rule
that picks the interval method a planner gets."""

import numpy as np
import polars as pl
import pytest

from models.forecast.backtest import choose_method
from models.forecast.metrics import interval_score
from models.forecast.model import coverage_of, cqr_margin

Y = np.arange(1.0, 11.0)  # 1..10; ceil(11 * 0.8) / 10 = 0.9 must be covered


def test_cqr_narrows_an_interval_that_covers_too_much():
    lo, mid, hi = np.zeros(10), np.full(10, 5.0), np.full(10, 10.0)  # covers all 10
    m = cqr_margin(lo, mid, hi, Y)
    assert m == pytest.approx(-1.0, abs=1e-6)  # [1, 9]: 9 of 10
    assert coverage_of(lo - m, mid, hi + m, Y) == pytest.approx(0.9)


def test_cqr_widens_an_interval_that_covers_too_little():
    lo = mid = hi = np.full(10, 5.0)  # covers only y = 5
    m = cqr_margin(lo, mid, hi, Y)
    assert m == pytest.approx(4.0, abs=1e-6)  # [1, 9]
    assert coverage_of(lo - m, mid, hi + m, Y) == pytest.approx(0.9)


def test_coverage_is_of_the_reported_interval_clipped_and_ordered():
    # P10 above the P50 is reported as the P50; negative bounds as 0
    assert coverage_of(np.array([3.0]), np.array([1.0]), np.array([4.0]), np.array([1.0])) == 1
    assert coverage_of(np.array([-2.0]), np.array([0.0]), np.array([-1.0]), np.array([0.0])) == 1


def test_interval_score_by_hand():
    assert interval_score([10], [8], [12]) == pytest.approx(0.4)  # width 4 / mean 10
    assert interval_score([10], [12], [14]) == pytest.approx((2 + 10 * 2) / 10)  # miss by 2
    assert interval_score([10, 0], [8, 0], [12, 1]) == pytest.approx((4 + 1) / 2 / 5)


def _metrics(values: dict[str, tuple[float, float]]) -> pl.DataFrame:
    rows = []
    for model, (cov, score) in values.items():
        rows += [(model, "all", "all", "coverage_p10_p90", cov)]
        rows += [(model, "all", "all", "interval_score", score), (model, "1", "all", "wape", 0.5)]
    return pl.DataFrame(rows, schema=["model", "fold", "slice", "metric", "value"], orient="row")


def test_the_sharpest_calibrated_method_is_chosen():
    m = _metrics(
        {"hgb_quantile": (0.93, 1.0), "hgb_cqr": (0.82, 1.1), "hgb_conformal": (0.78, 1.3)}
    )
    assert choose_method(m) == "hgb_cqr"  # the quantile interval is sharper but over-covers


def test_without_a_calibrated_method_the_nearest_coverage_wins():
    m = _metrics({"hgb_quantile": (0.95, 1.0), "hgb_cqr": (0.60, 0.9)})
    assert choose_method(m) == "hgb_quantile"
    assert choose_method(_metrics({})) == "hgb_quantile"
