"""Forecasting in the whole graph on the end-to-end demo (45 days): the tables replenishment
reads, the report, and the adaptation of the plan to a short history."""

import polars as pl
import pytest

from ingest.config import connect
from models.forecast.schema import BACKTEST_METRICS, DEMAND_FORECAST
from tests.conftest import materialization_metadata


@pytest.fixture(scope="module")
def warehouse(built_demo):
    paths, _ = built_demo
    con = connect(paths.warehouse, read_only=True)
    yield con
    con.close()


def test_demand_forecast_has_the_interface_columns(warehouse):
    cols = warehouse.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'forecast' and table_name = 'demand_forecast' "
        "order by ordinal_position"
    ).fetchall()
    assert [c for c, _ in cols] == list(DEMAND_FORECAST)
    frame = warehouse.sql("select * from forecast.demand_forecast").pl()
    assert frame.height > 0
    assert (frame["p10"] <= frame["p50"]).all() and (frame["p50"] <= frame["p90"]).all()
    assert frame["cutoff"].n_unique() == 1 and (frame["ds"] > frame["cutoff"]).all()
    assert frame.select("sku", "location_id", "ds").is_duplicated().sum() == 0


def test_censored_days_are_masked_in_the_demand_frame(warehouse):
    frame = warehouse.sql("select * from forecast.demand_frame").pl()
    assert frame.filter(pl.col("censored"))["y"].null_count() == frame["censored"].sum() > 0
    # nothing to promise at the end of a snapshot day: the physical stock less what is sold
    # and not yet shipped (on hand alone would miss a day whose last units await shipping)
    out = warehouse.sql(
        "select sku, location_id, position_date as ds from marts.inventory_position "
        "where snapshot_status = 'current' and available_to_promise <= 0"
    ).pl()
    flagged = frame.filter(pl.col("censored")).select("sku", "location_id", "ds")
    assert flagged.sort(flagged.columns).equals(out.unique().sort(out.columns))


def test_backtest_adapts_to_the_short_history_and_reports(built_demo, warehouse):
    paths, result = built_demo
    meta = materialization_metadata(result, "forecast/backtest")
    assert meta["folds"] == 4 and meta["horizon"] < 28
    assert any("horizon shortened" in n for n in meta["plan_notes"])
    metrics = warehouse.sql("select * from forecast.backtest_metrics").pl()
    assert metrics.columns == list(BACKTEST_METRICS)
    assert set(metrics["model"]) == {
        "hgb_quantile",
        "hgb_cqr",
        "hgb_conformal",
        "hgb_mean",  # the expected-demand (Poisson) model, scored as a point forecast
        "seasonal_naive",
        "autoets",
    }
    assert {"channel", "category"} <= {s.split("=")[0] for s in metrics["slice"]}
    out = paths.exports / "forecasts"
    for name in ("report.html", "accuracy_by_model.png", "top_series.png", "demand_forecast.csv"):
        assert (out / name).stat().st_size > 0


def test_the_global_model_beats_seasonal_naive_on_the_demo(warehouse):
    """The issue's accuracy floor on the e2e demo (400 persons, 45 days: 4 folds x 7 days):
    the global model's P50 beats seasonal naive WAPE overall, whichever interval method is
    chosen (all three share the P50). Measured (``python -m tests.e2e_build``, the settings
    of ``E2E_FORECAST``, 2026-11-28): HGB 1.000, seasonal naive 1.865; coverage quantile 0.965,
    CQR 0.961, conformal 0.961 (the default settings: 0.966, 0.961, 0.961). At this scale the
    demand is so sparse that the P50 is 0 everywhere (WAPE 1.0 is the all-zero score): the
    floor holds but says little; the synthetic panel (tests/models/forecast/
    test_accuracy_floors.py) is the informative floor."""
    metrics = warehouse.sql(
        "select model, metric, value from forecast.backtest_metrics "
        "where fold = 'all' and slice = 'all'"
    ).pl()
    value = {(r["model"], r["metric"]): r["value"] for r in metrics.iter_rows(named=True)}
    hgb, naive = value[("hgb_cqr", "wape")], value[("seasonal_naive", "wape")]
    print(  # shown with pytest -rP: the figures behind the floor
        f"e2e demo WAPE: hgb {hgb:.3f}, seasonal naive {naive:.3f}; coverage quantile "
        f"{value[('hgb_quantile', 'coverage_p10_p90')]:.3f}, cqr "
        f"{value[('hgb_cqr', 'coverage_p10_p90')]:.3f}, conformal "
        f"{value[('hgb_conformal', 'coverage_p10_p90')]:.3f}"
    )
    assert hgb < naive
