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

import numpy as np

from models.forecast.calendar import calendar_features
from models.forecast.panel import Panel

WINDOWS = {"D": (7, 28, 91), "W": (4, 13, 52)}
CAP = 400  # periods: ages and recencies beyond this say nothing more


def _nanmean(a: np.ndarray) -> np.ndarray:
    """``np.nanmean(a, axis=1)`` (the same arithmetic, so the same bits), NaN for a row
    without any value, and no warning: ``warnings.catch_warnings`` is not thread-safe, and
    the global model builds features while its fits run in other threads."""
    if not a.shape[1]:
        return np.full(a.shape[0], np.nan)
    mask = np.isnan(a)
    cnt = np.sum(~mask, axis=1, dtype=np.intp)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sum(np.where(mask, 0.0, a), axis=1) / cnt


def _nanstd(a: np.ndarray) -> np.ndarray:
    """``np.nanstd(a, axis=1)`` computed as numpy does, without its warning."""
    if not a.shape[1]:
        return np.full(a.shape[0], np.nan)
    mask = np.isnan(a)
    arr = np.where(mask, 0.0, a)
    cnt = np.sum(~mask, axis=1, dtype=np.intp, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        arr -= np.sum(arr, axis=1, keepdims=True) / cnt
        arr[mask] = 0.0
        return np.sqrt(np.sum(arr * arr, axis=1) / cnt[:, 0])


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

    def feature_names(self) -> list[str]:
        """The model's columns, in order (what a stored fit must have been trained on)."""
        if self.names is None:
            anchor = self.panel.n_periods - 1
            none = np.zeros(0, np.int64)
            self.assemble(anchor, *anchor_features(self.panel, anchor), none, none)
        assert self.names is not None
        return self.names

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
        anchor (or the given ``series``) and every horizon in ``horizons`` (horizon-major:
        every series for the first horizon, then for the next)."""
        feats, scale = anchor_features(self.panel, anchor)
        live = ~np.isnan(scale) if series is None else series & ~np.isnan(scale)
        s_idx = np.flatnonzero(live)
        hz = np.asarray(list(horizons), dtype=np.int64)
        s = np.tile(s_idx, len(hz))
        h = np.repeat(hz, len(s_idx))
        return self.assemble(anchor, feats, scale, s, h), s, anchor + h, scale[s]

    def assemble(
        self, anchor: int, feats: dict[str, np.ndarray], scale: np.ndarray, s, h
    ) -> np.ndarray:
        """The feature rows of the (series ``s``, horizon ``h``) pairs at one anchor, from
        that anchor's ``anchor_features``: only the rows asked for are built (training
        samples a few of every series x horizon, so it builds those alone)."""
        names = [
            *feats,
            "seasonal_naive",
            "seasonal_mean",
            "horizon",
            *self.calendar_names,
            *self.future,
            *self.static_names,
        ]
        if self.names is None:
            self.names = names
        n = len(s)
        x = np.empty((n, len(names)))
        j = 0
        for k in feats:
            x[:, j] = feats[k][s]
            j += 1
        lags = np.empty((n, 4))
        for hv in np.unique(h):
            sel = h == hv
            lags[sel] = seasonal_lags(self.panel, anchor, int(hv))[s[sel]]
        lags /= scale[s, None]
        x[:, j], x[:, j + 1] = lags[:, 0], _nanmean(lags)
        x[:, j + 2] = h
        j += 3
        t = anchor + h
        c = self.calendar.shape[1]
        x[:, j : j + c] = self.calendar[t]
        j += c
        for k in self.future:
            x[:, j] = self.future[k][s, t]
            j += 1
        for k in self.static_names:
            code = self.panel.static[k][s]
            x[:, j] = np.where(code >= 0, code, np.nan)
            j += 1
        return x
