"""Accuracy metrics on observed (non-censored) points only.

- WAPE = sum |y - p50| / sum y
- bias = sum (p50 - y) / sum y (positive: over-forecast)
- coverage = share of points with p10 <= y <= p90 (the nominal P10-P90 interval is 80 %);
  also on the points with y > 0 alone (``coverage_p10_p90_nonzero``), beside the share of
  zero actuals (``zero_share``): an interval from P10 = 0 covers every zero actual; and per
  tail, the shares of actuals below P10 (``below_p10``) and above P90 (``above_p90``)
- on count data, ties: ``q`` is the ``t``-quantile of a discrete ``Y`` when
  ``P(Y < q) <= t <= P(Y <= q)``, so a calibrated P10 has ``below_p10`` (strictly below) at
  most 10 % and ``at_or_below_p10`` at least 10 %, and P90 likewise with ``above_p90`` and
  ``at_or_above_p90``; the P10-P90 interval of a calibrated discrete forecast covers
  between ``coverage_p10_p90_open`` (``p10 < y < p90``) and ``coverage_p10_p90`` (ends
  included), which bracket 80 %. On continuous targets the two coincide. The closed
  coverage of intermittent demand is above 80 % by construction: a zero actual at P10 = 0 is
  a tie, counted as covered (:func:`tail_calibrated` is the test that allows for ties)
- pinball = mean over q in (0.1, 0.5, 0.9) of sum rho_q(y, p_q) / sum y, times 2 (so that a
  model whose three quantiles are all the median scores its WAPE)
- interval score (Winkler) of the P10-P90 interval (alpha = 0.2): mean of
  (p90 - p10) + 10 * (p10 - y)+ + 10 * (y - p90)+, over the mean of y: the width plus a
  penalty for every miss, so it rewards an interval that is narrow and covers (proper: the
  true P10 and P90 minimise it)
- MASE: per series and fold, MAE / the mean absolute seasonal difference of the series'
  history before the cutoff (lag 1 if the history is shorter than a season); the mean over
  series-folds whose scale is positive.
"""

from __future__ import annotations

import numpy as np
import polars as pl


def wape(y, p50) -> float:
    y, p50 = np.asarray(y, float), np.asarray(p50, float)
    den = np.abs(y).sum()
    return float(np.abs(y - p50).sum() / den) if den > 0 else float("nan")


def bias(y, p50) -> float:
    y, p50 = np.asarray(y, float), np.asarray(p50, float)
    den = np.abs(y).sum()
    return float((p50 - y).sum() / den) if den > 0 else float("nan")


def coverage(y, p10, p90) -> float:
    y = np.asarray(y, float)
    if y.size == 0:
        return float("nan")
    return float(((np.asarray(p10) <= y) & (y <= np.asarray(p90))).mean())


def pinball(y, p10, p50, p90) -> float:
    y = np.asarray(y, float)
    den = np.abs(y).sum()
    if den == 0:
        return float("nan")
    total = 0.0
    for q, p in ((0.1, p10), (0.5, p50), (0.9, p90)):
        d = y - np.asarray(p, float)
        total += np.maximum(q * d, (q - 1) * d).sum()
    return float(2 * total / (3 * den))


def interval_score(y, p10, p90, alpha: float = 0.2) -> float:
    y, lo, hi = (np.asarray(v, float) for v in (y, p10, p90))
    den = np.abs(y).mean() if y.size else 0.0
    if den == 0:
        return float("nan")
    score = (hi - lo) + (2 / alpha) * (np.maximum(lo - y, 0) + np.maximum(y - hi, 0))
    return float(score.mean() / den)


