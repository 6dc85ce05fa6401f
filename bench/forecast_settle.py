"""What late data costs a stored forecast fit, and what training only on settled days gives back.

    .venv/bin/python bench/forecast_settle.py --fit-day data/bench/b0 --new-day data/bench/d-new

``--fit-day`` is a full build made with the last day held back (``zhongtai demo generate
--hold-back-days 1`` then ``zhongtai materialize``: its weekly exports have not yet delivered
the last days), ``--new-day`` the same tree after the new day (``bench/incremental.py
--from``). Both are only read (their ``forecast.demand_frame`` and ``marts.fct_order_lines``).
Per setting (``--settle 0``: targets up to the cutoff, as before; ``auto``: up to the day the
data is complete through, ``models.forecast.settle``) it prints the new day's expected demand
(the ``mean`` column of the future forecast, summed) from

- ``stored``: the fit made on the fit day's data, stored, then used to predict from the new
  day's features (what the daily asset does between weekly refits);
- ``refit``: a fit on the new day's data;
- ``complete``: a fit on the new day's (complete) data cut at the fit day (or
  ``--complete-day``), stored, then used to predict from the new day (what the stored fit
  would be without late data; no settling).

Fits use the asset's default settings (``ForecastConfig``; ``--seed`` its row sampling).
``--backtest`` instead runs the asset's rolling-origin backtest (4 folds x 28 days, the
global model's three interval methods and seasonal naive; no AutoETS) on the fit day's data
per setting and prints WAPE, MASE, bias and coverage. Writes ``--out`` as JSON. Never part
of ``make test``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from pathlib import Path

import duckdb
import polars as pl

from models.forecast.backtest import backtest, choose_method, comparison
from models.forecast.pipeline import SLICES, demand_panel, future_forecast
from models.forecast.settle import settle
from models.forecast.warehouse import delivered_days
from orchestration.defs.forecast import ForecastConfig


def _read(tree: Path):
    con = duckdb.connect(str(tree / "warehouse.duckdb"), read_only=True)
    try:
        frame = con.sql("select * from forecast.demand_frame").pl()
        last_days = delivered_days(con)
        metrics = con.sql("select * from forecast.backtest_metrics").pl()
    finally:
        con.close()
    return frame, last_days, metrics


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fit-day", type=Path, required=True)
    ap.add_argument("--new-day", type=Path, required=True)
    ap.add_argument("--settle", nargs="+", default=["0", "auto"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--backtest", action="store_true")
    ap.add_argument(
        "--complete-day",
        type=dt.date.fromisoformat,
        help="cut the new day's data here for the complete-data fit (default: the fit day)",
    )
    ap.add_argument("--out", type=Path, default=Path("data/bench/forecast_settle.json"))
    args = ap.parse_args()
    config = ForecastConfig(seed=args.seed)
    frame0, days0, _ = _read(args.fit_day)
    if args.backtest:
        _backtest(config, demand_panel(frame0), days0, args)
        return
    frame1, days1, metrics = _read(args.new_day)
    model = choose_method(metrics)
    p0, p1 = demand_panel(frame0), demand_panel(frame1)
    fit_day = p0.date(p0.n_periods - 1)
    cut = args.complete_day or fit_day
    pc = demand_panel(frame1.filter(pl.col("ds") <= cut))
    out = {"model": model, "fit_day": str(fit_day), "new_day": str(p1.date(p1.n_periods - 1))}
    h = config.horizon

    def total(frame) -> float:
        return round(float(frame["mean"].sum()), 1)

    def via_store(fit_panel, settled) -> tuple[float, dict]:
        with tempfile.TemporaryDirectory() as store:
            _, _, info = future_forecast(
                fit_panel, h, config.settings(settled.lag_days), model, Path(store), 7, settled
            )
            fc, _, info2 = future_forecast(
                p1, h, config.settings(0), model, Path(store), 7, settled
            )
            assert info.action == "refitted" and info2.action == "predicted", info2
            return total(fc), info.metadata()

    refits: dict[int, float] = {}
    for value in args.settle:
        t0 = time.perf_counter()
        s0 = settle(value, days0, fit_day)
        s1 = settle(value, days1, p1.date(p1.n_periods - 1))
        stored, meta = via_store(p0, s0)
        if s1.lag_days not in refits:  # the same lag on the new day: the same fit
            fc, _, _ = future_forecast(p1, h, config.settings(s1.lag_days), model)
            refits[s1.lag_days] = total(fc)
        row = {
            "fit_day_settled": s0.metadata(),
            "new_day_settled": s1.metadata(),
            "stored_fit_window": meta["fit_training_window"],
            "stored": stored,
            "refit": refits[s1.lag_days],
            "seconds": round(time.perf_counter() - t0, 1),
        }
        out[f"settle={value}"] = row
        print(value, json.dumps(row), flush=True)
    sc = settle("0", days1, cut)
    out["complete"], _ = via_store(pc, sc)
    out["complete_day"] = str(cut)
    print("complete", out["complete"], flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))


def _backtest(config: ForecastConfig, panel, days: dict, args) -> None:
    models = ["hgb_quantile", "hgb_cqr", "hgb_conformal", "seasonal_naive"]
    keep = ("model", "wape", "mase", "bias", "coverage_p10_p90", "interval_score")
    out = {}
    for value in args.settle:
        t0 = time.perf_counter()
        s = settle(value, days, panel.date(panel.n_periods - 1))
        result = backtest(
            panel, config.horizon, config.folds, config.settings(s.lag_days), models, SLICES
        )
        table = comparison(result.metrics).select([c for c in keep])
        out[f"settle={value}"] = {
            "settled": s.metadata(),
            "chosen": choose_method(result.metrics),
            "metrics": table.rows(named=True),
            "seconds": round(time.perf_counter() - t0, 1),
        }
        print(value, s.metadata(), out[f"settle={value}"]["chosen"], flush=True)
        print(table, flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
