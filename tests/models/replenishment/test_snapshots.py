"""The stale/missing snapshot rule passes on fresh snapshots and fails on old or absent ones."""

from __future__ import annotations

import datetime as dt

from ingest.config import connect
from models.replenishment.snapshots import snapshot_problems

D = dt.date(2025, 3, 10)


def _warehouse(positions, locations):
    con = connect()
    con.execute("create schema marts; create schema staging")
    con.execute(
        "create table marts.inventory_position (position_date date, location_id varchar, "
        "sku varchar, snapshot_date date, snapshot_age_days integer, snapshot_status varchar, "
        "is_latest boolean)"
    )
    con.execute("create table staging.stg_lake__locations (location_id varchar, opened_date date)")
    for loc, sku, snap, status in positions:
        con.execute(
            "insert into marts.inventory_position values (?, ?, ?, ?, ?, ?, true)",
            [D, loc, sku, snap, (D - snap).days, status],
        )
    for loc, opened in locations:
        con.execute("insert into staging.stg_lake__locations values (?, ?)", [loc, opened])
    return con


def test_fresh_snapshots_pass():
    con = _warehouse(
        [("WH", "A", D, "current"), ("WH", "B", D - dt.timedelta(1), "delisted")],
        [("WH", dt.date(2020, 1, 1)), ("ST-NEW", D + dt.timedelta(5))],  # not open yet
    )
    assert snapshot_problems(con).is_empty()


def test_a_day_late_is_tolerated_three_days_is_stale():
    con = _warehouse(
        [("WH", "A", D - dt.timedelta(1), "stale"), ("ST", "A", D - dt.timedelta(3), "stale")],
        [("WH", None), ("ST", None)],
    )
    problems = snapshot_problems(con)
    assert problems.select("location_id", "problem", "snapshot_age_days").rows() == [
        ("ST", "stale", 3)
    ]
    assert snapshot_problems(con, max_age_days=0).height == 2


def test_a_sku_left_out_while_in_stock_and_a_location_without_snapshots_fail():
    con = _warehouse(
        [("WH", "A", D - dt.timedelta(1), "missing")],
        [("WH", None), ("FBA-X", dt.date(2024, 1, 1))],
    )
    problems = snapshot_problems(con)
    assert sorted(problems.select("location_id", "problem").rows()) == [
        ("FBA-X", "no_snapshot"),
        ("WH", "missing"),
    ]
