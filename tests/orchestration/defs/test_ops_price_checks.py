"""The price checks on a passing and a failing table (a private warehouse)."""

import polars as pl

from ingest.config import connect, replace_tables
from orchestration.defs.ops_price import (
    channel_product_matrix_is_consistent,
    no_new_price_conflicts,
    price_suggestions_inside_policy,
)


def _write(paths, name, frame):
    con = connect(paths.warehouse)
    try:
        replace_tables(con, "ops", {name: frame})
    finally:
        con.close()


def test_suggestions_check_fails_outside_floor_or_cap(data_dir):
    ok = pl.DataFrame(
        {"sku": ["A", "B"], "channel": ["jd", "jd"], "suggested_price": [90.0, 120.0],
         "floor_price": [90.0, 120.0], "cap_price": [100.0, 110.0]}
    )  # fmt: skip
    _write(data_dir, "price_suggestions", ok)  # B: floor above cap: the floor wins
    assert price_suggestions_inside_policy().passed
    _write(
        data_dir, "price_suggestions", ok.with_columns(pl.Series("suggested_price", [89.0, 120.0]))
    )
    result = price_suggestions_inside_policy()
    assert not result.passed and result.metadata["outside_policy"].value == 1


def test_new_conflicts_warn(data_dir):
    import datetime as dt

    rows = pl.DataFrame(
        {"price_date": [dt.date(2025, 1, 1)], "sku": ["A"], "channel": ["jd"], "rule": ["mkt"],
         "reference": ["web"], "gap_pct": [-20.0], "is_new": [False]}
    )  # fmt: skip
    _write(data_dir, "price_conflicts", rows)
    assert no_new_price_conflicts().passed
    _write(data_dir, "price_conflicts", rows.with_columns(pl.lit(True).alias("is_new")))
    result = no_new_price_conflicts()
    assert not result.passed and result.metadata["new_conflicts"].value == 1


def test_matrix_check_fails_when_shares_do_not_add_up(data_dir):
    m = pl.DataFrame(
        {"sku": ["A", "A"], "channel": ["jd", "web"], "share_of_sku_units": [0.25, 0.75],
         "units_total": [1, 3], "units_window": [1, 2], "sell_through": [0.5, None]}
    )  # fmt: skip
    _write(data_dir, "channel_product_matrix", m)
    assert channel_product_matrix_is_consistent().passed
    _write(
        data_dir,
        "channel_product_matrix",
        m.with_columns(pl.Series("share_of_sku_units", [0.5, 0.75])),
    )
    assert not channel_product_matrix_is_consistent().passed
