"""The baselines every forecast is compared with, in the same run on the same rows:
seasonal naive (the value one season earlier, weekly seasonality for daily data, yearly for
weekly data) and statsforecast's AutoETS with its 80 % interval as P10/P90."""

from __future__ import annotations

import os
import warnings

import numpy as np
import polars as pl

from models.forecast.features import _nanmean, seasonal_lags
from models.forecast.panel import Panel


def seasonal_naive(panel: Panel, cutoff: int, horizon: int) -> np.ndarray:
    """P50 per series x horizon: the latest observed value at the same season position; where
    the season is longer than the history or every such value is censored, the mean of the
    last season; series without history are NaN."""
    hist = panel.y[:, : cutoff + 1]
    fallback = _nanmean(hist[:, -panel.season :])
    fallback = np.where(np.isnan(fallback), _nanmean(hist), fallback)
    out = np.full((panel.n_series, horizon), np.nan)
    for h in range(1, horizon + 1):
        lags = seasonal_lags(panel, cutoff, h)
        first = np.full(panel.n_series, np.nan)
        for j in range(lags.shape[1] - 1, -1, -1):
            first = np.where(np.isnan(lags[:, j]), first, lags[:, j])
        out[:, h - 1] = np.where(np.isnan(first), fallback, first)
    return out


def _filled_history(panel: Panel, cutoff: int, series: np.ndarray) -> pl.DataFrame:
    """Each series from its first observation to the cutoff, unobserved periods filled by
    linear interpolation (AutoETS needs a complete series; zeros would bias it down)."""
    hist = panel.y[:, : cutoff + 1]
    frames = []
    for s in np.flatnonzero(series):
        row = hist[s]
        obs = np.flatnonzero(~np.isnan(row))
        if obs.size == 0:
            continue
        t = np.arange(obs[0], row.size)
        vals = np.interp(t, obs, row[obs])
        frames.append(pl.DataFrame({"unique_id": np.full(t.size, s), "ds": t, "y": vals}))
    return pl.concat(frames) if frames else pl.DataFrame()


def sample_series(n_series: int, size: int) -> np.ndarray:
    """A deterministic, evenly spaced sample of ``size`` series (all when size is 0 or
    larger than the panel): AutoETS fits one model per series, the global model one for all."""
    mask = np.zeros(n_series, bool)
    if size <= 0 or size >= n_series:
        mask[:] = True
    else:
        mask[np.linspace(0, n_series - 1, size).round().astype(int)] = True
    return mask


def auto_ets(
    panel: Panel, cutoff: int, horizon: int, series: np.ndarray | None = None, n_jobs: int = 1
) -> tuple[np.ndarray, ...]:
    """P10, P50, P90 per series x horizon from statsforecast AutoETS (season length of the
    frequency when there are two full seasons of history, else none); Naive where AutoETS
    cannot fit; NaN outside ``series`` (default: every series). ``n_jobs`` processes fit
    (statsforecast's own; 1 on a busy machine, where a pool's start-up costs more)."""
    os.environ.setdefault("NIXTLA_ID_AS_COL", "1")
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, Naive

    out = tuple(np.full((panel.n_series, horizon), np.nan) for _ in range(3))
    series = np.ones(panel.n_series, bool) if series is None else series
    # a series whose every observation is 0 is forecast 0 with the interval [0, 0] by
    # AutoETS (and by its Naive fallback): set so instead of fitted, one fit per series
    hist = panel.y[:, : cutoff + 1]
    zero = series & ~np.isnan(hist).all(axis=1) & (np.nan_to_num(hist) == 0).all(axis=1)
    for arr in out:
        arr[zero] = 0.0
    series = series & ~zero
    df = _filled_history(panel, cutoff, series)
    if df.height == 0:
        return out
    season = panel.season if cutoff + 1 >= 2 * panel.season else 1
    sf = StatsForecast(
        models=[AutoETS(season_length=season)], freq=1, n_jobs=n_jobs, fallback_model=Naive()
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fc = sf.forecast(df=df.to_pandas(), h=horizon, level=[80])
    fc = pl.from_pandas(fc)
    s = fc["unique_id"].to_numpy().astype(int)
    h = fc["ds"].to_numpy().astype(int) - cutoff - 1
    for arr, col in zip(out, ("AutoETS-lo-80", "AutoETS", "AutoETS-hi-80"), strict=True):
        arr[s, h] = np.maximum(fc[col].to_numpy(), 0.0)
    return out
