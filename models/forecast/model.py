"""The global model: one scikit-learn HistGradientBoostingRegressor for every series and
horizon (direct strategy: the horizon is a feature), trained on many past origins.

One set of models, three ways to get the interval, all measured by the backtest (the P50
is the same in all three):

- ``quantile``: three models with the pinball loss at P10, P50 and P90, as fitted;
- ``cqr``: the same, conformalised (conformalised quantile regression, a margin per end):
  the three models are also fitted on targets up to ``cutoff - H`` and predict the last
  ``H`` periods before the cutoff (a calibration slice in time order, which they have not
  seen); per horizon band, P10 is lowered (negative: raised) by the smallest margin that
  leaves at most 10 % of that slice below it, and P90 raised (negative: lowered) by its own
  smallest margin that leaves at most 10 % above it (:func:`cqr_margins`);
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

Fitting is the cost, so :class:`GlobalModels` fits each distinct model once: the models a
cutoff calibrates with (trained on targets up to ``cutoff - H``) are the very ones the previous
backtest fold forecast with (its cutoff is ``H`` earlier, the same training rows), so a
backtest of K folds fits 4K + 3 models, not 7K; the models trained on the same rows bin them
once; and up to ``jobs`` fits run at once (threads: the boosting releases the GIL, and each
fit keeps ``threads`` OpenMP threads, so nothing spins on a busy machine).
"""

from __future__ import annotations

import os
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np

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
    jobs: int = 0  # fits (and predictions) run at once, in threads; 0: one per core
    # periods before its cutoff where a fit's training targets end: the data is complete only
    # through there (late deliveries; models.forecast.settle derives it). 0: up to the cutoff
    settle_lag: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def __getattr__(name: str):
    # fits stored before the regressor had its own module name it here (models.joblib)
    if name == "_Regressor":
        from models.forecast.regressor import Regressor

        return Regressor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    # scikit-learn is imported here, by the steps that fit, not by every import of the asset
    # definitions (bench/README.md, "Fixed costs of a new day")
    from models.forecast.regressor import Regressor

    return Regressor(**kwargs)


def _fillable(x: np.ndarray) -> np.ndarray:
    """Columns that are missing on every training row set to 0 (sklearn cannot bin an all-NaN
    column; a constant one is never split on, so prediction ignores it)."""
    empty = np.isnan(x).all(axis=0)
    if empty.any():
        x = x.copy()
        x[:, empty] = 0.0
    return x


def _jobs(settings: ModelSettings) -> int:
    return settings.jobs if settings.jobs > 0 else (os.cpu_count() or 1)


def _limited(settings: ModelSettings, fn):
    """``fn`` run with ``threads`` OpenMP threads in whichever thread calls it (the limit is
    per thread, so every worker sets its own). OpenMP threads spin while they wait: on a
    shared, busy machine one thread per fit is many times faster than one per core, and
    single-threaded fits side by side do not spin at all."""
    from threadpoolctl import threadpool_limits

    def call(*args):
        with threadpool_limits(limits=settings.threads or None, user_api="openmp"):
            return fn(*args)

    return call


def _run(settings: ModelSettings, tasks: list) -> list:
    """``[task() for task in tasks]``, ``jobs`` at a time in threads."""
    jobs = min(_jobs(settings), len(tasks))
    if jobs <= 1:
        return [_limited(settings, t)() for t in tasks]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(lambda t: _limited(settings, t)(), tasks))


def _predict_all(settings: ModelSettings, regs, x: np.ndarray) -> list[np.ndarray]:
    """Each model's prediction of ``x``, the models side by side."""
    if len(x) == 0:
        return [np.zeros(0) for _ in regs]
    return _run(settings, [lambda r=r: r.predict(x) for r in regs])


def training_anchors(freq: str, last_target: int, horizon: int, settings: ModelSettings):
    """The origins a fit learns from: every ``anchor_step`` periods back from the last
    target, over ``anchor_window`` periods."""
    step = settings.anchor_step or (2 if freq == "D" else 1)
    window = settings.anchor_window or max(4 * horizon, 56 if freq == "D" else 26)
    return [a for a in range(last_target - 1, last_target - 1 - window, -step) if a >= 1]


def settled_end(cutoff: int, settings: ModelSettings) -> int:
    """The last period whose targets a fit at ``cutoff`` trains on (or calibrates with)."""
    if settings.settle_lag < 0:
        raise ValueError(f"settle_lag: expected >= 0, got {settings.settle_lag}")
    return cutoff - settings.settle_lag


