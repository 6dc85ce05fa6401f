"""Re-runs are safe: the whole graph materialised a second time, on a file copy of the built
e2e demo, changes nothing. A module of its own so it is scheduled last (``tests/conftest.py``):
the build process materialises the copy while every other test runs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

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
