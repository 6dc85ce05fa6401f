import numpy as np
import polars as pl
import pytest

from models.forecast.backtest import metrics_table
from models.forecast.metrics import bias, coverage, mase_scale, pinball, wape


def test_metrics_on_a_hand_computed_example():
    y = [10, 0, 5, 5]
    p50 = [8, 1, 5, 8]
    # |e| = 2, 1, 0, 3 -> 6 / 20
    assert wape(y, p50) == pytest.approx(0.30)
    # (p50 - y) = -2, 1, 0, 3 -> 2 / 20
    assert bias(y, p50) == pytest.approx(0.10)
    # inside [p10, p90]: 10 in [7, 9]? no; 0 in [0, 2] yes; 5 in [5, 5] yes; 5 in [6, 9] no
    assert coverage(y, [7, 0, 5, 6], [9, 2, 5, 9]) == pytest.approx(0.5)
    # a model whose quantiles all equal the median scores its WAPE
    assert pinball(y, p50, p50, p50) == pytest.approx(wape(y, p50))
    # one point, y = 10: P10 = 12 costs 0.9 * 2, P50 = 10 nothing, P90 = 4 costs 0.9 * 6
    assert pinball([10], [12], [10], [4]) == pytest.approx(2 * (1.8 + 5.4) / (3 * 10))


def test_mase_scale_uses_observed_seasonal_differences_only():
    hist = np.array([[1, 2, 3, 5, np.nan, 9.0]])
    # lag 2 pairs: (1,3) (2,5) (3,nan) (5,9) -> |2|, |3|, |4| -> 3
    assert mase_scale(hist, 2)[0] == pytest.approx(3.0)
    # shorter than the season: lag 1
    assert mase_scale(np.array([[1.0, 4.0]]), 7)[0] == pytest.approx(3.0)


def test_metrics_table_per_fold_overall_and_slice():
    frame = pl.DataFrame(
        {
            "unique_id": ["a", "a", "b", "b"],
            "fold": [1, 2, 1, 2],
            "y": [10.0, 0.0, 5.0, 5.0],
            "mase_scale": [2.0, 2.0, 1.0, 1.0],
            "m_p50": [8.0, 1.0, 5.0, 8.0],
            "m_p10": [7.0, 0.0, 5.0, 6.0],
            "m_p90": [9.0, 2.0, 5.0, 9.0],
            "channel": ["x", "x", "y", "y"],
        }
    )
    t = metrics_table(frame, ["m"], ["channel"])
    get = {(r["fold"], r["slice"], r["metric"]): r["value"] for r in t.iter_rows(named=True)}
    assert get[("all", "all", "wape")] == pytest.approx(0.30)
    assert get[("1", "all", "wape")] == pytest.approx(2 / 15)
    assert get[("2", "all", "wape")] == pytest.approx(4 / 5)
    assert get[("all", "channel=y", "wape")] == pytest.approx(3 / 10)
    # MASE: mean over series-folds of MAE / scale: a1 2/2, a2 1/2, b1 0/1, b2 3/1
    assert get[("all", "all", "mase")] == pytest.approx((1 + 0.5 + 0 + 3) / 4)
    assert get[("all", "all", "coverage_p10_p90")] == pytest.approx(0.5)