def training_rows(
    builder: FeatureBuilder, cutoff: int, horizon: int, settings: ModelSettings, last_target=None
):
    """``X, y_scaled, weight, horizon, target`` from origins before ``cutoff`` whose targets
    are at most ``last_target`` (default: the last settled period, ``cutoff -
    settings.settle_lag``) and observed. This is where every fit (in-run, stored, backtest
    fold) leaves the unsettled days out of its targets."""
    from models.forecast.features import anchor_features

    panel = builder.panel
    last_target = settled_end(cutoff, settings) if last_target is None else last_target
    anchors = training_anchors(panel.freq, last_target, horizon, settings)
    rng = np.random.default_rng(settings.seed)
    budget = max(1, settings.max_train_rows // max(len(anchors), 1))
    xs, ys, ws, hs, ts = [], [], [], [], []
    for a in anchors:
        hz = np.array([h for h in range(1, horizon + 1) if a + h <= last_target], np.int64)
        feats, scale = anchor_features(panel, a)
        s_idx = np.flatnonzero(~np.isnan(scale))
        # every (series, horizon) candidate, in the order FeatureBuilder.rows lists them;
        # the features are built for the sampled rows only
        s, h = np.tile(s_idx, len(hz)), np.repeat(hz, len(s_idx))
        t = a + h
        target = panel.y[s, t]
        keep = np.flatnonzero(~np.isnan(target))
        if keep.size:
            # a bootstrap with probability proportional to the scale: the loss on scaled
            # targets then weighs series by volume, as the loss in units would (sample_weight
            # would do the same but makes sklearn's quantile leaves ~10x slower)
            prob = scale[s[keep]] / scale[s[keep]].sum()
            keep = np.sort(rng.choice(keep, min(budget, keep.size), replace=True, p=prob))
        s, h, t = s[keep], h[keep], t[keep]
        xs.append(builder.assemble(a, feats, scale, s, h))
        ys.append(target[keep] / scale[s])
        ws.append(scale[s])
        hs.append(h)
        ts.append(t)
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


class GlobalModels:
    """The fitted models of one panel and horizon, by *training cutoff* (the last period
    their training targets may reach): ``quantile`` (the P10, P50 and P90 models) and
    ``mean`` (the Poisson model). A backtest asks for every cutoff it needs at once, so each
    distinct model is fitted once (the calibration models of one fold are the forecasting
    models of the fold before) and ``jobs`` fits run at once."""

    def __init__(self, panel: Panel, horizon: int, settings: ModelSettings):
        self.panel, self.horizon, self.settings = panel, horizon, settings
        self.builder = FeatureBuilder(panel, horizon)
        self._models: dict[tuple[int, str], object] = {}
        self._has_data: dict[int, bool] = {}

    def fit(self, needs: dict[int, set[str]]) -> None:
        """Fit what ``needs`` (training cutoff -> {"quantile", "mean"}) asks for and is not
        fitted yet. The training rows of the next cutoff are built while the models of the
        one before fit; at most two cutoffs' rows are held at a time."""
        pending: deque = deque()  # per cutoff: [(cutoff, loss, quantile, future)]
        with ThreadPoolExecutor(max_workers=_jobs(self.settings)) as pool:
            for cutoff in sorted(needs):
                kinds = [k for k in ("quantile", "mean") if k in needs[cutoff]]
                kinds = [k for k in kinds if (cutoff, k) not in self._models]
                if not kinds:
                    continue
                while len(pending) >= 2:
                    self._collect(pending.popleft())
                pending.append(self._submit(pool, cutoff, kinds))
            while pending:
                self._collect(pending.popleft())

    def _submit(self, pool, cutoff: int, kinds: list[str]) -> list:
        data = training_rows(self.builder, cutoff, self.horizon, self.settings)
        self._has_data[cutoff] = data is not None
        if data is None:
            self._models.update({(cutoff, k): None for k in kinds})
            return []
        x, y = _fillable(data[0]), data[1]
        cats = self.builder.categorical_mask()
        bins = {"lock": threading.Lock()}  # the models on these rows bin them once
        specs = [("quantile", q) for q in QUANTILES] if "quantile" in kinds else []
        if "mean" in kinds:
            if (y > 0).any():  # the Poisson loss needs a positive target somewhere
                specs.append(("poisson", None))
            else:
                self._models[(cutoff, "mean")] = None  # expected demand 0
        out = []
        for loss, q in specs:
            reg = _regressor(self.settings, loss, q, cats)
            reg.shared_bins = bins
            out.append((cutoff, loss, q, pool.submit(_limited(self.settings, reg.fit), x, y)))
        return out

    def _collect(self, submitted: list) -> None:
        quantiles = {}
        for cutoff, loss, q, future in submitted:
            reg = future.result()
            reg.shared_bins = None  # the binned rows are not kept with the model
            if loss == "poisson":
                self._models[(cutoff, "mean")] = reg
            else:
                quantiles[q] = reg
        if quantiles:
            self._models[(submitted[0][0], "quantile")] = [quantiles[q] for q in QUANTILES]

    def has_data(self, cutoff: int) -> bool:
        return self._has_data[cutoff]

    def quantile(self, cutoff: int):
        """The P10, P50, P90 models trained up to ``cutoff`` (None: no training rows)."""
        return self._models[(cutoff, "quantile")]

    def mean(self, cutoff: int):
        """The Poisson model trained up to ``cutoff`` (None: no positive target, mean 0)."""
        return self._models[(cutoff, "mean")]


def needs_of(cutoff: int, horizon: int, methods) -> dict[int, set[str]]:
    """The models a forecast at ``cutoff`` with ``methods`` uses, by training cutoff."""
    needs = {cutoff: {"quantile", "mean"}}
    if {"cqr", "conformal"} & set(methods):
        needs.setdefault(cutoff - horizon, set()).add("quantile")
    return needs


def fit_predict(
    panel: Panel,
    cutoff: int,
    horizon: int,
    settings: ModelSettings,
    methods=METHODS,
    models: GlobalModels | None = None,
) -> dict[str, Forecast]:
    """Train on periods ``<= cutoff`` and forecast ``cutoff + 1 .. cutoff + horizon`` with each
    interval method. Series with no observation up to the cutoff are not forecast. ``models``
    (of this panel, horizon and settings) reuses models already fitted."""
    models = models or GlobalModels(panel, horizon, settings)
    models.fit(needs_of(cutoff, horizon, methods))
    return _fit_predict(models, cutoff, methods)


@dataclass
class Fitted:
    """What a forecast from one fit needs, whatever the interval method: the P10, P50 and P90
    models (None: the fit had no training rows), the Poisson model (None: expected demand 0),
    and per horizon band the CQR margins (``widen``, lower and upper end) and the conformal
    offsets (``offsets``) from the calibration slice of that fit (zeros: nothing to calibrate
    on). It is what ``models.forecast.store`` keeps between runs, so a forecast made later
    from newer features is calibrated by the fit it predicts with."""

    quantile: list | None
    mean: object | None
    widen: np.ndarray
    offsets: np.ndarray


def fitted_at(models: GlobalModels, cutoff: int, methods=METHODS) -> Fitted:
    """The :class:`Fitted` of the models trained up to ``cutoff`` (fitted before, with
    :func:`needs_of`), calibrated for ``methods``."""
    n = min(4, models.horizon)
    widen, offsets = np.zeros((n, 2)), np.zeros((n, 2))
    if not models.has_data(cutoff):
        return Fitted(None, None, widen, offsets)
    cal = _calibration(models, cutoff) if {"cqr", "conformal"} & set(methods) else None
    if cal is not None and "cqr" in methods:
        widen = _per_band(cal, lambda c: cqr_margins(c["lo"], c["mid"], c["hi"], c["y"]))
    if cal is not None and "conformal" in methods:
        offsets = _per_band(cal, lambda c: np.quantile(c["y"] - c["mid"], [0.1, 0.9]))
    return Fitted(list(models.quantile(cutoff)), models.mean(cutoff), widen, offsets)


def _fit_predict(models: GlobalModels, cutoff, methods) -> dict[str, Forecast]:
    return predict(fitted_at(models, cutoff, methods), models.builder, cutoff, methods,
                   models.settings)  # fmt: skip


def predict(
    fitted: Fitted,
    builder: FeatureBuilder,
    cutoff: int,
    methods,
    settings: ModelSettings,
    series: np.ndarray | None = None,
) -> dict[str, Forecast]:
    """Forecast ``cutoff + 1 .. cutoff + horizon`` (the builder's horizon) from the features
    at ``cutoff`` with each interval method, with the models of ``fitted`` (trained up to
    ``cutoff`` or, stored, up to an earlier day). Series with no observation up to the
    cutoff are not forecast, nor those outside the boolean mask ``series`` (a SKU group):
    the features are still those of the whole panel, so a series' forecast is the same
    whichever others are forecast beside it."""
    panel, horizon = builder.panel, builder.horizon
    empty = np.full((panel.n_series, horizon), np.nan)
    if fitted.quantile is None:  # no usable history at all: the caller falls back
        return {m: Forecast(empty, empty, empty, empty) for m in methods}
    xp, s, t, scale = builder.rows(cutoff, range(1, horizon + 1), series)
    hp = t - cutoff - 1
    band = _bands(t - cutoff, horizon)
    regs = [*fitted.quantile, *([fitted.mean] if fitted.mean else [])]
    preds = _predict_all(settings, regs, xp)
    lo, mid, hi = preds[:3]
    mean = empty.copy()
    if len(s):
        mean[s, hp] = np.maximum(preds[3], 0.0) * scale if fitted.mean else 0.0

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
        widen = fitted.widen
        out["cqr"] = grid(lo - widen[band, 0], mid, hi + widen[band, 1])
    if "conformal" in methods:
        offsets = fitted.offsets
        out["conformal"] = grid(mid + offsets[band, 0], mid, mid + offsets[band, 1])
    return out


def _ordered(lo, mid, hi):
    """The bounds as the forecast reports them: non-negative and P10 <= P50 <= P90."""
    mid = np.maximum(mid, 0.0)
    return np.minimum(np.maximum(lo, 0.0), mid), mid, np.maximum(hi, mid)


def coverage_of(lo, mid, hi, y) -> float:
    p10, _, p90 = _ordered(lo, mid, hi)
    return float(((p10 <= y) & (y <= p90)).mean())


def _tail_margin(always: np.ndarray, score: np.ndarray, goal: float) -> float:
    """The smallest margin ``m`` with at least ``goal`` of the rows covered, a row covered
    when ``always`` or when its conformity ``score <= m`` (``-inf`` when the ``always`` rows
    suffice: the end can come in as far as the median)."""
    need = int(np.ceil(goal * always.size - 1e-9)) - int(always.sum())
    if need <= 0:
        return -np.inf
    return float(np.sort(score[~always])[need - 1])


def cqr_margins(lo, mid, hi, y, level: float = 0.8) -> tuple[float, float]:
    """Conformalised quantile regression with a margin per end (Romano, Patterson, Candes
    2019, the asymmetric variant): the lower end gets the smallest margin ``m_lo`` such that
    at least ``ceil((n + 1)(1 - a / 2)) / n`` of the calibration targets are at or above the
    reported ``lo - m_lo``, and the upper end its own ``m_hi`` with as many at or below
    ``hi + m_hi`` (``a = 1 - level``; each tail holds at most ``a / 2``, so the interval
    covers at least ``level``, by the union bound). The reported bounds are clipped at 0 and
    ordered around the median as :func:`_ordered` does, so the margins are found on them
    (exactly: each is an order statistic of its end's conformity scores ``lo - y`` or
    ``y - hi`` over the rows the median does not already cover). A margin is negative when
    that end is too far out, so each end also narrows; ``-inf`` brings it to the median.

    On count data this is what a quantile is: ``q`` is the ``t``-quantile of ``Y`` when
    ``P(Y < q) <= t <= P(Y <= q)``. Each end is calibrated on its strict tail, so on
    intermittent demand (mostly zeros) the lower end stays at 0 (nothing is below it) and the
    upper end alone moves; the symmetric margin (one ``m`` for both ends) cannot lower the
    upper end without lifting P10 off 0, which drops every zero at once."""
    y = np.asarray(y, float)
    n = y.size
    goal = min(1.0, np.ceil((n + 1) * (1 - (1 - level) / 2)) / n)
    mid = np.maximum(mid, 0.0)
    # upper: reported max(hi + m, mid) covers y when y <= mid or y - hi <= m
    m_hi = _tail_margin(y <= mid, y - hi, goal)
    # lower: reported min(max(lo - m, 0), mid) covers y when y >= mid, or 0 <= y and
    # lo - y <= m (a negative y is below every reported bound)
    m_lo = _tail_margin(y >= mid, np.where(y >= 0, lo - y, np.inf), goal)
    return m_lo, m_hi


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


def _calibration(models: GlobalModels, cutoff: int) -> dict | None:
    """The calibration slice, in time order after the training data: the P10/P50/P90 models
    fitted on targets up to ``cutoff - horizon`` predict the targets of the last ``horizon``
    periods (up to the cutoff; with a settle lag, the ``horizon`` periods up to the last
    settled one, the early models' targets ending as far before theirs), which they have not
    seen, from origins at most ``cutoff - horizon``. Scaled ``lo, mid, hi, y`` and the horizon ``band`` of every such observed
    target; None when there is nothing to calibrate on (the methods then keep the quantile
    models' interval, and the backtest's coverage says how good that is)."""
    builder, horizon = models.builder, models.horizon
    early = cutoff - horizon
    last = settled_end(cutoff, models.settings)
    regs = models.quantile(early)
    if regs is None:
        return None
    parts = []  # per origin (predicted origin by origin, so only one origin's rows are held)
    for a in range(early, max(early - horizon, 0), -1):
        hz = [h for h in range(1, horizon + 1) if last - horizon < a + h <= last]
        if not hz:
            continue
        xa, s, t, scale = builder.rows(a, hz)
        target = builder.panel.y[s, t]
        keep = ~np.isnan(target)
        if keep.any():
            preds = _predict_all(models.settings, regs, xa[keep])
            parts.append((*preds, target[keep] / scale[keep], t[keep] - a))
    if not parts:
        return None
    lo, mid, hi, y, h = (np.concatenate(v) for v in zip(*parts, strict=True))
    return {
        "lo": lo,
        "mid": mid,
        "hi": hi,
        "y": y,
        "band": _bands(h, horizon),
        "n_bands": min(4, horizon),
    }
