"""Re-runs are safe: the whole graph materialised a second time, on a file copy of the built
e2e demo, changes nothing. A module of its own so it is scheduled last (``tests/conftest.py``):
the build process materialises the copy while every other test runs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl

from ingest.config import DataPaths
from tests.conftest import materialization_metadata
from tests.test_end_to_end import _manifest_status, _warehouse


def test_rerunning_the_whole_graph_changes_nothing(built_demo, rerun_of_built_demo):
    """The whole graph materialised again on a file copy of the built demo (the build process
    runs it while the other tests run) changes no lake file, manifest or mart row."""
    paths, _ = built_demo
    before = _warehouse(paths, "select * from marts.fct_daily_sales order by daily_sales_id")
    lake_files = sorted(p.name for p in paths.lake.rglob("*.parquet"))
    again_paths, again = rerun_of_built_demo
    assert again_paths.root != paths.root
    assert again.success
    assert sorted(p.name for p in again_paths.lake.rglob("*.parquet")) == lake_files
    assert set(_manifest_status(again_paths).values()) <= {"loaded", "duplicate", "superseded"}
    after = _warehouse(again_paths, "select * from marts.fct_daily_sales order by daily_sales_id")
    assert after.equals(before)
    # the forecast: the first build fitted and stored the global models (none were stored);
    # the rerun predicted from them, without a fit, and forecast the same rows
    first_fit = materialization_metadata(built_demo[1], "forecast/forecast_model")
    rerun_fit = materialization_metadata(again, "forecast/forecast_model")
    assert first_fit["fit"] == "refitted" and "no stored fit" in first_fit["fit_reason"]
    assert rerun_fit["fit"] == "predicted", rerun_fit["fit_reason"]
    assert (rerun_fit["fit_date"], rerun_fit["fitted_at"]) == (
        first_fit["fit_date"],
        first_fit["fitted_at"],
    )
    assert Path(rerun_fit["fit_store"]).resolve() == (again_paths.models / "forecast").resolve()
    # the fit trained on settled days only: its targets end where the channels that still
    # deliver have all delivered (models.forecast.settle), recorded with the reason
    last = _warehouse(
        paths, "select channel, max(order_date) as d from marts.fct_order_lines group by 1"
    )
    cutoff = dt.date.fromisoformat(first_fit["fit_date"])
    settled = min([cutoff] + [d for d in last["d"] if d >= cutoff - dt.timedelta(days=28)])
    assert first_fit["fit_complete_through"] == first_fit["complete_through"] == str(settled)
    assert first_fit["settle_lag_days"] == (cutoff - settled).days
    assert first_fit["fit_settle_reason"] == first_fit["settle_reason"] != ""
    sql = "select * from forecast.demand_forecast order by sku, location_id, ds"
    assert _warehouse(again_paths, sql).equals(_warehouse(paths, sql))


# Columns that hold the time of the run that wrote the row, not data.
RUN_TIME = {"computed_at"}
# A log: one row per segment and run (models/segments/store.py).
SEGMENT_RUNS = "segments.segment_runs"


def _every_table(paths: DataPaths) -> dict[str, pl.DataFrame]:
    """Every table and view of the warehouse, rows sorted, run-time columns left out, floats to
    6 decimals (a sum in another order differs in the last bits: forecast.backtest_metrics)."""
    con = duckdb.connect(str(paths.warehouse), read_only=True)
    try:
        names = con.sql(
            "select table_schema || '.' || table_name from information_schema.tables"
        ).fetchall()
        out = {}
        for (name,) in names:
            frame = con.sql(f"select * from {name}").pl()
            frame = frame.drop([c for c in frame.columns if c in RUN_TIME])
            frame = frame.with_columns(pl.col(pl.Float32, pl.Float64).round(6))
            out[name] = frame.sort(frame.columns, nulls_last=True)
        return out
    finally:
        con.close()


def test_rerunning_the_whole_graph_changes_no_table(built_demo, rerun_of_built_demo):
    """Every table and view the first build wrote holds the same rows after the re-run, but
    the log of segment runs, which gains one row per segment: the same members, nobody
    joined or left."""
    first, again = _every_table(built_demo[0]), _every_table(rerun_of_built_demo[0])
    assert len(first) > 80 and first.keys() == again.keys()
    del first[SEGMENT_RUNS], again[SEGMENT_RUNS]
    assert [name for name in first if not again[name].equals(first[name])] == []

    sql = f"select * exclude (run_at) from {SEGMENT_RUNS} order by run_at"
    runs, runs_again = _warehouse(built_demo[0], sql), _warehouse(rerun_of_built_demo[0], sql)
    n = runs.height
    assert n > 0 and runs_again.height == 2 * n
    assert runs_again.head(n).sort("segment").equals(runs.sort("segment"))
    unchanged = runs.with_columns(pl.col("joined", "left_") * 0)
    assert runs_again.tail(n).sort("segment").equals(unchanged.sort("segment"))
