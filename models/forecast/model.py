"""The global model: one scikit-learn HistGradientBoostingRegressor for every series and
horizon (direct strategy: the horizon is a feature), trained on many past origins.

Two ways to get an interval, both measured by the backtest:

- ``quantile``: three models with the pinball loss at P10, P50 and P90;
- ``conformal``: one point model (absolute error, i.e. a median) plus split-conformal
  intervals: the model is fitted on targets up to ``cutoff - H``, its scaled residuals on
  the last ``H`` periods (which it has not seen) give the P10/P90 offsets per horizon band,
  then it is refitted on everything.

Training rows: every series at origins ``cutoff - anchor_step * j`` (as far back as
``anchor_window`` periods) with every horizon whose target is at or before the cutoff, and a
non-censored target, drawn with probability proportional to the series' scale (at most
``max_train_rows`` in all).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor

from models.forecast.features import FeatureBuilder
from models.forecast.panel import Panel

QUANTILES = (0.1, 0.5, 0.9)
METHODS = ("quantile", "conformal")


@dataclass
class ModelSettings:
    """Hyperparameters (the Dagster ``Config`` and the CLI fill these)."""

    learning_rate: float = 0.1
    max_iter: int = 100
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 40
    l2_regularization: float = 1.0
    anchor_window: int = 0  # periods of origins to learn from; 0: 4 x horizon, at least 56 D
    anchor_step: int = 0  # periods between origins; 0: 2 for daily, 1 for weekly
    max_train_rows: int = 150_000
    seed: int = 0
    threads: int = 1  # OpenMP threads of the boosting; 0: all cores (1 is faster on a busy box)

    def as_dict(self) -> dict:
        return asdict(self)


def _regressor(settings: ModelSettings, loss: str, quantile: float | None, cats) -> object:
    kwargs = dict(
        loss=loss,
        learning_rate=settings.learning_rate,
        max_iter=settings.max_iter,
        max_leaf_nodes=settings.max_leaf_nodes,
        min_samples_leaf=settings.min_samples_leaf,
        l2_regularization=settings.l2_regularization,
        categorical_features=cats if any(cats) else None,
        early_stopping=False,
        random_state=settings.seed,
    )
    if quantile is not None:
        kwargs["quantile"] = quantile
    return HistGradientBoostingRegressor(**kwargs)


def _fit(reg, x: np.ndarray, y: np.ndarray):
    """Fit, with columns that are missing on every training row set to 0 (sklearn cannot bin
    an all-NaN column; a constant one is never split on, so prediction ignores it)."""
    empty = np.isnan(x).all(axis=0)
    if empty.any():
        x = x.copy()
        x[:, empty] = 0.0
    return reg.fit(x, y)


def training_rows(
    builder: FeatureBuilder, cutoff: int, horizon: int, settings: ModelSettings, last_target=None
):
    """``X, y_scaled, weight, horizon, target`` from origins before ``cutoff`` whose targets
    are at most ``last_target`` (default: the cutoff) and observed."""
    panel = builder.panel
    last_target = cutoff if last_target is None else last_target
    step = settings.anchor_step or (2 if panel.freq == "D" else 1)
    window = settings.anchor_window or max(4 * horizon, 56 if panel.freq == "D" else 26)
    anchors = [a for a in range(last_target - 1, last_target - 1 - window, -step) if a >= 1]
    rng = np.random.default_rng(settings.seed)
    budget = max(1, settings.max_train_rows // max(len(anchors), 1))
    xs, ys, ws, hs, ts = [], [], [], [], []
    for a in anchors:
        hz = [h for h in range(1, horizon + 1) if a + h <= last_target]
        x, s, t, scale = builder.rows(a, hz)
        target = panel.y[s, t]
        keep = np.flatnonzero(~np.isnan(target))
        if keep.size:
            # a bootstrap with probability proportional to the scale: the loss on scaled
            # targets then weighs series by volume, as the loss in units would (sample_weight
            # would do the same but makes sklearn's quantile leaves ~10x slower)
            prob = scale[keep] / scale[keep].sum()
            keep = np.sort(rng.choice(keep, min(budget, keep.size), replace=True, p=prob))
        xs.append(x[keep])
        ys.append(target[keep] / scale[keep])
        ws.append(scale[keep])
        hs.append(t[keep] - a)
        ts.append(t[keep])
    if not xs or sum(len(v) for v in ys) == 0:
        return None
    return (
        np.vstack(xs),
        np.concatenate(ys),
        np.concatenate(ws),
        np.concatenate(hs),
        np.concatenate(ts),
    )


def _bands(h: np.ndarray, horizon: int) -> np.ndarray:
    """Horizon bands for the conformal offsets: up to four of equal width."""
    n = min(4, horizon)
    return np.minimum((h - 1) * n // max(horizon, 1), n - 1)


@dataclass
class Forecast:
    """Forecasts made at one cutoff: arrays series x horizon (NaN: series not forecast)."""

    p10: np.ndarray
    p50: np.ndarray
    p90: np.ndarray


def _predict_grid(builder, cutoff, horizon, predict) -> np.ndarray:
    x, s, t, scale = builder.rows(cutoff, range(1, horizon + 1))
    out = np.full((builder.panel.n_series, horizon), np.nan)
    if len(s):
        out[s, t - cutoff - 1] = np.maximum(predict(x) * scale, 0.0)
    return out


def fit_predict(
    panel: Panel,
    cutoff: int,
    horizon: int,
    settings: ModelSettings,
    methods=METHODS,
) -> dict[str, Forecast]:
    """Train on periods ``<= cutoff`` and forecast ``cutoff + 1 .. cutoff + horizon`` with each
    interval method. Series with no observation up to the cutoff are not forecast."""
    from threadpoolctl import threadpool_limits

    # OpenMP threads spin while they wait: on a shared, busy machine one thread per fit is
    # many times faster than one per core
    with threadpool_limits(limits=settings.threads or None, user_api="openmp"):
        return _fit_predict(panel, cutoff, horizon, settings, methods)


def _fit_predict(panel, cutoff, horizon, settings, methods) -> dict[str, Forecast]:
    builder = FeatureBuilder(panel, horizon)
    data = training_rows(builder, cutoff, horizon, settings)
    empty = np.full((panel.n_series, horizon), np.nan)
    if data is None:  # no usable history at all: the caller falls back to baselines
        return {m: Forecast(empty, empty, empty) for m in methods}
    x, y, w, h, _ = data
    cats = builder.categorical_mask()
    out: dict[str, Forecast] = {}
    if "quantile" in methods:
        preds = []
        for q in QUANTILES:
            reg = _fit(_regressor(settings, "quantile", q, cats), x, y)
            preds.append(_predict_grid(builder, cutoff, horizon, reg.predict))
        p10, p50, p90 = preds
        # quantile models are fitted separately: sort so that P10 <= P50 <= P90
        stacked = np.sort(np.stack([p10, p50, p90]), axis=0)
        out["quantile"] = Forecast(*stacked)
    if "conformal" in methods:
        lo_hi = _conformal_offsets(builder, cutoff, horizon, settings, cats)
        reg = _fit(_regressor(settings, "absolute_error", None, cats), x, y)
        xp, s, t, scale = builder.rows(cutoff, range(1, horizon + 1))
        p50, p10, p90 = (empty.copy() for _ in range(3))
        if len(s):
            point = reg.predict(xp)
            band = _bands(t - cutoff, horizon)
            hp = t - cutoff - 1
            p50[s, hp] = np.maximum(point * scale, 0)
            p10[s, hp] = np.maximum((point + lo_hi[band, 0]) * scale, 0)
            p90[s, hp] = np.maximum((point + lo_hi[band, 1]) * scale, 0)
        out["conformal"] = Forecast(np.minimum(p10, p50), p50, np.maximum(p90, p50))
    return out


def _conformal_offsets(builder, cutoff, horizon, settings, cats) -> np.ndarray:
    """Per horizon band, the 10 % and 90 % quantiles of scaled residuals of a model fitted on
    targets up to ``cutoff - horizon``, on targets in the last ``horizon`` periods it has not
    seen (origins at most ``cutoff - horizon``). Pooled over bands with few residuals; zero
    offsets when there is nothing to calibrate on (said by the backtest's coverage)."""
    n_bands = min(4, horizon)
    offsets = np.zeros((n_bands, 2))
    early = cutoff - horizon
    fit = training_rows(builder, early, horizon, settings)
    if fit is None:
        return offsets
    x, y, w, _, _ = fit
    reg = _fit(_regressor(settings, "absolute_error", None, cats), x, y)
    rows_x, rows_r, rows_h = [], [], []
    for a in range(early, max(early - horizon, 0), -1):
        hz = [h for h in range(1, horizon + 1) if early < a + h <= cutoff]
        xa, s, t, scale = builder.rows(a, hz)
        target = builder.panel.y[s, t]
        keep = ~np.isnan(target)
        rows_x.append(xa[keep])
        rows_r.append(target[keep] / scale[keep])
        rows_h.append(t[keep] - a)
    if not rows_x or sum(len(r) for r in rows_r) == 0:
        return offsets
    resid = np.concatenate(rows_r) - reg.predict(np.vstack(rows_x))
    band = _bands(np.concatenate(rows_h), horizon)
    pooled = np.quantile(resid, [0.1, 0.9])
    for b in range(n_bands):
        r = resid[band == b]
        offsets[b] = np.quantile(r, [0.1, 0.9]) if r.size >= 50 else pooled
    return offsets
