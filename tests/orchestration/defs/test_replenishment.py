"""The replenishment assets and checks, invoked on a small warehouse written here with a
synthetic forecast (the forecast package writes the real one): the proposals asset writes its
tables and CSVs, the order-rules check passes on them and fails on a broken line, and the
simulation asset measures both policies on a synthetic truth."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import duckdb
import polars as pl
import pytest

from orchestration.defs.replenishment import (
    policy_simulation,
    proposals_respect_order_rules,
    replenishment_proposals,
)

AS_OF = dt.date(2025, 3, 31)


@pytest.fixture
def warehouse(data_dir):
    con = duckdb.connect(str(data_dir.warehouse))
    con.execute("create schema marts; create schema staging; create schema forecast")
    con.execute(
        """create table staging.stg_lake__locations as select * from (values
        ('WH-SH', 'warehouse', 'Shanghai', 'CN'), ('ST-SH-01', 'store', 'Shanghai', 'CN'),
        ('ST-BJ-01', 'store', 'Beijing', 'CN'), ('FBA-US-X', 'fba', 'Los Angeles', 'US'))
        as t(location_id, location_type, city, country)"""
    )
    con.execute(
        """create table staging.stg_lake__products as select * from (values
        ('A', '面霜', 'skincare', 50.0), ('B', '口红', 'makeup', 20.0))
        as t(sku, name_zh, category, unit_cost)"""
    )
    # on hand per (location, sku); A: the warehouse is long, the Shanghai store short
    stock = {
        ("WH-SH", "A"): 200, ("ST-SH-01", "A"): 1, ("ST-BJ-01", "A"): 0, ("FBA-US-X", "A"): 3,
        ("WH-SH", "B"): 5, ("ST-SH-01", "B"): 30, ("ST-BJ-01", "B"): 2, ("FBA-US-X", "B"): 90,
    }  # fmt: skip
    rows = pl.DataFrame(
        [
            {
                "position_date": AS_OF,
                "location_id": loc,
                "location_type": loc.split("-")[0]
                .replace("WH", "warehouse")
                .replace("ST", "store")
                .replace("FBA", "fba"),
                "sku": sku,
                "snapshot_status": "current",
                "on_hand": q,
                "in_transit": 0,
                "sold_since_snapshot": 0,
                "reserved": 0,
                "available_to_promise": q,
                "inventory_position": q,
                "is_latest": True,
            }
            for (loc, sku), q in stock.items()
        ]
    )
    # Tmall sold B without a location: its UNASSIGNED forecast is routed to the CN warehouse
    con.execute(
        """create table marts.fct_daily_sales as select * from (values
        (date '2025-03-30', 'tmall', 'UNASSIGNED', 'B', 'CNY', 10),
        (date '2025-03-30', 'pos', 'ST-SH-01', 'A', 'CNY', 3))
        as t(sales_date, channel, location_id, sku, currency, units_sold)"""
    )
    con.register("rows", rows.to_arrow())
    con.execute("create table marts.inventory_position as select * from rows")
    fc = pl.DataFrame(
        [
            {
                "sku": sku,
                "location_id": loc,
                "ds": AS_OF + dt.timedelta(days=h),
                "cutoff": AS_OF,
                "horizon": h,
                "p10": 1.0,
                "p50": 2.0,
                "p90": 4.0,
                "model": "gbm",
            }
            for (loc, sku) in [*stock, ("UNASSIGNED", "B")]
            for h in range(1, 29)
        ]
    )
    con.register("fc", fc.to_arrow())
    con.execute("create table forecast.demand_forecast as select * from fc")
    bt = pl.concat(
        [
            fc.with_columns(
                (pl.col("ds") - dt.timedelta(days=28 * k)),
                (pl.col("cutoff") - dt.timedelta(days=28 * k)),
                pl.lit(k, pl.Int32).alias("fold"),
                pl.lit(2.0).alias("y"),
            )
            for k in (1, 2)
        ]
    )
    con.register("bt", bt.to_arrow())
    con.execute("create table forecast.backtest_forecasts as select * from bt")
    con.close()
    return data_dir


def test_proposals_asset_writes_tables_csvs_and_passes_its_check(warehouse):
    result = dg.materialize([replenishment_proposals])
    assert result.success
    con = duckdb.connect(str(warehouse.warehouse), read_only=True)
    lines = con.sql("select * from replenishment.replenishment_proposals").pl()
    transfers = con.sql("select * from replenishment.transfer_proposals").pl()
    con.close()
    assert lines.height == 8 and lines["reason"].null_count() == 0
    # the Shanghai and Beijing stores get A from the long warehouse before anything is bought
    assert set(transfers.filter(pl.col("sku") == "A")["to_location_id"]) == {
        "ST-SH-01",
        "ST-BJ-01",
    }
    assert set(transfers["from_location_id"]) <= {"WH-SH", "ST-SH-01"}
    # the warehouse plans B on its own 2/day plus the 2/day Tmall routes to it
    wh_b = lines.filter((pl.col("location_id") == "WH-SH") & (pl.col("sku") == "B"))
    assert wh_b["mean_daily_demand"][0] == pytest.approx(4.0)
    folder = warehouse.exports / "replenishment" / AS_OF.isoformat()
    csv = pl.read_csv(folder / "replenishment_proposals.csv")
    assert (
        csv.height == lines.filter((pl.col("order_qty") > 0) | (pl.col("transfer_in") > 0)).height
    )
    assert (folder / "transfer_proposals.csv").exists()
    assert proposals_respect_order_rules().passed


def test_order_rules_check_fails_on_a_broken_line(warehouse):
    assert dg.materialize([replenishment_proposals]).success
    con = duckdb.connect(str(warehouse.warehouse))
    con.execute(
        "update replenishment.replenishment_proposals set order_qty = 5 "
        "where location_id = 'WH-SH' and sku = 'B'"
    )
    con.close()
    check = proposals_respect_order_rules()
    assert not check.passed
    assert "WH-SH B: 5" in check.metadata["first"].value


def test_proposals_fail_loudly_without_a_forecast(warehouse):
    con = duckdb.connect(str(warehouse.warehouse))
    con.execute("drop table forecast.demand_forecast")
    con.close()
    with pytest.raises(Exception, match="forecast.demand_forecast is not in the warehouse"):
        dg.materialize([replenishment_proposals])


def test_simulation_asset_compares_the_policies(warehouse):
    truth_dir = warehouse.truth
    truth_dir.mkdir(parents=True)
    start = AS_OF - dt.timedelta(days=28 * 2 + 40)
    pl.DataFrame(
        [
            {
                "date": start + dt.timedelta(days=d),
                "sku": sku,
                "location_id": loc,
                "true_demand": 2 + (d % 3 == 0),
                "sold_units": 2,
                "on_hand_start": 40,
                "stockout": False,
            }
            for d in range(40 + 28 * 2 + 1)
            for loc, sku in [("WH-SH", "A"), ("ST-SH-01", "A"), ("FBA-US-X", "B")]
        ]
    ).write_parquet(truth_dir / "demand.parquet")
    result = dg.materialize([policy_simulation])
    assert result.success
    meta = result.asset_materializations_for_node("replenishment__policy_simulation")[0].metadata
    assert meta["pairs"].value == 3
    for policy in ("forecast", "naive"):
        assert 0 < meta[f"{policy}/fill_rate"].value <= 1
    assert (warehouse.exports / "replenishment" / "simulation.md").exists()
