"""Calibrated intervals: conformalised quantile regression, the interval score, and the rule
that picks the interval method a planner gets."""

import numpy as np
import polars as pl
import pytest

from models.forecast.backtest import choose_method
from models.forecast.metrics import interval_score, metric_rows, tail_calibrated
from models.forecast.model import _ordered, coverage_of, cqr_margins

Y = np.arange(1.0, 21.0)  # 1..20; per end ceil(21 * 0.9) / 20 = 0.95: at most 1 beyond


def _reported(lo, mid, hi, margins):
    return _ordered(lo - margins[0], mid, hi + margins[1])


def test_cqr_narrows_each_end_of_an_interval_that_covers_too_much():
    lo, mid, hi = np.zeros(20), np.full(20, 10.0), np.full(20, 25.0)  # covers all 20
    m = cqr_margins(lo, mid, hi, Y)
    assert m == pytest.approx((-2.0, -6.0), abs=1e-6)  # [2, 19]: 1 below, 1 above
    p10, _, p90 = _reported(lo, mid, hi, m)
    below, above = int(np.sum(p10 > Y)), int(np.sum(p90 < Y))
    assert (below, above) == (1, 1)


def test_cqr_widens_each_end_of_an_interval_that_covers_too_little():
    lo = mid = hi = np.full(20, 10.0)  # covers only y = 10
    m = cqr_margins(lo, mid, hi, Y)
    assert m == pytest.approx((8.0, 9.0), abs=1e-6)  # [2, 19]


def test_each_end_gets_its_own_margin():
    # the lower end is right (1 of 20 below), the upper one far too low (10 above): the
    # symmetric margin would have widened the lower end as well; per end, it stays
    lo, mid, hi = np.full(20, 2.0), np.full(20, 5.0), np.full(20, 10.0)
    m = cqr_margins(lo, mid, hi, Y)
    assert m == pytest.approx((0.0, 9.0), abs=1e-6)


def test_intermittent_demand_keeps_p10_at_zero_and_moves_the_upper_end():
    # 75 % zeros: nothing can be below a P10 of 0, so the lower end stays; the upper end
    # (0 everywhere, so every sale is above it) is raised until at most 10 % are above
    rng = np.random.default_rng(0)
    y = np.where(rng.random(2000) < 0.75, 0.0, rng.poisson(3.0, 2000) + 1.0)
    zeros = np.zeros_like(y)
    m_lo, m_hi = cqr_margins(zeros, zeros, zeros, y)
    p10, _, p90 = _ordered(zeros - m_lo, zeros, zeros + m_hi)
    assert (p10 == 0).all()
    assert (y > p90).mean() <= 0.10 < (y >= p90).mean()
    assert tail_calibrated(metric_rows(_frame(y, p10, p90), "m", True))


def _frame(y, p10, p90) -> pl.DataFrame:
    n = len(y)
    return pl.DataFrame(
        {"y": y, "m_p10": p10, "m_p50": p10, "m_p90": p90, "unique_id": np.arange(n) % 7,
         "fold": np.ones(n, np.int32), "mase_scale": np.ones(n)}
    )  # fmt: skip


def test_tails_allow_ties_on_count_data_and_still_fail_a_bad_end():
    y = np.array([0.0] * 75 + [1.0] * 10 + [2.0] * 10 + [5.0] * 5)
    zero, two, ten = np.zeros(100), np.full(100, 2.0), np.full(100, 10.0)
    good = metric_rows(_frame(y, zero, two), "m", True)
    # P10 = 0 ties with 75 zeros, P90 = 2 has 5 % above and 15 % at or above: both quantiles
    assert good["coverage_p10_p90"] == pytest.approx(0.95)  # closed: above the 70-90 % band
    assert good["coverage_p10_p90_open"] == pytest.approx(0.10)
    assert tail_calibrated(good)
    # P90 = 10: nothing at or above it, so it is too high (the interval too wide)
    assert not tail_calibrated(metric_rows(_frame(y, zero, ten), "m", True))
    # P90 = 0: 25 % above it, too low
    assert not tail_calibrated(metric_rows(_frame(y, zero, zero), "m", True))
    # P10 = 2: 85 % below it, too high
    assert not tail_calibrated(metric_rows(_frame(y, two, ten), "m", True))


def test_on_continuous_targets_the_tails_are_the_coverage_band():
    y = np.linspace(0.5, 100.5, 1000)  # no ties
    for lo, hi, ok in ((10.5, 90.5, True), (5.6, 85.6, True), (2.5, 82.5, False)):
        row = metric_rows(_frame(y, np.full(1000, lo), np.full(1000, hi)), "m", True)
        assert row["coverage_p10_p90_open"] == pytest.approx(row["coverage_p10_p90"])
        assert tail_calibrated(row) is ok


def test_coverage_is_of_the_reported_interval_clipped_and_ordered():
    # P10 above the P50 is reported as the P50; negative bounds as 0
    assert coverage_of(np.array([3.0]), np.array([1.0]), np.array([4.0]), np.array([1.0])) == 1
    assert coverage_of(np.array([-2.0]), np.array([0.0]), np.array([-1.0]), np.array([0.0])) == 1


def test_interval_score_by_hand():
    assert interval_score([10], [8], [12]) == pytest.approx(0.4)  # width 4 / mean 10
    assert interval_score([10], [12], [14]) == pytest.approx((2 + 10 * 2) / 10)  # miss by 2
    assert interval_score([10, 0], [8, 0], [12, 1]) == pytest.approx((4 + 1) / 2 / 5)


def _metrics(values: dict[str, tuple[float, float]]) -> pl.DataFrame:
    """Per model (coverage, interval score), continuous targets split evenly over the tails."""
    rows = []
    for model, (cov, score) in values.items():
        tail = (1 - cov) / 2
        rows += [(model, "all", "all", "coverage_p10_p90", cov)]
        rows += [(model, "all", "all", "coverage_p10_p90_open", cov)]
        rows += [(model, "all", "all", k, tail) for k in ("below_p10", "at_or_below_p10")]
        rows += [(model, "all", "all", k, tail) for k in ("above_p90", "at_or_above_p90")]
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
