"""Features of a forecast made at an origin (the *anchor*) for a target ``h`` periods later.

The leakage rule lives here and only here: everything derived from ``y`` or from past-only
exogenous columns is computed on ``panel.y[:, : anchor + 1]`` (the slice is taken first, the
rest of the matrix is never touched). The target period contributes only what is known in
advance: its calendar and events, its planned price and promotion (future exogenous
columns), and the horizon. Static categories describe the series.

Level features are divided by the series' scale (its mean over the longest window), so one
global model serves slow and fast movers; the scale itself is a feature (log) and the
training weight, which makes the weighted loss on scaled targets equal to the loss in units.
"""

from __future__ import annotations

import warnings

import numpy as np

from models.forecast.calendar import calendar_features
from models.forecast.panel import Panel

WINDOWS = {"D": (7, 28, 91), "W": (4, 13, 52)}
CAP = 400  # periods: ages and recencies beyond this say nothing more


def _nanmean(a: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(a, axis=1) if a.shape[1] else np.full(a.shape[0], np.nan)


def _nanstd(a: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanstd(a, axis=1) if a.shape[1] else np.full(a.shape[0], np.nan)


def _periods_since(mask: np.ndarray) -> np.ndarray:
    """Periods since the last True in each row (CAP when never)."""
    n = mask.shape[1]
    if n == 0:
        return np.full(mask.shape[0], float(CAP))
    last = n - 1 - np.argmax(mask[:, ::-1], axis=1)
    out = (n - 1 - last).astype(float)
    out[~mask.any(axis=1)] = CAP
    return np.minimum(out, CAP)


def series_scale(hist: np.ndarray, long_window: int) -> np.ndarray:
    """Mean of the last ``long_window`` observed periods, else of all history; NaN for a
    series without any observation. Zero scales get a floor (a tenth of the median positive
    scale) so that scaled values stay finite."""
    scale = _nanmean(hist[:, -long_window:])
    scale = np.where(np.isnan(scale), _nanmean(hist), scale)
    positive = scale[scale > 0]
    floor = 0.1 * float(np.median(positive)) if positive.size else 1.0
    return np.where(scale > 0, scale, np.where(np.isnan(scale), np.nan, floor))


def anchor_features(panel: Panel, anchor: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per-series features at an origin, from periods ``<= anchor`` only, and the scale."""
    hist = panel.y[:, : anchor + 1]  # the leakage rule: nothing after the anchor
    w1, w2, w3 = WINDOWS[panel.freq]
    scale = series_scale(hist, w3)
    obs = ~np.isnan(hist)
    feats: dict[str, np.ndarray] = {}
    for w in (w1, w2, w3):
        feats[f"level_{w}"] = _nanmean(hist[:, -w:]) / scale
    feats[f"std_{w2}"] = _nanstd(hist[:, -w2:]) / scale
    recent = hist[:, -w2:]
    n_obs = (~np.isnan(recent)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        feats[f"zero_share_{w2}"] = np.where(
            n_obs > 0, (recent == 0).sum(axis=1) / np.maximum(n_obs, 1), np.nan
        )
    feats[f"observed_share_{w2}"] = n_obs / max(recent.shape[1], 1)
    since_obs = _periods_since(obs)
    last_idx = np.clip(hist.shape[1] - 1 - since_obs.astype(int), 0, max(hist.shape[1] - 1, 0))
    last = hist[np.arange(hist.shape[0]), last_idx] if hist.shape[1] else np.nan
    feats["last"] = np.where(since_obs < CAP, last, np.nan) / scale
    feats["since_last_observed"] = since_obs
    feats["since_last_positive"] = _periods_since(np.nan_to_num(hist) > 0)
    first = np.where(obs.any(axis=1), np.argmax(obs, axis=1), hist.shape[1])
    feats["age"] = np.minimum(hist.shape[1] - first, CAP).astype(float)
    feats["log_scale"] = np.log1p(scale)
    for name, mat in panel.past_exog.items():
        past = mat[:, : anchor + 1]
        short, long = _nanmean(past[:, -w1:]), _nanmean(past[:, -w3:])
        feats[f"{name}_recent"] = short
        with np.errstate(invalid="ignore", divide="ignore"):
            feats[f"{name}_trend"] = np.where(long != 0, short / long, np.nan)
    return feats, scale


def seasonal_lags(panel: Panel, anchor: int, h: int, n: int = 4) -> np.ndarray:
    """Values at the same season position as target ``anchor + h`` in the last ``n``
    seasons that end at or before the anchor (series x n; NaN where unobserved)."""
    hist = panel.y[:, : anchor + 1]
    m = panel.season
    k0 = -(-h // m)
    out = np.full((hist.shape[0], n), np.nan)
    for j in range(n):
        idx = anchor + h - m * (k0 + j)
        if 0 <= idx <= anchor:
            out[:, j] = hist[:, idx]
    return out


class FeatureBuilder:
    """Rows of features for (series, anchor, horizon) triples of one panel."""

    def __init__(self, panel: Panel, horizon: int):
        self.panel = panel
        self.horizon = horizon
        cal = calendar_features(panel.dates(horizon + 1), panel.freq)
        self.calendar_names = [c for c in cal.columns if c != "ds"]
        self.calendar = cal.select(self.calendar_names).to_numpy().astype(float)
        # future exogenous values beyond the panel: the series' last known value carried
        self.future = {}
        for name, mat in panel.future_exog.items():
            ext = np.concatenate([mat, np.full((mat.shape[0], horizon + 1), np.nan)], axis=1)
            idx = np.where(~np.isnan(ext), np.arange(ext.shape[1]), 0)
            idx = np.maximum.accumulate(idx, axis=1)
            self.future[name] = np.take_along_axis(ext, idx, axis=1)
        self.static_names = list(panel.static)
        self.names: list[str] | None = None

    def categorical_mask(self) -> list[bool]:
        assert self.names is not None
        return [
            n in self.static_names and len(self.panel.static_labels.get(n, [])) < 250
            for n in self.names
        ]

    def rows(
        self, anchor: int, horizons, series: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``X, series index, target period, scale`` for every series with history at the
        anchor (or the given ``series``) and every horizon in ``horizons``."""
        feats, scale = anchor_features(self.panel, anchor)
        live = ~np.isnan(scale) if series is None else series & ~np.isnan(scale)
        s_idx = np.flatnonzero(live)
        blocks, s_all, t_all = [], [], []
        for h in horizons:
            t = anchor + h
            cols = [feats[k][s_idx] for k in feats]
            lags = seasonal_lags(self.panel, anchor, h)[s_idx] / scale[s_idx, None]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                cols += [lags[:, 0], np.nanmean(lags, axis=1), np.full(len(s_idx), float(h))]
            cal = np.broadcast_to(self.calendar[t], (len(s_idx), self.calendar.shape[1]))
            cols += [cal[:, j] for j in range(cal.shape[1])]
            cols += [self.future[k][s_idx, t] for k in self.future]
            cols += [
                np.where(self.panel.static[k][s_idx] >= 0, self.panel.static[k][s_idx], np.nan)
                for k in self.static_names
            ]
            blocks.append(np.column_stack(cols) if cols else np.empty((len(s_idx), 0)))
            s_all.append(s_idx)
            t_all.append(np.full(len(s_idx), t))
        if self.names is None:
            self.names = [
                *feats,
                "seasonal_naive",
                "seasonal_mean",
                "horizon",
                *self.calendar_names,
                *self.future,
                *self.static_names,
            ]
        if not blocks:
            return np.empty((0, len(self.names))), *(np.empty(0, int),) * 2, np.empty(0)
        s_cat = np.concatenate(s_all)
        return np.vstack(blocks), s_cat, np.concatenate(t_all), scale[s_cat]
