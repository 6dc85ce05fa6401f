"""Rolling-origin backtest and the future forecast, on any panel.

Folds: ``K`` cutoffs ``H`` periods apart, the last one ``H`` periods before the end, so the
test windows tile the last ``K x H`` periods without overlap. Each fold trains on periods at
or before its cutoff and forecasts the next ``H``. When the history is too short for the
requested horizon and folds, the horizon is shortened first, then the folds, and the plan
says so (``notes``) instead of failing.

Every model forecasts the same rows (series with history at the cutoff); only observed
targets are scored (a censored or missing period has no truth to score).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from models.forecast.baselines import auto_ets, sample_series, seasonal_naive
from models.forecast.features import FeatureBuilder
from models.forecast.metrics import mase_scale, metric_rows, tail_calibrated
from models.forecast.model import (
    METHODS,
    Fitted,
    GlobalModels,
    ModelSettings,
    fit_predict,
    needs_of,
    predict,
)
from models.forecast.panel import Panel

MODELS = ("hgb_quantile", "hgb_cqr", "hgb_conformal", "seasonal_naive", "autoets")
HGB_MODELS = tuple(m for m in MODELS if m.startswith("hgb_"))
# the P10-P90 interval is nominally 80 %; on continuous targets a coverage in this band counts
# as calibrated (on count data, with ties at the bounds: models.forecast.metrics.tail_calibrated)
COVERAGE_RANGE = (0.70, 0.90)
NOMINAL_COVERAGE = 0.80
MIN_HISTORY = {"D": 14, "W": 8}


@dataclass
class Plan:
    horizon: int
    folds: int
    cutoffs: list[int]
    notes: list[str] = field(default_factory=list)


def plan_folds(n_periods: int, freq: str, horizon: int, folds: int) -> Plan:
    """The largest horizon (then folds) up to those asked that leaves ``MIN_HISTORY`` periods,
    and at least two horizons, of history before the first cutoff."""
    if horizon < 1 or folds < 1:
        raise ValueError("horizon and folds must be at least 1")
    h, k, notes = horizon, folds, []

    def fits(h: int, k: int) -> bool:
        return n_periods - k * h >= max(MIN_HISTORY[freq], 2 * h)

    while h > 1 and not fits(h, k):
        h -= 1
    while k > 1 and not fits(h, k):
        k -= 1
    if not fits(h, k):
        raise ValueError(
            f"{n_periods} periods of history are too few for a backtest (need at least "
            f"{MIN_HISTORY[freq] + 1})"
        )
    if h != horizon:
        notes.append(f"horizon shortened from {horizon} to {h}: only {n_periods} periods")
    if k != folds:
        notes.append(f"folds reduced from {folds} to {k}: only {n_periods} periods")
    cutoffs = [n_periods - 1 - h * j for j in range(k, 0, -1)]
    return Plan(h, k, cutoffs, notes)


def hgb_methods(models) -> list[str]:
    """The interval methods of the global model among ``models`` (``hgb_cqr`` -> ``cqr``)."""
    return [m for m in METHODS if f"hgb_{m}" in models]


def forecast_at(
    panel: Panel,
    cutoff: int,
    horizon: int,
    settings: ModelSettings,
    models,
    ets_series=None,
    global_models: GlobalModels | None = None,
    fitted: Fitted | None = None,
    series: np.ndarray | None = None,
):
    """``{model: (p10, p50, p90)}`` arrays series x horizon, made from periods <= cutoff;
    seconds spent per model in ``timings``; the global model's expected demand (its Poisson
    model, the same for every interval method) as ``out["hgb_mean"]``, a 1-tuple. AutoETS
    runs on ``ets_series`` (default all). ``global_models`` (of this panel, horizon and
    settings) holds global models already fitted; ``fitted`` (a stored fit,
    ``models.forecast.store``) predicts from the features at the cutoff without fitting, only
    the series of the boolean mask ``series`` when given (the others' global-model rows stay
    NaN)."""
    out, timings = {}, {}
    mean = None
    methods = hgb_methods(models)
    if methods:
        t0 = time.perf_counter()
        if fitted is not None:
            fc = predict(fitted, FeatureBuilder(panel, horizon), cutoff, methods, settings, series)
        else:
            fc = fit_predict(panel, cutoff, horizon, settings, methods, global_models)
        for m, f in fc.items():
            out[f"hgb_{m}"] = (f.p10, f.p50, f.p90)
            mean = f.mean
            timings[f"hgb_{m}"] = (time.perf_counter() - t0) / len(fc)
    if "seasonal_naive" in models:
        t0 = time.perf_counter()
        p50 = seasonal_naive(panel, cutoff, horizon)
        out["seasonal_naive"] = (None, p50, None)
        timings["seasonal_naive"] = time.perf_counter() - t0
    if "autoets" in models:
        t0 = time.perf_counter()
        out["autoets"] = auto_ets(panel, cutoff, horizon, ets_series)
        timings["autoets"] = time.perf_counter() - t0
    # a series every baseline forecasts but the global model could not: seasonal naive
    fallback = out.get("seasonal_naive", (None, seasonal_naive(panel, cutoff, horizon), None))[1]
    for name, (p10, p50, p90) in list(out.items()):
        miss = np.isnan(p50) & ~np.isnan(fallback)
        if name == "autoets" and ets_series is not None:
            miss &= ets_series[:, None]
        if miss.any():
            p50 = np.where(miss, fallback, p50)
            p10 = None if p10 is None else np.where(miss, fallback, p10)
            p90 = None if p90 is None else np.where(miss, fallback, p90)
            out[name] = (p10, p50, p90)
    if mean is not None:
        miss = np.isnan(mean) & ~np.isnan(fallback)
        out["hgb_mean"] = (np.where(miss, fallback, mean),)
    return out, timings


@dataclass
class BacktestResult:
    plan: Plan
    forecasts: pl.DataFrame  # unique_id, ds, cutoff, fold, horizon, y, mase_scale, <m>_p..
    metrics: pl.DataFrame  # model, fold, slice, metric, value
    seconds: dict[str, float]
    models: tuple[str, ...]


def backtest(
    panel: Panel,
    horizon: int,
    folds: int = 4,
    settings: ModelSettings | None = None,
    models=MODELS,
    slices: list[str] | tuple = (),
    autoets_sample: int = 0,
) -> BacktestResult:
    """Rolling-origin cross-validation of ``models``; metrics per fold and overall, for all
    rows and per value of each static column named in ``slices``. With ``autoets_sample``
    > 0, AutoETS forecasts only that many series (evenly spaced) and every model is also
    scored on those rows alone (slice ``autoets_sample``), the fair comparison with it."""
    settings = settings or ModelSettings()
    ets_series = sample_series(panel.n_series, autoets_sample)
    sampled = "autoets" in models and not ets_series.all()
    plan = plan_folds(panel.n_periods, panel.freq, horizon, folds)
    h = plan.horizon
    seconds: dict[str, float] = {}
    frames = []
    global_models = None
    methods = hgb_methods(models)
    if methods:
        # every fold's global models fitted up front, each distinct one once, side by side
        # (the calibration models of a fold are the forecasting models of the fold before)
        t0 = time.perf_counter()
        global_models = GlobalModels(panel, h, settings)
        needs: dict[int, set[str]] = {}
        for cutoff in plan.cutoffs:
            for c, kinds in needs_of(cutoff, h, methods).items():
                needs.setdefault(c, set()).update(kinds)
        global_models.fit(needs)
        for m in methods:
            seconds[f"hgb_{m}"] = (time.perf_counter() - t0) / len(methods)
    for fold, cutoff in enumerate(plan.cutoffs, start=1):
        fc, timings = forecast_at(panel, cutoff, h, settings, models, ets_series, global_models)
        for k, v in timings.items():
            seconds[k] = seconds.get(k, 0.0) + v
        scale = mase_scale(panel.y[:, : cutoff + 1], panel.season)
        s, hp = np.nonzero(~np.isnan(fc[models[0]][1]))
        t = cutoff + 1 + hp
        y = panel.y[s, t]
        keep = ~np.isnan(y)
        s, hp, t, y = s[keep], hp[keep], t[keep], y[keep]
        cols = {
            "unique_id": panel.ids.gather(s),
            "ds": pl.Series(panel.date(t)).cast(pl.Date),
            "cutoff": pl.Series([panel.date(cutoff)] * len(s), dtype=pl.Date),
            "fold": np.full(len(s), fold, np.int32),
            "horizon": (hp + 1).astype(np.int32),
            "y": y,
            "mase_scale": scale[s],
        }
        if sampled:
            cols["autoets_sample"] = pl.Series(ets_series[s]).cast(pl.String)
        if "hgb_mean" in fc:
            cols["hgb_mean"] = fc["hgb_mean"][0][s, hp]
        for name in models:
            p10, p50, p90 = fc[name]
            cols[f"{name}_p50"] = p50[s, hp]
            if p10 is not None:
                cols[f"{name}_p10"] = p10[s, hp]
                cols[f"{name}_p90"] = p90[s, hp]
        for c in slices:
            labels = np.array(panel.static_labels[c] + [None], dtype=object)
            cols[c] = pl.Series(c, labels[panel.static[c][s]], dtype=pl.String)
        frames.append(pl.DataFrame(cols))
    forecasts = pl.concat(frames, how="vertical_relaxed")
    metrics = metrics_table(forecasts, models, [*slices, *(["autoets_sample"] if sampled else [])])
    return BacktestResult(plan, forecasts, metrics, seconds, tuple(models))


def metrics_table(forecasts: pl.DataFrame, models, slices=()) -> pl.DataFrame:
    """model, fold ("1".."K" or "all"), slice ("all" or "<column>=<value>"), metric, value."""
    rows = []
    groups = [("all", None, None)] + [
        (f"{c}={v}", c, v) for c in slices for v in forecasts[c].drop_nulls().unique().sort()
    ]
    folds = sorted(forecasts["fold"].unique().to_list())
    for name in models:
        for label, col, val in groups:
            part = forecasts if col is None else forecasts.filter(pl.col(col) == val)
            for fold in ["all", *folds]:
                rows_f = part if fold == "all" else part.filter(pl.col("fold") == fold)
                if rows_f.height == 0:
                    continue
                for metric, value in metric_rows(
                    rows_f, name, f"{name}_p10" in forecasts.columns
                ).items():
                    rows.append((name, str(fold), label, metric, value))
                if name == models[0] and "hgb_mean" in forecasts.columns:
                    # the expected-demand model, scored as a point forecast (WAPE is
                    # minimised by the median, so a mean scores worse on it by design)
                    for metric, value in metric_rows(
                        rows_f.with_columns(hgb_mean_p50=pl.col("hgb_mean")), "hgb_mean", False
                    ).items():
                        rows.append(("hgb_mean", str(fold), label, metric, value))
    return pl.DataFrame(
        rows, schema=["model", "fold", "slice", "metric", "value"], orient="row"
    ).with_columns(pl.col("value").cast(pl.Float64))


def comparison(metrics: pl.DataFrame) -> pl.DataFrame:
    """Overall metrics, one row per model (the table the CLI prints)."""
    return (
        metrics.filter((pl.col("fold") == "all") & (pl.col("slice") == "all"))
        .pivot(on="metric", index="model", values="value")
        .sort("model")
    )


def choose_method(metrics: pl.DataFrame) -> str:
    """The HGB interval method a planner should get, from the overall backtest metrics:
    among methods whose two ends are calibrated quantiles (:func:`tail_calibrated`: each tail
    within 10 % +- 5 points, ties on count data allowed), the one with the lowest interval
    (Winkler) score, i.e. the sharpest of the calibrated; when none is, the one whose
    coverage range (open to closed, :mod:`models.forecast.metrics`) is nearest the nominal
    80 % (then the lower interval score). ``hgb_quantile`` when nothing was measured."""
    over = metrics.filter((pl.col("fold") == "all") & (pl.col("slice") == "all"))
    val = {(r["model"], r["metric"]): r["value"] for r in over.iter_rows(named=True)}
    scored = []
    for m in HGB_MODELS:
        mine = {metric: v for (model, metric), v in val.items() if model == m}
        cov, score = mine.get("coverage_p10_p90"), mine.get("interval_score")
        if cov is None or score is None or np.isnan(cov) or np.isnan(score):
            continue
        calibrated = tail_calibrated(mine)
        scored.append((not calibrated, 0.0 if calibrated else coverage_gap(mine), score, m))
    return min(scored)[3] if scored else "hgb_quantile"


def coverage_gap(values: dict[str, float]) -> float:
    """How far the coverage range [open, closed] of the P10-P90 interval is from the nominal
    80 % (0 when it contains it; the closed coverage alone when the open one is missing)."""
    closed = values.get("coverage_p10_p90", float("nan"))
    open_ = values.get("coverage_p10_p90_open", closed)
    return float(max(0.0, NOMINAL_COVERAGE - closed, open_ - NOMINAL_COVERAGE))
