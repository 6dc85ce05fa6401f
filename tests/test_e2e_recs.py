"""Recommendations on the whole graph (session fixture ``built_demo``): the tables, the rules
re-checked, the exports, the evaluation report and its metadata."""

from __future__ import annotations

import dagster as dg
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ingest.config import connect
from models.fitstore import matching_file
from models.recs.rescore import SHORT
from models.recs.store import MODEL_FILE, read_manifest
from tests.conftest import materialization_metadata

MODELS = {"zhongtai", "popularity", "trending", "buy_again", "implicit_als", "implicit_itemknn"}


@pytest.fixture(scope="module")
def recs(built_demo):
    paths, result = built_demo
    con = connect(paths.warehouse, read_only=True)
    try:
        tables = {
            name: con.sql(f"select * from recs.{name}").pl()
            for name in ("recommendations", "similar_items")
        }
        tables["customers"] = con.sql(
            "select count(distinct customer_id) as n from marts.fct_order_lines "
            "where customer_id is not null"
        ).pl()
        tables["products"] = con.sql("select sku, category from staging.stg_lake__products").pl()
        # customers with product events (view, cart, wishlist) and no purchase
        tables["browse_only"] = con.sql(
            """
            select distinct r.customer_id from staging.stg_lake__events as e
            join identity.record_customers as r
              on r.entity = 'events' and r.channel = e.channel and r.record_id = e.event_id
            where e.event_type in ('product_view', 'add_to_cart', 'live_add_to_cart',
                                   'add_to_wishlist')
              and r.customer_id not in (select customer_id from marts.fct_order_lines
                                        where customer_id is not null)
            """
        ).pl()
    finally:
        con.close()
    return paths, result, tables


def test_every_buying_customer_gets_up_to_ten_with_a_reason(recs):
    _, _, t = recs
    r = t["recommendations"]
    per = r.group_by("customer_id").agg(pl.len().alias("n"), pl.col("sku").n_unique().alias("u"))
    assert per.height >= 0.9 * t["customers"]["n"][0]
    assert per["n"].max() <= 10 and (per["n"] == per["u"]).all()
    assert r["reason"].null_count() == 0 and (r["reason"].str.len_chars() > 0).all()
    assert set(r["source"].unique()) <= {"buy_again", "viewed", "similar", "popular"}
    assert (
        r.filter(pl.col("source") == "similar")["reason"].str.starts_with("Bought together").any()
    )
    # diversity: never more than 4 of one category in a list
    worst = r.group_by("customer_id", "category").len()["len"].max()
    assert worst <= 4


def test_browse_only_customers_get_recommendations_with_reasons(recs):
    """Customers who only browsed are served from their views (viewed, similar to a viewed
    item) and their segment's popular items; every row has a reason."""
    _, _, t = recs
    browse = t["browse_only"]["customer_id"]
    assert browse.len() > 0
    r = t["recommendations"].filter(pl.col("customer_id").is_in(browse.implode()))
    assert r["customer_id"].n_unique() >= 0.5 * browse.len()
    assert (r["source"] != "buy_again").all()  # they bought nothing
    assert r.filter(pl.col("source").is_in(["viewed", "similar"])).height > 0
    viewed = r.filter(pl.col("source") == "viewed")["reason"]
    assert viewed.str.starts_with("You viewed ").all()


def test_similar_items_top_twenty_per_sku(recs):
    _, _, t = recs
    s = t["similar_items"]
    assert s.group_by("sku").len()["len"].max() <= 20
    assert (s["sku"] != s["similar_sku"]).all()
    assert s["sku"].n_unique() >= 0.8 * t["products"].height


def test_rule_checks_ran_and_passed(recs):
    _, result, _ = recs
    checks = {
        c.check_name: c
        for c in result.get_asset_check_evaluations()
        if c.asset_key.to_user_string().startswith("recs/")
    }
    assert checks["recommendations_respect_stock_and_channel"].passed
    assert checks["recommendations_are_well_formed"].passed
    assert "recs_beat_the_baselines" in checks


def test_the_fit_is_stored_for_the_next_day(recs):
    """The first build refits (no store) and leaves a whole store: the ranker file with the
    manifest's SHA-256, its fit date the one the asset reports."""
    paths, result, _ = recs
    meta = materialization_metadata(result, "recs/recommendations")
    assert meta["fit"] == "refitted" and meta["fit_reason"].startswith("no stored fit")
    store = paths.models / "recs"
    manifest = read_manifest(store)
    matching_file(store / MODEL_FILE, manifest)
    assert manifest["fit_date"] == meta["fit_date"]
    assert manifest["features"][-1] == "knn_rank"


def test_a_full_build_scores_everyone_and_stores_what_the_lists_came_from(recs):
    """A full build (no incremental tag) scores every customer in scope and leaves the
    state the next incremental run compares with (models/recs/rescore.py): one row of inputs
    per customer listed, one run row with the lists' row count."""
    paths, result, t = recs
    meta = materialization_metadata(result, "recs/recommendations")
    assert meta["scoring"] == "full: not an incremental run"
    assert meta["rescored"] == meta["customers_in_scope"] and meta["kept"] == 0
    con = connect(paths.warehouse, read_only=True)
    try:
        inputs = con.sql("select * from recs.list_inputs").pl()
        runs = con.sql("select * from recs.list_runs").pl()
    finally:
        con.close()
    assert inputs.height == meta["customers_in_scope"]
    assert set(t["recommendations"]["customer_id"]) <= set(inputs["customer_id"])
    assert runs.height == 1 and runs["rows"][0] == t["recommendations"].height
    assert runs["now"][0] == runs["full_now"][0] == inputs["scored_now"].max()


