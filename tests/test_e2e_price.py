"""End to end on the whole graph (session fixture ``built_demo``): the planted price conflict
of the demo truth is found in ops.price_conflicts on the right SKU, channel and days and is
new; conflicts an approved promotion covers are not new; the price tables, matrix and report
are written and their checks ran."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from models.ops.price_policy import load_price_policy


@pytest.fixture(scope="module")
def warehouse(built_demo):
    paths, result = built_demo
    con = duckdb.connect(str(paths.warehouse), read_only=True)
    yield paths, con, result
    con.close()


def test_the_planted_price_conflict_is_found_and_new(warehouse):
    paths, con, _ = warehouse
    truth = pl.read_parquet(paths.truth / "price_conflicts.parquet")
    assert truth.height == 1
    planted = truth.row(0, named=True)
    found = con.execute(
        "select price_date, price, reference_price, gap_pct, is_new, promotion "
        "from ops.price_conflicts where sku = ? and channel = ? "
        "and rule = 'marketplace_below_own_shop' and reference = ? order by price_date",
        [planted["sku"], planted["channel"], planted["reference_channel"]],
    ).pl()
    window = found.filter(pl.col("price_date").is_between(planted["date_from"], planted["date_to"]))
    days = (planted["date_to"] - planted["date_from"]).days + 1
    assert window.height == days
    assert window["is_new"].all() and window["promotion"].null_count() == days
    assert (window["price"] == planted["price"]).all()
    assert (window["reference_price"] == planted["reference_price"]).all()
    assert (window["gap_pct"] < -30).all()
    # the episode is exactly the planted days (the neighbouring days are no deeper conflict)
    deep = found.filter(pl.col("gap_pct") < -34.9)
    assert deep["price_date"].min() == planted["date_from"]
    assert deep["price_date"].max() == planted["date_to"]


def test_conflicts_covered_by_an_approved_promotion_are_not_new(warehouse):
    _, con, _ = warehouse
    c = con.sql("select * from ops.price_conflicts").pl()
    approved = c.filter(pl.col("promotion").is_not_null())
    assert approved.height > 0, "the demo has conflicts inside its event windows"
    assert not approved["is_new"].any() and approved["approved"].all()
    policy = load_price_policy()
    names = {p.name: p for p in policy.promotions}
    for r in approved.head(200).iter_rows(named=True):
        promo = names[r["promotion"]]
        assert promo.on(r["price_date"]) and r["channel"] in promo.channels
        assert promo.max_below_pct is None or -r["gap_pct"] <= promo.max_below_pct + 1e-6
    assert c.filter(pl.col("promotion").is_null())["is_new"].all()


def test_price_tables_report_and_checks(warehouse):
    paths, con, result = warehouse
    elastic = con.sql("select * from ops.price_elasticity").pl()
    assert elastic.height > 0
    thin = elastic.filter(pl.col("status") == "insufficient_data")
    assert thin["reason"].null_count() == 0 and thin["elasticity"].null_count() == thin.height
    sug = con.sql("select * from ops.price_suggestions").pl()
    assert sug.height > 0 and sug["suggested_price"].null_count() == 0
    matrix = con.sql("select * from ops.channel_product_matrix").pl()
    assert matrix["listed"].sum() > 0 and matrix["units_total"].sum() > 0
    folder = paths.exports / "reports" / "price"
    assert (folder / "index.html").stat().st_size > 1000
    assert (folder / "price_conflicts_heatmap.png").stat().st_size > 1000
    checks = {
        e.check_name: e for e in result.get_asset_check_evaluations()
        if e.asset_key.path[0] == "ops"
    }  # fmt: skip
    assert not checks["no_new_price_conflicts"].passed  # the planted conflict is new
    assert checks["price_suggestions_inside_policy"].passed
    assert checks["channel_product_matrix_is_consistent"].passed


def test_suggestions_from_the_stored_elasticities_equal_those_of_a_new_fit(warehouse):
    """The elasticities are refreshed weekly on incremental days and the suggestions daily
    from the stored table: on the same warehouse they equal what a fit in the same step (the
    one multi-asset before) suggests, row for row."""
    from models.ops.elasticity import price_suggestions
    from models.ops.price_warehouse import (
        build_elasticity,
        build_suggestions,
        map_floors,
        read_costs,
        read_prices,
        read_products,
    )

    _, con, _ = warehouse
    policy = load_price_policy()
    fitted = build_elasticity(con, policy)["price_elasticity"]
    stored = con.sql("select * from ops.price_elasticity").pl()
    assert fitted.equals(stored.select(fitted.columns))
    prices, products = read_prices(con), read_products(con)
    latest = prices.filter(pl.col("price_date") == prices["price_date"].max())
    costs = read_costs(con, products, latest["currency"].unique().to_list())
    expected = price_suggestions(
        latest, fitted, costs, map_floors(latest, products, policy), policy
    )
    daily = build_suggestions(con, policy)["price_suggestions"]
    assert expected.height > 0 and daily.equals(expected)
    assert daily.equals(con.sql("select * from ops.price_suggestions").pl().select(daily.columns))
