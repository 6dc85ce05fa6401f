"""Funnel, cohorts, host attribution and the omnichannel uplift on the whole graph (session
fixture ``built_demo``): the marts recomputed independently from the facts, the Python tables,
the checks and the reports."""

from __future__ import annotations

import polars as pl
import pytest

from ingest.config import connect
from models.ops.funnel import funnel, funnel_violations

REAL = (
    "not o.is_test and not o.is_flagged_test and not o.is_brushing_suspect "
    "and o.status in ('paid', 'shipped', 'completed') and o.customer_id is not null"
)


@pytest.fixture(scope="module")
def ops(built_demo):
    paths, result = built_demo
    con = connect(paths.warehouse, read_only=True)
    try:
        t = {
            name: con.sql(f"select * from {name}").pl()
            for name in (
                "marts.ops_customer_journeys", "marts.ops_cohort_retention", "ops.funnel",
                "ops.host_attribution", "ops.omnichannel_uplift", "ops.uplift_balance",
            )
        }  # fmt: skip
        # the acquisition recomputed from the facts: the earliest real order of each customer
        t["first"] = con.sql(
            f"""select customer_id, arg_min(channel, (ordered_at, channel, order_id)) as channel,
                count(*) as orders, count(distinct channel) as channels
            from marts.fct_orders o where {REAL} group by 1"""
        ).pl()
        t["host_gmv"] = con.sql(
            f"""select o.channel, sum(o.net_amount_cny) as gmv, count(*) as orders
            from marts.fct_orders o join staging.stg_lake__orders s using (channel, order_id)
            where {REAL.replace(" and o.customer_id is not null", "")}
              and nullif(trim(cast(s.anchor_id as varchar)), '') is not null group by 1"""
        ).pl()
        t["members"] = con.sql(
            "select customer_id, min(joined_at) as joined_at from intermediate.int_member_customers"
            " where customer_id is not null group by 1"
        ).pl()
    finally:
        con.close()
    return paths, result, t


def test_journeys_match_the_facts(ops):
    _, _, t = ops
    j = t["marts.ops_customer_journeys"].join(t["first"], on="customer_id", how="full")
    assert j["customer_id"].null_count() == 0 and j["customer_id_right"].null_count() == 0
    assert (j["first_channel"] == j["channel"]).all()
    assert (j["orders"] == j["orders_right"]).all()
    assert (j["channels_used"] == j["channels"]).all()
    live = j.filter(pl.col("first_host_id").is_not_null())
    assert (live["acquisition_channel"] == live["first_channel"] + "_live").all()
    assert set(j["acquisition_class"]) <= {"marketplace", "live", "own_online", "store"}
    # a member who signed up after the first order joined at the latest then
    m = j.join(t["members"], on="customer_id").filter(
        (pl.col("joined_at") >= pl.col("first_ordered_at")) & ~pl.col("private_before_first_order")
    )
    assert m.height > 0
    assert (m["private_joined_at"] <= m["joined_at"]).all()


def test_funnel_table_and_a_recount_with_another_window(ops):
    _, _, t = ops
    f = t["ops.funnel"]
    assert funnel_violations(f).is_empty()
    journeys = t["marts.ops_customer_journeys"]
    assert f.filter(pl.col("acquisition_channel") == "all")["acquired"][0] == journeys.height
    # recount a 7-day window by hand on the same journeys
    w = 7
    recount = funnel(journeys, w)
    obs = journeys.filter(pl.col("followup_days") >= w)
    days = (pl.col("private_joined_at") - pl.col("first_ordered_at")).dt.total_seconds() / 86400
    joined = obs.filter(~pl.col("private_before_first_order") & (days <= w))
    rdays = (pl.col("repeat_after_join_at") - pl.col("first_ordered_at")).dt.total_seconds()
    repeated = joined.filter(rdays / 86400 <= w)
    got = recount.filter(pl.col("acquisition_channel") == "all").sort("step_no")["customers"]
    assert got.to_list() == [obs.height, joined.height, repeated.height]
    assert obs.height > 0 and joined.height > 0


def test_cohorts_cover_every_customer_and_shares_are_shares(ops):
    _, _, t = ops
    c = t["marts.ops_cohort_retention"]
    assert c.filter(pl.col("month_k") == 0)["cohort_customers"].sum() == (
        t["marts.ops_customer_journeys"].height
    )
    assert c["share"].is_between(0, 1).all()
    assert (c.filter(pl.col("month_k") == 0)["share"] == 1.0).all()
    assert c.filter(pl.col("month_k") > 0).height > 0


def test_host_attribution_adds_up_to_the_live_orders(ops):
    _, _, t = ops
    h = t["ops.host_attribution"]
    assert h.height > 0
    per = h.group_by("channel").agg(pl.col("gmv_cny").sum(), pl.col("orders").sum())
    both = per.join(t["host_gmv"], on="channel")
    assert both.height == t["host_gmv"].height
    assert ((both["gmv_cny"] - both["gmv"].cast(pl.Float64)).abs() < 0.01).all()
    assert (both["orders"] == both["orders_right"]).all()
    acquired = t["marts.ops_customer_journeys"]["first_host_id"].is_not_null().sum()
    assert h["customers_acquired"].sum() == acquired


def test_uplift_tables_checks_and_reports(ops):
    paths, result, t = ops
    est = t["ops.omnichannel_uplift"]
    assert set(est["design"]) == {
        "naive_ever", "first_window", "first_window_matched", "first_window_matched_freq",
    }  # fmt: skip
    assert est.height == 12
    keys = t["ops.uplift_balance"].filter(pl.col("kind").str.starts_with("matching key"))
    assert keys.height == 0 or keys["max_abs_gap"].max() < 1e-9
    checks = {
        c.check_name: c
        for c in result.get_asset_check_evaluations()
        if c.asset_key.to_user_string().startswith("ops/")
    }
    for name in ("funnel_is_monotone", "cohort_shares_are_valid", "matched_groups_are_balanced"):
        assert checks[name].passed, name
    assert "uplift_has_enough_customers" in checks
    for folder, files in (
        ("funnel", ("index.html", "funnel.png", "cohort_retention.png")),
        ("uplift", ("index.html", "uplift.png")),
    ):
        for name in files:
            path = paths.exports / "reports" / folder / name
            assert path.stat().st_size > 500, path
    page = (paths.exports / "reports" / "uplift" / "index.html").read_text()
    assert "What the data supports" in page


def test_uplift_on_a_short_design_has_customers_and_balanced_keys(ops):
    """The demo of the fixture is 45 days: the default design (60 + 90 days) observes nobody,
    so run a short one on the same warehouse."""
    from models.ops.funnel_warehouse import read_orders
    from models.ops.uplift import UpliftDesign, balance, customer_outcomes, uplift

    paths, _, t = ops
    journeys = t["marts.ops_customer_journeys"]
    con = connect(paths.warehouse, read_only=True)
    try:
        orders = read_orders(con)
    finally:
        con.close()
    design = UpliftDesign(first_window_days=10, outcome_days=20, bootstrap=50)
    out = customer_outcomes(orders, journeys, journeys["as_of_date"].max(), design)
    assert out.height > 0
    span = (journeys["as_of_date"].max() - out["first_ordered_at"].max().date()).days
    assert span >= 29
    est = uplift(out, design)
    naive = est.filter((pl.col("design") == "naive_ever") & (pl.col("metric") == "retained"))
    assert naive["multi_customers"][0] + naive["single_customers"][0] == out.height
    assert balance(out, design, "first_window_matched")["max_abs_gap"].head(2).max() < 1e-9
