"""End to end on the whole graph (session fixture ``built_demo``): the inventory marts agree
with the demo's truth and its allocation rules, the snapshot check ran and passed, and the
replenishment proposals and simulation were written from the forecast."""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl
import pytest


@pytest.fixture(scope="module")
def warehouse(built_demo):
    paths, _ = built_demo
    con = duckdb.connect(str(paths.warehouse), read_only=True)
    yield paths, con
    con.close()


def _current_beside_truth(warehouse, columns: str, *truth: pl.Expr | str) -> pl.DataFrame:
    """The truth's demand rows (every day x location x SKU it lists) with the position's
    ``columns`` of the same day where that day has its own snapshot (all of them do)."""
    paths, con = warehouse
    pos = con.sql(
        f"select position_date as date, location_id, sku, {columns} "
        "from marts.inventory_position where snapshot_status = 'current'"
    ).pl()
    keys = ["date", "location_id", "sku"]
    want = pl.read_parquet(paths.truth / "demand.parquet").select(*keys, *truth)
    joined = want.join(pos, on=keys, how="left")
    assert joined.height == want.height > 1000
    assert joined.select(pl.col(c).null_count() for c in pos.columns).sum_horizontal().item() == 0
    return joined


def test_on_hand_equals_the_truth_stock_at_the_end_of_each_day(warehouse):
    """Where the position has its own snapshot that day, on hand is the truth's physical
    stock: opening stock less the day's sales plus what is sold and not yet shipped, for
    every (day, location, SKU) the truth lists."""
    joined = _current_beside_truth(
        warehouse,
        "on_hand",
        (pl.col("on_hand_start") - pl.col("sold_units") + pl.col("reserved")).alias("end"),
    )
    assert (joined["on_hand"] == joined["end"]).all()


def test_in_transit_equals_the_truth_and_enters_the_position(warehouse):
    """The ERP snapshot's in-transit units (purchase orders placed, not yet received) are the
    truth's on every (day, location, SKU) with a current snapshot, and the inventory position
    a proposal reads is on hand + in transit - committed."""
    _, con = warehouse
    pos = _current_beside_truth(
        warehouse,
        "in_transit, on_hand, sold_since_snapshot, reserved, inventory_position",
        pl.col("in_transit").alias("truth_in_transit"),
    )
    assert (pos["in_transit"] == pos["truth_in_transit"]).all()
    assert pos["in_transit"].sum() > 0  # the demo planner's orders are on the way
    assert (
        pos["inventory_position"]
        == pos["on_hand"] - pos["sold_since_snapshot"] - pos["reserved"] + pos["in_transit"]
    ).all()
    lines = con.sql(
        "select on_hand, in_transit, committed, inventory_position "
        "from replenishment.replenishment_proposals"
    ).pl()
    assert lines["in_transit"].sum() > 0
    assert (
        lines["inventory_position"] == lines["on_hand"] + lines["in_transit"] - lines["committed"]
    ).all()


def test_positions_are_fresh_and_atp_adds_up(warehouse):
    _, con = warehouse
    latest = con.sql(
        "select snapshot_status, count(*) as n, sum(available_to_promise) as atp, "
        "sum(on_hand) as on_hand "
        "from marts.inventory_position where is_latest group by 1"
    ).pl()
    by = {r["snapshot_status"]: r for r in latest.to_dicts()}
    assert set(by) <= {"current", "delisted"}  # the demo ERP delivers every day
    assert by["current"]["n"] > 100
    # a fresh snapshot counts what is sold and not shipped: that much is not promisable
    reserved = con.sql(
        "select sum(reserved) from marts.inventory_position where is_latest "
        "and snapshot_status = 'current'"
    ).fetchone()[0]
    assert reserved > 0
    assert by["current"]["atp"] == by["current"]["on_hand"] - reserved > 0


def test_channel_atp_follows_the_allocation_rules(warehouse):
    """FBA stock serves only Amazon of its own country; store stock only the store channels;
    buffers are held back."""
    _, con = warehouse
    sources = con.sql(
        """
        select distinct a.atp_channel, l.location_type, l.country
        from marts.channel_atp as a
        join marts.inventory_position as p
            on p.is_latest and p.sku = a.sku
        join staging.stg_lake__locations as l on l.location_id = p.location_id
        join reference.allocation_rules as r
            on r.atp_channel = a.atp_channel and r.location_type = l.location_type
            and (r.country is null or r.country = l.country)
        """
    ).pl()
    fba = sources.filter(pl.col("location_type") == "fba")
    assert set(fba["atp_channel"]) == {"amazon_us", "amazon_de", "amazon_uk"}
    stores = sources.filter(pl.col("location_type") == "store")
    assert set(stores["atp_channel"]) == {"pos", "bopis", "same_city"}
    totals = con.sql(
        "select atp_channel, sum(available_to_promise) atp, sum(safety_buffer) buf, "
        "sum(channel_atp) c from marts.channel_atp group by 1"
    ).pl()
    t = {r["atp_channel"]: r for r in totals.to_dicts()}
    # one network pool of the CN warehouses for every CN online channel
    assert t["tmall"]["atp"] == t["jd"]["atp"] == t["web"]["atp"] > 0
    assert t["douyin"]["buf"] >= t["jd"]["buf"]  # the larger live-commerce buffer
    assert t["bopis"]["c"] < t["pos"]["c"]  # BOPIS keeps a walk-in buffer, POS does not
    # per SKU, Amazon US availability is exactly the US FBA node's ATP
    us = con.sql(
        "select sum(available_to_promise) from marts.inventory_position p "
        "where is_latest and location_id like 'FBA-US-%'"
    ).fetchone()[0]
    assert t["amazon_us"]["atp"] == us


