"""Forecasting benchmark: the global model against AutoETS on the same synthetic daily series.

    .venv/bin/python bench/forecast.py --series 10000 --days 730 --horizon 28 --ets-sample 1000

Each model runs in its own child process (so peak RSS is its own): fit on every day but the
last ``horizon`` and forecast those. The global model is timed on all series; AutoETS (one
fit per series) on ``--ets-sample`` series spread evenly, and its time is extrapolated
linearly to all series when the sample is smaller (printed as such). WAPE on the held-out
days is printed for both, on the AutoETS sample.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import time

import numpy as np


def synthetic(series: int, days: int, seed: int = 0) -> np.ndarray:
    """Poisson demand with per-series level, weekly profile, yearly wave, trend, promotions
    and 5 % censored (missing) days."""
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    level = rng.gamma(1.5, 3.0, (series, 1))
    weekly = 1 + rng.uniform(0, 0.6, (series, 1)) * (t % 7 >= 5)
    yearly = 1 + 0.3 * np.sin(2 * np.pi * (t + rng.integers(0, 365, (series, 1))) / 365)
    trend = 1 + rng.normal(0, 0.3, (series, 1)) * t / days
    promo = 1 + (rng.random((series, days)) < 0.05)
    y = rng.poisson(level * weekly * yearly * np.clip(trend, 0.2, None) * promo).astype(float)
    y[rng.random((series, days)) < 0.05] = np.nan
    return y


def _panel(y: np.ndarray):
    import datetime as dt

    import polars as pl

    from models.forecast.panel import Panel

    return Panel(ids=pl.Series("unique_id", np.arange(y.shape[0])), start=dt.date(2023, 1, 1),
                 freq="D", y=y)  # fmt: skip


def run(model: str, series: int, days: int, horizon: int, sample: int, queue) -> None:
    from models.forecast.baselines import auto_ets, sample_series
    from models.forecast.model import ModelSettings, fit_predict

    y = synthetic(series, days)
    panel = _panel(y)
    cutoff = days - horizon - 1
    chosen = sample_series(series, sample)
    t0 = time.perf_counter()
    if model == "hgb_quantile":
        p50 = fit_predict(panel, cutoff, horizon, ModelSettings(threads=0), ["quantile"])[
            "quantile"
        ].p50
        fitted = series
    else:
        p50 = auto_ets(panel, cutoff, horizon, chosen)[1]
        fitted = int(chosen.sum())
    seconds = time.perf_counter() - t0
    actual = y[chosen, cutoff + 1 :]
    pred = p50[chosen]
    ok = ~np.isnan(actual)
    wape = float(np.abs(actual[ok] - pred[ok]).sum() / actual[ok].sum())
    queue.put(
        {
            "model": model,
            "series_fitted": fitted,
            "seconds": round(seconds, 1),
            "seconds_for_all_series": round(seconds * series / fitted, 1),
            "extrapolated": fitted < series,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "wape_on_sample": round(wape, 4),
        }
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--series", type=int, default=10_000)
    ap.add_argument("--days", type=int, default=730)
    ap.add_argument("--horizon", type=int, default=28)
    ap.add_argument("--ets-sample", type=int, default=1_000)
    args = ap.parse_args()
    ctx = mp.get_context("spawn")
    results = []
    for model in ("hgb_quantile", "autoets"):
        queue = ctx.Queue()
        proc = ctx.Process(
            target=run,
            args=(model, args.series, args.days, args.horizon, args.ets_sample, queue),
        )
        proc.start()
        results.append(queue.get())
        proc.join()
        print(json.dumps(results[-1]), flush=True)
    print(json.dumps({"args": vars(args), "results": results}, indent=1))


if __name__ == "__main__":
    main()
