"""The global model: one scikit-learn HistGradientBoostingRegressor for every series and
horizon (direct strategy: the horizon is a feature), trained on many past origins.

One set of models, three ways to get the interval, all measured by the backtest (the P50
is the same in all three):

- ``quantile``: three models with the pinball loss at P10, P50 and P90, as fitted;
- ``cqr``: the same, conformalised (conformalised quantile regression): the three models
  are also fitted on targets up to ``cutoff - H`` and predict the last ``H`` periods before
  the cutoff (a calibration slice in time order, which they have not seen); per horizon
  band, the margin by which P10 is lowered and P90 raised (negative: narrowed) is the
  smallest that makes the reported interval cover 80 % of that slice;
- ``conformal``: the P50 plus split-conformal offsets: the 10 % and 90 % quantiles of the
  scaled residuals of the early P50 model on the same slice, per horizon band.

A fourth model, with the Poisson loss (log link, so its prediction is positive), gives the
expected demand ``mean`` beside the quantiles: on intermittent series the P50 is 0 while the
mean is not, and what an order-up-to level has to cover is the expected (mean) demand over
the protection period, not its median.

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
# a horizon band is calibrated on its own rows from this many (the standard error of an 80 %
# coverage estimate is then at most 0.03), else on the pooled rows of every band
MIN_BAND_ROWS = 200
METHODS = ("quantile", "cqr", "conformal")


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
    mean: np.ndarray | None = None  # expected demand (Poisson-loss model), clipped at 0


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
        return {m: Forecast(empty, empty, empty, empty) for m in methods}
    x, y, _, _, _ = data
    cats = builder.categorical_mask()
    regs = [_fit(_regressor(settings, "quantile", q, cats), x, y) for q in QUANTILES]
    xp, s, t, scale = builder.rows(cutoff, range(1, horizon + 1))
    hp = t - cutoff - 1
    band = _bands(t - cutoff, horizon)
    lo, mid, hi = (reg.predict(xp) for reg in regs) if len(s) else (np.zeros(0),) * 3
    mean = empty.copy()
    if len(s) and (y > 0).any():  # the Poisson loss needs a positive target somewhere
        mean_reg = _fit(_regressor(settings, "poisson", None, cats), x, y)
        mean[s, hp] = np.maximum(mean_reg.predict(xp), 0.0) * scale
    elif len(s):
        mean[s, hp] = 0.0
    cal = (
        _calibration(builder, cutoff, horizon, settings, cats)
        if {"cqr", "conformal"} & set(methods)
        else None
    )

    def grid(lo_s, mid_s, hi_s) -> Forecast:
        """Scaled bounds of the rows to units, clipped at 0 and ordered P10 <= P50 <= P90."""
        arrays = []
        for v in _ordered(lo_s, mid_s, hi_s):
            a = empty.copy()
            a[s, hp] = v * scale
            arrays.append(a)
        return Forecast(*arrays, mean=mean)

    out: dict[str, Forecast] = {}
    if "quantile" in methods:
        out["quantile"] = grid(lo, mid, hi)
    if "cqr" in methods:
        widen = np.zeros(min(4, horizon))
        if cal is not None:
            widen = _per_band(cal, lambda c: cqr_margin(c["lo"], c["mid"], c["hi"], c["y"]))
        out["cqr"] = grid(lo - widen[band], mid, hi + widen[band])
    if "conformal" in methods:
        offsets = np.zeros((min(4, horizon), 2))
        if cal is not None:
            offsets = _per_band(cal, lambda c: np.quantile(c["y"] - c["mid"], [0.1, 0.9]))
        out["conformal"] = grid(mid + offsets[band, 0], mid, mid + offsets[band, 1])
    return out


def _ordered(lo, mid, hi):
    """The bounds as the forecast reports them: non-negative and P10 <= P50 <= P90."""
    mid = np.maximum(mid, 0.0)
    return np.minimum(np.maximum(lo, 0.0), mid), mid, np.maximum(hi, mid)


def coverage_of(lo, mid, hi, y) -> float:
    p10, _, p90 = _ordered(lo, mid, hi)
    return float(((p10 <= y) & (y <= p90)).mean())


def cqr_margin(lo, mid, hi, y, level: float = 0.8) -> float:
    """Conformalised quantile regression (Romano, Patterson, Candes 2019): the smallest
    margin ``m`` such that the reported interval ``[lo - m, hi + m]`` (after clipping at 0
    and ordering around the median, as :func:`_ordered` does) covers at least
    ``ceil((n + 1) * level) / n`` of the calibration targets. ``m`` is negative when the
    quantile models' interval is too wide, so it also narrows. Found by bisection, because
    clipping and ordering make the coverage a monotone step function of ``m`` rather than the
    plain conformity score ``max(lo - y, y - hi)`` (on count data the two differ)."""
    n = y.size
    goal = min(1.0, np.ceil((n + 1) * level) / n)
    a = float(-(np.abs(hi).max() + np.abs(lo).max() + np.abs(y).max()) - 1)
    b = float(np.maximum(lo - y, y - hi).max())  # covers every target
    if coverage_of(lo - a, mid, hi + a, y) >= goal:
        return a
    for _ in range(50):
        m = (a + b) / 2
        if coverage_of(lo - m, mid, hi + m, y) >= goal:
            b = m
        else:
            a = m
    return b


def _per_band(cal: dict, stat) -> np.ndarray:
    """``stat`` of the calibration rows per horizon band; the pooled value for a band with
    fewer than ``MIN_BAND_ROWS`` rows."""
    pooled = np.asarray(stat(cal))
    out = np.stack([pooled] * cal["n_bands"])
    for b in range(cal["n_bands"]):
        sel = cal["band"] == b
        if sel.sum() >= MIN_BAND_ROWS:
            out[b] = stat({k: v[sel] for k, v in cal.items() if isinstance(v, np.ndarray)})
    return out


def _calibration(builder, cutoff, horizon, settings, cats) -> dict | None:
    """The calibration slice, in time order after the training data: the P10/P50/P90 models
    fitted on targets up to ``cutoff - horizon`` predict the targets of the last ``horizon``
    periods (up to the cutoff), which they have not seen, from origins at most ``cutoff -
    horizon``. Scaled ``lo, mid, hi, y`` and the horizon ``band`` of every such observed
    target; None when there is nothing to calibrate on (the methods then keep the quantile
    models' interval, and the backtest's coverage says how good that is)."""
    early = cutoff - horizon
    fit = training_rows(builder, early, horizon, settings)
    if fit is None:
        return None
    x, y, _, _, _ = fit
    regs = [_fit(_regressor(settings, "quantile", q, cats), x, y) for q in QUANTILES]
    rows_x, rows_y, rows_h = [], [], []
    for a in range(early, max(early - horizon, 0), -1):
        hz = [h for h in range(1, horizon + 1) if early < a + h <= cutoff]
        xa, s, t, scale = builder.rows(a, hz)
        target = builder.panel.y[s, t]
        keep = ~np.isnan(target)
        rows_x.append(xa[keep])
        rows_y.append(target[keep] / scale[keep])
        rows_h.append(t[keep] - a)
    if not rows_x or sum(len(r) for r in rows_y) == 0:
        return None
    xc = np.vstack(rows_x)
    lo, mid, hi = (reg.predict(xc) for reg in regs)
    return {
        "lo": lo,
        "mid": mid,
        "hi": hi,
        "y": np.concatenate(rows_y),
        "band": _bands(np.concatenate(rows_h), horizon),
        "n_bands": min(4, horizon),
    }