def mase_scale(history: np.ndarray, season: int) -> np.ndarray:
    """Per series (rows), mean |y_t - y_{t-m}| over pairs both observed before the cutoff;
    m is the season when the history holds at least one pair at that lag, else 1."""
    out = np.full(history.shape[0], np.nan)
    for m in (season, 1):
        if history.shape[1] <= m:
            continue
        d = np.abs(history[:, m:] - history[:, :-m])
        n = (~np.isnan(d)).sum(axis=1)
        val = np.where(n > 0, np.nansum(d, axis=1) / np.maximum(n, 1), np.nan)
        out = np.where(np.isnan(out), val, out)
    return out


def metric_rows(frame: pl.DataFrame, model: str, has_interval: bool) -> dict[str, float]:
    """The metrics of one model on one slice of backtest rows (columns y, mase_scale,
    unique_id, fold, and ``<model>_p10/_p50/_p90``); rows the model did not forecast (a
    baseline run on a sample) are left out."""
    frame = frame.filter(pl.col(f"{model}_p50").is_not_null() & pl.col(f"{model}_p50").is_not_nan())
    if frame.height == 0:
        return {}
    y = frame["y"].to_numpy()
    p50 = frame[f"{model}_p50"].to_numpy()
    out = {"wape": wape(y, p50), "bias": bias(y, p50), "n": float(len(y))}
    per = (
        frame.with_columns(ae=(pl.col("y") - pl.col(f"{model}_p50")).abs())
        .group_by("unique_id", "fold")
        .agg(pl.col("ae").mean(), pl.col("mase_scale").first())
        .filter(pl.col("mase_scale").is_not_nan() & (pl.col("mase_scale") > 0))
    )
    out["mase"] = float((per["ae"] / per["mase_scale"]).mean()) if per.height else float("nan")
    if has_interval:
        p10, p90 = frame[f"{model}_p10"].to_numpy(), frame[f"{model}_p90"].to_numpy()
        out["coverage_p10_p90"] = coverage(y, p10, p90)
        # on intermittent demand most actuals are 0, which an interval from P10 = 0 covers
        # however wide it is: the coverage of the days that sold says how the upper end does
        sold = y > 0
        out["coverage_p10_p90_nonzero"] = coverage(y[sold], p10[sold], p90[sold])
        out["zero_share"] = float((y == 0).mean())
        # per tail: a calibrated P10 / P90 has at most / about 10 % of actuals beyond it
        out["below_p10"] = float((y < p10).mean())
        out["above_p90"] = float((y > p90).mean())
        out["at_or_below_p10"] = float((y <= p10).mean())
        out["at_or_above_p90"] = float((y >= p90).mean())
        out["coverage_p10_p90_open"] = float(((p10 < y) & (y < p90)).mean())
        out["pinball"] = pinball(y, p10, p50, p90)
        out["interval_score"] = interval_score(y, p10, p90)
    return out


TAIL = 0.10  # the nominal share beyond each end of the P10-P90 interval
TAIL_TOLERANCE = 0.05  # per tail; both tails at the limit give the 70-90 % coverage band


def tail_calibrated(values: dict[str, float], tolerance: float = TAIL_TOLERANCE) -> bool:
    """Whether each end of the P10-P90 interval is a calibrated quantile, ties allowed: the
    shares strictly beyond it at most ``TAIL + tolerance`` and the shares at or beyond it at
    least ``TAIL - tolerance`` (``values``: the metrics of :func:`metric_rows`). On continuous
    targets this is each tail within 10 % +- 5 points, so the coverage is within 70-90 %; on
    count data an actual equal to the bound may fall on either side (the randomised PIT
    convention), so a lower end at 0 with most actuals 0 is calibrated, which it is: nothing
    can be below 0. An end too far out fails the second condition, too far in the first."""
    keys = ("below_p10", "at_or_below_p10", "above_p90", "at_or_above_p90")
    v = [values.get(k, float("nan")) for k in keys]
    if any(x is None or np.isnan(x) for x in v):
        return False
    below, at_or_below, above, at_or_above = v
    return bool(
        below <= TAIL + tolerance
        and at_or_below >= TAIL - tolerance
        and above <= TAIL + tolerance
        and at_or_above >= TAIL - tolerance
    )
