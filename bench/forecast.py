"""Forecasting benchmark: the global model beside statsforecast AutoETS on the same synthetic
daily series, in one run, each side in its own child process (so peak RSS is its own).

    .venv/bin/python bench/forecast.py --series 10000 --days 730 --horizon 28 --ets-sample 1000

``--mode fit-predict`` (default; what the issue asks: fit + predict): one forecast of the
``--horizon`` days after a cutoff ``--horizon`` days before the end, as the ``demand_forecast``
asset makes it (``models.forecast.pipeline.future_forecast``'s call):

- ``hgb``: the global model with the conformalised (CQR) interval: the P10/P50/P90 models
  and the Poisson mean model fitted on every series up to the cutoff, the P10/P50/P90 models
  again up to ``cutoff - horizon`` for the calibration slice, and the prediction of every
  series (7 fits, one predict);
- ``autoets``: AutoETS fitted and forecast once per series at the same cutoff, on
  ``--ets-sample`` series spread evenly (all when 0), its time extrapolated linearly to all
  series when the sample is smaller (printed as such).

``--mode backtest``: the whole rolling-origin backtest of the forecast asset instead
(``--folds`` origins, the three interval methods plus seasonal naive: 4 x folds + 3 fits)
beside AutoETS at the same ``--folds`` cutoffs.

WAPE and P10-P90 coverage of the held-out days are printed for both on the AutoETS sample.

Both sides get the same parallelism, ``--jobs`` (default 1: one core each): the global model
``ModelSettings(jobs=N, threads=1)`` (N fits or predictions at once, one OpenMP thread each),
AutoETS ``StatsForecast(n_jobs=N)`` (N worker processes). Per side: wall and CPU seconds of
the timed part (the process's threads and its waited-for worker processes) and the peak
resident memory of the side's process tree, sampled from /proc every 0.2 s by
``bench/scale.py``'s ``Sampler`` (and the process's own ``ru_maxrss``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path

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


def run(model: str, args: dict, queue) -> None:
    from models.forecast.backtest import backtest, plan_folds
    from models.forecast.baselines import auto_ets, sample_series
    from models.forecast.model import ModelSettings, fit_predict

    series, days, horizon = args["series"], args["days"], args["horizon"]
    y = synthetic(series, days)
    panel = _panel(y)
    jobs = args.get("jobs", 1)
    settings = ModelSettings(jobs=jobs, threads=1)
    chosen = sample_series(series, args["ets_sample"])
    if args["mode"] == "backtest":
        plan = plan_folds(days, "D", horizon, args["folds"])
        cutoffs, h = plan.cutoffs, plan.horizon
    else:
        cutoffs, h = [days - 1 - horizon], horizon
    if model == "autoets":
        # statsforecast compiles its kernels (numba) on the first fit: done once, untimed, so
        # that the extrapolation to all series does not multiply the compile time
        auto_ets(panel, cutoffs[0], h, sample_series(series, 2), n_jobs=1)
    t0, c0 = time.perf_counter(), time.process_time()
    k0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if model == "hgb" and args["mode"] == "backtest":
        models = ["hgb_quantile", "hgb_cqr", "hgb_conformal", "seasonal_naive"]
        result = backtest(panel, horizon, args["folds"], settings, models)
        fc = result.forecasts.filter(np.asarray(chosen)[result.forecasts["unique_id"].to_numpy()])
        actual, p10, p50, p90 = (
            fc[c].to_numpy() for c in ("y", "hgb_cqr_p10", "hgb_cqr_p50", "hgb_cqr_p90")
        )
        fitted = series
    else:
        parts = []
        for cutoff in cutoffs:
            if model == "hgb":
                f = fit_predict(panel, cutoff, h, settings, ("cqr",))["cqr"]
                lo, mid, hi = f.p10, f.p50, f.p90
            else:
                lo, mid, hi = auto_ets(panel, cutoff, h, chosen, n_jobs=jobs)
            truth = y[chosen, cutoff + 1 : cutoff + 1 + h]
            ok = ~np.isnan(truth)
            parts.append((truth[ok], lo[chosen][ok], mid[chosen][ok], hi[chosen][ok]))
        actual, p10, p50, p90 = (np.concatenate(v) for v in zip(*parts, strict=True))
        fitted = series if model == "hgb" else int(chosen.sum())
    k1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds = time.perf_counter() - t0
    # this process's threads, plus its worker processes (statsforecast's pool) once reaped
    cpu = time.process_time() - c0 + (k1.ru_utime + k1.ru_stime) - (k0.ru_utime + k0.ru_stime)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    label = {"hgb": "hgb_cqr (fit + predict)", "autoets": "autoets (fit + predict)"}[model]
    if args["mode"] == "backtest":
        label = "backtest (hgb x3 methods + naive)" if model == "hgb" else "autoets (backtest)"
    queue.put(
        {
            "model": label,
            "jobs": jobs,
            "series_fitted": fitted,
            "cutoffs_x_horizon": f"{len(cutoffs)}x{h}",
            "seconds": round(seconds, 1),
            "seconds_for_all_series": round(seconds * series / fitted, 1),
            "extrapolated": fitted < series,
            # CPU of the timed part alone (every thread of the process): on a shared machine
            # the figure to compare, as wall seconds are mostly waiting for a core
            "cpu_seconds": round(cpu, 1),
            "cpu_seconds_for_all_series": round(cpu * series / fitted, 1),
            "cpu_seconds_process": round(usage.ru_utime + usage.ru_stime, 1),
            "peak_rss_mb_process": round(usage.ru_maxrss / 1024),
            "wape_on_sample": round(float(np.abs(actual - p50).sum() / actual.sum()), 4),
            "coverage_on_sample": round(float(((p10 <= actual) & (actual <= p90)).mean()), 4),
        }
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--series", type=int, default=10_000)
    ap.add_argument("--days", type=int, default=730)
    ap.add_argument("--horizon", type=int, default=28)
    ap.add_argument("--ets-sample", type=int, default=1_000)
    ap.add_argument("--folds", type=int, default=4, help="backtest mode only")
    ap.add_argument("--mode", choices=("fit-predict", "backtest"), default="fit-predict")
    ap.add_argument("--jobs", type=int, default=1, help="parallelism of both sides alike")
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from scale import Sampler

    ctx = mp.get_context("spawn")
    results = []
    for model in ("hgb", "autoets"):
        queue = ctx.Queue()
        proc = ctx.Process(target=run, args=(model, vars(args), queue))
        proc.start()
        sampler = Sampler(proc.pid, 0.2)
        sampler.start()
        res = queue.get()
        proc.join()
        sampler.stop.set()
        sampler.join()
        res["peak_rss_mb_tree"] = round(max(x["rss"] for x in sampler.samples) / 2**20)
        res["load_average"] = [
            round(x["load"], 1) for x in sampler.samples[:: max(1, len(sampler.samples) // 10)]
        ]
        results.append(res)
        print(json.dumps(results[-1]), flush=True)
    print(json.dumps({"args": vars(args), "results": results}, indent=1))


if __name__ == "__main__":
    main()