def test_exports_and_report(recs):
    paths, _, _ = recs
    root = paths.exports / "recommendations"
    days = [p for p in root.iterdir() if p.name != "evaluation"]
    assert len(days) == 1
    for name in ("app_recommendations", "email_recommendations", "similar_items"):
        assert (days[0] / f"{name}.csv").exists() and (days[0] / f"{name}.parquet").exists()
    app = pl.read_parquet(days[0] / "app_recommendations.parquet")
    email = pl.read_parquet(days[0] / "email_recommendations.parquet")
    assert 0 < email["customer_id"].n_unique() <= app["customer_id"].n_unique()
    for name in ("report.md", "report.html", "metrics.csv", "recommendations.parquet"):
        assert (root / "evaluation" / name).exists()


def test_evaluation_metadata_compares_every_model(recs):
    _, result, _ = recs
    meta = materialization_metadata(result, "recs/evaluation")
    for model in MODELS:
        for metric in ("precision@10", "recall@20", "ndcg@10", "coverage@10"):
            assert 0.0 <= meta[f"{model}/{metric}"] <= 1.0
    # Floors under what was measured on this build (precision@10 0.93x popularity, coverage
    # 9.7x): the target (1.5x popularity, above every baseline) is NOT met on this
    # 45-day demo (nor at 4,000 persons, 240 days: 1.04x; see README).
    assert meta["zhongtai/precision@10"] >= 0.75 * meta["popularity/precision@10"]
    assert meta["zhongtai/coverage@10"] >= 2 * meta["popularity/coverage@10"]
    # the rules are reported apart from the model's score, on the same test users
    rules = meta["serving_rules"]
    assert 0.0 <= rules["precision@10_served"] <= 1.0 and rules["served_users"] > 0
    # like with like: every model's lists, before and after the same rules
    for model in MODELS:
        for when in ("before", "after"):
            assert 0.0 <= rules[f"precision@10_{when}_rules/{model}"] <= 1.0
    assert rules["precision@10_before_rules/zhongtai"] == rules["precision@10_model"]
    assert "repeat_buyer" in meta["by_user_group"]


def _recs_run(tags: dict, config: dict | None = None):
    from orchestration.definitions import defs
    from orchestration.defs.recs import RECOMMENDATIONS, SIMILAR_ITEMS

    run = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        asset_selection=[RECOMMENDATIONS, SIMILAR_ITEMS],
        instance=dg.DagsterInstance.ephemeral(),
        tags=tags,
        run_config={"ops": {"recommendations": {"config": config}}} if config else {},
    )
    assert run.success
    checks = {c.check_name: c.passed for c in run.get_asset_check_evaluations()}
    assert checks == {
        "recommendations_respect_stock_and_channel": True,
        "recommendations_are_well_formed": True,
    }
    return run


def _lists(paths) -> pl.DataFrame:
    with connect(paths.warehouse, read_only=True) as con:
        return con.sql("select * from recs.recommendations order by customer_id, rank").pl()


def test_an_incremental_run_scores_the_changed_customers_and_the_switch_everyone(copy_of_built):
    """On the built warehouse, an incremental run scores the one customer whose stored inputs
    are gone (as a customer new in scope) and the short lists, and keeps every other list;
    every list is exported; ``rescore_all`` scores everyone. The same day: the same lists
    either way."""
    from orchestration.defs.transform import DBT_TESTS_TAG, NEW_ROWS

    before = _lists(copy_of_built)
    one = before["customer_id"].min()
    with connect(copy_of_built.warehouse) as con:
        con.execute("delete from recs.list_inputs where customer_id = ?", [one])
    run = _recs_run({DBT_TESTS_TAG: NEW_ROWS})
    meta = materialization_metadata(run, "recs/recommendations")
    assert meta["scoring"] == "changed customers only"
    # and the customers whose list is short (today's stock may fill it), every run
    per = before.filter(pl.col("customer_id") != one).group_by("customer_id").len()
    short = per.filter(pl.col("len") < 10).height
    expected = {"new in scope": 1, **({SHORT: short} if short else {})}
    assert meta["rescored"] == 1 + short and meta["rescored_by_reason"] == expected
    assert meta["kept"] == meta["customers_in_scope"] - 1 - short
    after = _lists(copy_of_built)
    assert_frame_equal(after, before)
    days = [p for p in (copy_of_built.exports / "recommendations").iterdir() if p.is_dir()]
    app = pl.read_parquet(days[0] / "app_recommendations.parquet")
    assert_frame_equal(app.sort("customer_id", "rank"), after)
    run = _recs_run({DBT_TESTS_TAG: NEW_ROWS}, {"rescore_all": True})
    meta = materialization_metadata(run, "recs/recommendations")
    assert meta["scoring"] == "full: rescore_all asked (RecsRunConfig)"
    assert meta["rescored"] == meta["customers_in_scope"]
    assert_frame_equal(_lists(copy_of_built), before)