def test_the_snapshot_check_ran_and_passed(built_demo):
    _, result = built_demo
    evals = [
        e
        for e in result.get_asset_check_evaluations()
        if e.check_name == "inventory_snapshots_are_fresh"
    ]
    assert len(evals) == 1 and evals[0].passed


def test_replenishment_proposals_cover_the_latest_positions(warehouse):
    """One proposal line per listed position; purchases obey MOQ and case pack; the CSVs for
    planners are written under the position date."""
    paths, con = warehouse
    positions = con.sql(
        "select count(*) from marts.inventory_position "
        "where is_latest and snapshot_status <> 'delisted'"
    ).fetchone()[0]
    lines = con.sql("select * from replenishment.replenishment_proposals").pl()
    assert lines.height == positions > 0
    assert lines["reason"].null_count() == 0
    planned = lines.filter(pl.col("reorder_point").is_not_null())
    assert planned.height > positions / 2  # most positions have a forecast (routed or own)
    buys = lines.filter(pl.col("order_qty") > 0)
    assert ((buys["order_qty"] % buys["case_pack"]) == 0).all()
    assert (buys["order_qty"] >= buys["moq"]).all()
    as_of = lines["position_date"].max().isoformat()
    folder = paths.exports / "replenishment" / as_of
    assert (folder / "replenishment_proposals.csv").exists()
    assert (folder / "transfer_proposals.csv").exists()


def test_policy_simulation_measures_both_policies(warehouse):
    _, con = warehouse
    sim = con.sql("select policy, metric, value from replenishment.policy_simulation").pl()
    fill = {r["policy"]: r["value"] for r in sim.filter(pl.col("metric") == "fill_rate").to_dicts()}
    assert set(fill) == {
        "forecast", "forecast + transfers", "naive", "forecast, unit lots", "naive, unit lots",
        "demo planner (actual)",
    }  # fmt: skip
    assert all(0 < v <= 1 for v in fill.values())
    moved = sim.filter(pl.col("metric") == "units_transferred")
    assert {r["policy"]: r["value"] for r in moved.to_dicts()}["forecast"] == 0


def _open_by_day(lines: pl.DataFrame, last_day) -> pl.DataFrame:
    """Units of ``lines`` placed by the end of each day and not shipped by then, per day x
    location x SKU (``ship_date`` null: not shipped by the last day)."""
    return (
        lines.with_columns(pl.col("ship_date").fill_null(last_day + dt.timedelta(days=1)))
        .with_columns(
            pl.date_ranges("business_date", pl.col("ship_date") - dt.timedelta(days=1)).alias(
                "date"
            )
        )
        .explode("date")
        .drop_nulls("date")
        .group_by("date", "location_id", "sku")
        .agg(pl.col("quantity").sum().alias("open_units"))
    )


def test_reserved_is_the_truth_units_sold_and_not_yet_shipped(warehouse):
    """On every day with a current snapshot, reserved is the truth's units placed and not
    shipped by the day's end at that location, and available-to-promise the truth's free
    stock (opening stock less the day's sales), wherever the exports could tell: rows where
    some open unit belongs to a line whose export names no location (Tmall, WeChat, Amazon)
    or gives no ship time though it shipped (JD) are left out, and counted."""
    paths, con = warehouse
    joined = _current_beside_truth(
        warehouse,
        "on_hand, sold_since_snapshot, reserved, available_to_promise",
        pl.col("reserved").alias("truth_reserved"),
        (pl.col("on_hand_start") - pl.col("sold_units")).alias("truth_free"),
    )
    lines = pl.read_parquet(paths.truth / "sales_lines.parquet").filter(
        (pl.col("status") != "cancelled") & ~pl.col("is_test") & ~pl.col("is_brushing")
    )
    seen = (
        con.sql(
            "select channel, order_id, line_id, sku as wh_sku, location_id as wh_location, "
            "ship_date as wh_ship_date from marts.fct_order_lines"
        )
        .pl()
        .with_columns(pl.col("order_id").str.split(" ").list.last())
    )
    lines = lines.join(seen, on=["channel", "order_id", "line_id"], how="left").with_columns(
        (
            pl.col("wh_location").is_not_null()
            & (pl.col("wh_sku") == pl.col("sku"))
            & (
                (pl.col("channel") == "pos")
                | pl.col("wh_ship_date").is_not_null()
                | pl.col("ship_date").is_null()
            )
        )
        .fill_null(False)
        .alias("knowable")
    )
    # where the export gives a ship time, it is the truth's ship date
    timed = lines.filter(pl.col("wh_ship_date").is_not_null())
    assert timed.height > 100 and (timed["wh_ship_date"] == timed["ship_date"]).all()
    last = joined["date"].max()
    blind = _open_by_day(lines.filter(~pl.col("knowable")), last)
    joined = joined.join(blind, on=["date", "location_id", "sku"], how="left")
    told = joined.filter(pl.col("open_units").is_null())
    assert told.height > joined.height / 2
    assert told.filter(pl.col("truth_reserved") > 0).height >= 50
    assert (told["reserved"] == told["truth_reserved"]).all()
    assert (told["available_to_promise"] == told["truth_free"]).all()
    # elsewhere the position misses only the units it could not see, never invents any
    rest = joined.filter(pl.col("open_units").is_not_null())
    assert (rest["reserved"] == rest["truth_reserved"] - rest["open_units"]).all()
    assert (joined["available_to_promise"] == joined["on_hand"] - joined["reserved"]).all()
