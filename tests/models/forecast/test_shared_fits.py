"""The backtest's speed-ups change nothing it measures: every fold's forecast equals the one
fitted on its own, the binning shared by models on the same rows gives the same models, and
the baselines' shortcuts give what the full computation gives."""

import numpy as np
import polars as pl
import pytest

from models.forecast import model as model_mod
from models.forecast.backtest import forecast_at, plan_folds
from models.forecast.baselines import auto_ets
from models.forecast.metrics import metric_rows
from models.forecast.model import QUANTILES, GlobalModels, ModelSettings, _regressor
from models.forecast.panel import make_panel
from tests.models.forecast.synthetic import synthetic_frame

H = 7
SETTINGS = ModelSettings(max_iter=15, max_train_rows=4_000, jobs=2)
HGB = ["hgb_quantile", "hgb_cqr", "hgb_conformal"]


@pytest.fixture(scope="module")
def panel():
    return make_panel(synthetic_frame(n_series=10, n_days=80), "D", future_exog=["promo"])


def test_each_distinct_model_is_fitted_once_and_every_fold_is_unchanged(panel, fits):
    plan = plan_folds(panel.n_periods, "D", H, 3)
    shared = GlobalModels(panel, H, SETTINGS)
    needs: dict[int, set[str]] = {}
    for c in plan.cutoffs:
        needs.setdefault(c, set()).update({"quantile", "mean"})
        needs.setdefault(c - H, set()).add("quantile")
    shared.fit(needs)
    # K folds: 3 quantile + 1 Poisson model each, and the first fold's 3 calibration models
    # (the later folds calibrate with the fold before's models)
    assert len(fits) == 4 * plan.folds + 3
    assert fits.count("poisson") == plan.folds
    for cutoff in plan.cutoffs:
        together, _ = forecast_at(panel, cutoff, H, SETTINGS, HGB, global_models=shared)
        alone, _ = forecast_at(
            panel, cutoff, H, ModelSettings(**{**SETTINGS.as_dict(), "jobs": 1}), HGB
        )
        for m in [*HGB, "hgb_mean"]:
            for left, right in zip(together[m], alone[m], strict=True):
                np.testing.assert_array_equal(left, right)


def test_models_on_the_same_rows_bin_them_once_and_fit_the_same(panel):
    gm = GlobalModels(panel, H, SETTINGS)
    x, y, *_ = model_mod.training_rows(gm.builder, 60, H, SETTINGS)
    x = model_mod._fillable(x)
    cats = gm.builder.categorical_mask()
    bins = {"lock": model_mod.threading.Lock()}
    shared = []
    for q in QUANTILES:
        reg = _regressor(SETTINGS, "quantile", q, cats)
        reg.shared_bins = bins
        shared.append(reg.fit(x, y))
    assert shared[0]._bin_mapper is shared[2]._bin_mapper  # binned once
    xp, *_ = gm.builder.rows(60, range(1, H + 1))
    for q, reg in zip(QUANTILES, shared, strict=True):
        own = _regressor(SETTINGS, "quantile", q, cats).fit(x, y)
        assert own._bin_mapper is not reg._bin_mapper
        np.testing.assert_array_equal(own.predict(xp), reg.predict(xp))
    other = _regressor(ModelSettings(seed=5), "quantile", 0.5, cats)
    other.shared_bins = bins
    with pytest.raises(ValueError, match="bin differently"):
        other.fit(x, y)


def test_autoets_skips_all_zero_series_with_what_it_would_forecast(panel):
    zero = panel.y.copy()
    zero[0] = np.where(np.isnan(zero[0]), np.nan, 0.0)
    p = make_panel(synthetic_frame(n_series=10, n_days=80), "D")
    p.y = zero
    lo, mid, hi = auto_ets(p, 59, H)
    assert (lo[0] == 0).all() and (mid[0] == 0).all() and (hi[0] == 0).all()
    assert np.isfinite(mid[1:]).all() and (mid[1:] > 0).any()  # the others are fitted


def test_mase_skips_series_without_a_scale_instead_of_turning_nan():
    frame = pl.DataFrame(
        {
            "unique_id": ["a", "a", "b", "b"],
            "fold": [1, 1, 1, 1],
            "y": [2.0, 0.0, 1.0, 0.0],
            "mase_scale": [1.0, 1.0, float("nan"), float("nan")],
            "m_p50": [1.0, 1.0, 0.0, 0.0],
            "m_p10": [0.0, 0.0, 0.0, 0.0],
            "m_p90": [1.0, 1.0, 0.0, 0.0],
        }
    )
    out = metric_rows(frame, "m", True)
    assert out["mase"] == pytest.approx(1.0)  # series a only: mean |e| 1 / scale 1
    assert out["zero_share"] == pytest.approx(0.5)
    assert out["coverage_p10_p90"] == pytest.approx(0.5)  # both zeros covered, no sale
    assert out["coverage_p10_p90_nonzero"] == pytest.approx(0.0)
    assert (out["below_p10"], out["above_p90"]) == (0.0, 0.5)
