"""Recommendations: similar items and per-customer recommendations (schema ``recs``, exports
under data/exports/recommendations/<date>/), and their offline evaluation against the
baselines. The logic lives in ``models/recs/``."""

import datetime as dt
import time

import dagster as dg
import polars as pl

from ingest.config import DBT_PROJECT_DIR, connect
from models.recs.evaluate import evaluate
from models.recs.model import RecsConfig
from models.recs.report import write_report
from models.recs.rescore import INPUTS_TABLE, RUNS_TABLE, day_lists, read_previous
from models.recs.store import fit_or_load
from models.recs.warehouse import (
    SECONDS_PER_DAY,
    email_consented,
    export,
    read_assortment,
    read_availability,
    read_interactions,
    read_products,
    read_serving_inputs,
    serving_cost,
    similar_items,
    usual_channels,
    write_tables,
)
from orchestration.defs.cadence import WEEKLY, every
from orchestration.defs.transform import DBT_TESTS_TAG, NEW_ROWS
from orchestration.resources import paths

SIMILAR_ITEMS = dg.AssetKey(["recs", "similar_items"])
RECOMMENDATIONS = dg.AssetKey(["recs", "recommendations"])
EVALUATION = dg.AssetKey(["recs", "evaluation"])

# Tables of other areas, read when their dbt models exist (see models/recs/warehouse.py for
# the fallbacks); a dependency only when the model is in the project.
_OPTIONAL = ("customer_360", "channel_atp", "inventory_position")
_INPUTS = [
    dg.AssetKey(["marts", "fct_order_lines"]),
    dg.AssetKey(["staging", "stg_lake__events"]),
    dg.AssetKey(["staging", "stg_lake__products"]),
    dg.AssetKey(["staging", "stg_lake__inventory"]),
    dg.AssetKey(["staging", "stg_lake__locations"]),
    dg.AssetKey(["staging", "stg_lake__sku_map"]),
    dg.AssetKey(["staging", "stg_lake__consents"]),
    dg.AssetKey(["identity", "customer_identifiers"]),
] + [
    dg.AssetKey(["marts", name])
    for name in _OPTIONAL
    if any((DBT_PROJECT_DIR / "models").rglob(f"{name}.sql"))
]

# The evaluation on the demo brand: the issue asks for precision@10 >= 1.5x popularity and
# above every baseline (a WARN check, measured on whatever data the warehouse holds). On the
# demo brand 1.5x is the ceiling of an oracle that knows the generator's latents
# (bench/recs_bayes_bound.py, bench/README.md), so the check is expected to warn there.
POPULARITY_RATIO = 1.5
TEST_WEEKS = 4
# The recommendations keep their fitted ranker between runs (data/models/recs/,
# models/recs/store.py) and refit it when the fit is this many days of data old or cannot
# serve the data (no fit, a damaged store, other settings or library versions, another set of
# kNN signal groups): the forecast's weekly cadence. Every run fits the components (histories,
# item-kNN, popularity) on all of its interactions. RecsRunConfig.refit_every_days = 0 refits
# on every run.
REFIT_EVERY = WEEKLY


class RecsRunConfig(dg.Config):
    half_life_days: float = 60.0
    neighbours: int = 50
    shrink: float = 10.0
    per_customer: int = 10
    max_per_category: int = 4
    refit_every_days: int = REFIT_EVERY.days
    # score every customer in scope, also on an incremental run (models/recs/rescore.py)
    rescore_all: bool = False


def _why_everyone(tags, config: RecsRunConfig, fit) -> str | None:
    """Why this run scores every customer in scope (None: an incremental run scores the
    customers whose inputs changed; models/recs/rescore.py): the switch, a run that is not an
    incremental one (a full build, the daily schedule), the weekly refresh, a refit."""
    if config.rescore_all:
        return "rescore_all asked (RecsRunConfig)"
    if tags.get(DBT_TESTS_TAG) != NEW_ROWS:
        return "not an incremental run"
    if tags.get("trigger") == "weekly_refresh":
        return "weekly_refresh"
    if fit.action == "refitted":
        return f"the ranker was refitted ({fit.reason})"
    return None


def recommender(inputs, config: RecsRunConfig, store):
    """The stored ranker with the components of ``inputs`` (``warehouse.ServingInputs``), or a
    new fit (``store.fit_or_load``): (model, FitInfo)."""
    return fit_or_load(
        inputs.frame.drop("channel"),
        _cfg(config),
        7 * TEST_WEEKS,
        store,
        config.refit_every_days,
        inputs.segments,
        inputs.categories,
    )


def _cfg(config: RecsRunConfig) -> RecsConfig:
    return RecsConfig(
        half_life_days=config.half_life_days, neighbours=config.neighbours, shrink=config.shrink
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            SIMILAR_ITEMS,
            group_name="recs",
            deps=_INPUTS,
            kinds={"duckdb", "polars"},
            description="Top 20 similar SKUs per SKU (item-kNN on co-purchase and co-view, "
            "BM25 + cosine with shrinkage)",
        ),
        dg.AssetSpec(
            RECOMMENDATIONS,
            group_name="recs",
            deps=_INPUTS,
            kinds={"duckdb", "polars"},
            description="Top 10 per customer with a reason, after the stock, channel, durable "
            "and diversity rules; exported to data/exports/recommendations/<date>/ (every "
            "customer in scope). The ranker is kept in data/models/recs/ and refitted weekly or "
            "when it cannot serve the data (metadata `fit`, `fit_date`, `fit_reason`). An "
            "incremental run scores again only the customers whose inputs changed (new, new "
            "interactions, segment/channel/store, e-mail consent, a stored list that today's "
            "stock, listing, durable or catalogue would cut); the others keep their stored list, "
            "whose shared components (popularity, item-kNN, trends, the day) are up to 6 days "
            "old (metadata `scoring`, `rescored`, `rescored_by_reason`, `kept`); a full build, "
            "weekly_refresh, a refit and `rescore_all` score everyone. On the 10,000 x 400 day, "
            "the 15,429 kept lists against a full scoring of the same day: the same 10 SKUs for "
            "48 %, 9.4 of 10 shared on average (bench/README.md, 'The recommendations of a new "
            "day')",
        ),
    ]
)
def recommendations(context: dg.AssetExecutionContext, config: RecsRunConfig):
    """Fit the components on every interaction up to now (with the stored ranker while it is
    fresh, else a new fit), recommend to every customer with a purchase or a product event
    (on an incremental run: to those whose inputs changed, the others keeping their stored
    list: models/recs/rescore.py), write both tables and the lists' state, export CSV +
    Parquet for the app and e-mail. ``similar_items`` is computed from today's item-kNN on
    every run (0.01 CPU s at 10,000 x 400)."""
    t0 = time.perf_counter()
    p = paths()
    with connect(p.warehouse) as con:
        inputs = read_serving_inputs(con)
        consented = email_consented(con)
        model, fit = recommender(inputs, config, p.models / "recs")
        similar = similar_items(model, inputs.products)
        lists = day_lists(
            inputs,
            model,
            consented,
            read_previous(con),
            _why_everyone(context.run.tags, config, fit),
            fit.manifest.get("fitted_at", ""),
            config.per_customer,
            config.max_per_category,
            full_every=max(config.refit_every_days, 1),
        )
        recs, removed = lists.recs, lists.removed
        written = write_tables(
            con,
            {
                "similar_items": similar,
                "recommendations": recs,
                INPUTS_TABLE: lists.inputs,
                RUNS_TABLE: lists.run,
            },
        )
    day = dt.datetime.fromtimestamp(inputs.now * SECONDS_PER_DAY, dt.UTC).date()
    email = recs.filter(pl.col("customer_id").is_in(consented.implode()))
    files = export(
        {"app_recommendations": recs, "email_recommendations": email, "similar_items": similar},
        p.exports / "recommendations",
        day,
    )
    seconds = round(time.perf_counter() - t0, 2)
    yield dg.MaterializeResult(
        asset_key=SIMILAR_ITEMS,
        metadata={
            "dagster/row_count": written["similar_items"],
            "skus": similar["sku"].n_unique(),
        },
    )
    yield dg.MaterializeResult(
        asset_key=RECOMMENDATIONS,
        metadata={
            "dagster/row_count": written["recommendations"],
            "customers": recs["customer_id"].n_unique(),
            "customers_in_scope": inputs.customers.height,
            "email_customers": email["customer_id"].n_unique(),
            "by_source": dg.MetadataValue.json(
                dict(recs.group_by("source").len().sort("source").iter_rows())
            ),
            **{
                k: dg.MetadataValue.json(v) if isinstance(v, dict) else v
                for k, v in lists.metadata().items()
            },
            "rules_removed": dg.MetadataValue.json(removed),
            "inputs": dg.MetadataValue.json(inputs.sources),
            "ranker": dg.MetadataValue.json(model.ranker_info),
            **fit.metadata(),
            "files": dg.MetadataValue.json(files),
            "seconds": seconds,
        },
    )


@dg.asset(
    key=EVALUATION,
    group_name="recs",
    deps=[RECOMMENDATIONS],
    kinds={"polars"},
    # offline model evaluation over the whole history, like the forecast backtest: weekly,
    # not on every new day (orchestration/defs/cadence.py); the recommendations stay daily
    tags=every(WEEKLY),
    description="Time-split evaluation (last 4 weeks, purchases) of the Zhongtai model against "
    "popularity, buy-again, implicit ALS and implicit item-kNN; report under "
    "data/exports/recommendations/",
)
def evaluation(context: dg.AssetExecutionContext, config: RecsRunConfig) -> dg.MaterializeResult:
    """Train on interactions before the cutoff, test on the purchases of the following
    weeks (shorter windows on short histories: at most 30 % of the range)."""
    p = paths()
    with connect(p.warehouse, read_only=True) as con:
        frame = read_interactions(con)
        lo, hi = float(frame["ts"].min()), float(frame["ts"].max())
        horizon = min(7.0 * TEST_WEEKS, 0.3 * (hi - lo))
        # segments from the training rows only (the usual channel before the cutoff): the
        # customer 360 is computed on everything, test weeks included, so it would leak
        segments = usual_channels(frame.filter(pl.col("ts") < hi - horizon))
        # the catalogue's categories (an attribute of the item, not of what was bought)
        categories = dict(read_products(con).select("sku", "category").iter_rows())
        result = evaluate(
            frame.drop("channel"),
            cutoff=hi - horizon,
            horizon_days=horizon,
            segments=segments,
            cfg=_cfg(config),
            categories=categories,
        )
        # the model is scored above; what the serving rules then cost, separately
        rules = serving_cost(con, result, frame, hi - horizon)
    result.info.update({f"serving_{k}": v for k, v in rules.items()})
    folder = p.exports / "recommendations" / "evaluation"
    files = write_report(result, folder, title="Recommendations on the warehouse")
    table = result.table()
    return dg.MaterializeResult(
        metadata={
            **{
                f"{row['model']}/{metric}": round(float(row[metric]), 4)
                for row in table.iter_rows(named=True)
                for metric in ("precision@10", "recall@20", "ndcg@10", "coverage@10")
            },
            "comparison": dg.MetadataValue.md(table_markdown(table)),
            "split": dg.MetadataValue.json(result.info),
            "by_user_group": dg.MetadataValue.md(table_markdown(result.by_group))
            if result.by_group is not None
            else "",
            "serving_rules": dg.MetadataValue.json(rules),
            "report": dg.MetadataValue.path(files[0]),
        }
    )


def table_markdown(table: pl.DataFrame) -> str:
    head = "| " + " | ".join(table.columns) + " |\n|" + "---|" * len(table.columns) + "\n"
    rows = "".join(
        "| " + " | ".join(f"{v:.4f}" if isinstance(v, float) else str(v) for v in r) + " |\n"
        for r in table.iter_rows()
    )
    return head + rows


@dg.asset_check(
    asset=EVALUATION,
    description=f"precision@10 of the Zhongtai model >= {POPULARITY_RATIO}x popularity and above "
    "every baseline (WARN)",
)
def recs_beat_the_baselines() -> dg.AssetCheckResult:
    metrics = paths().exports / "recommendations" / "evaluation" / "metrics.csv"
    m = pl.read_csv(metrics).filter(pl.col("metric") == "precision@10")
    p = dict(m.select("model", "value").iter_rows())
    ours = p["zhongtai"]
    others = {k: v for k, v in p.items() if k != "zhongtai"}
    best = max(others.values())
    return dg.AssetCheckResult(
        passed=ours >= POPULARITY_RATIO * p["popularity"] and ours > best,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "zhongtai": round(ours, 4),
            "popularity": round(p["popularity"], 4),
            "ratio_to_popularity": round(ours / p["popularity"], 3) if p["popularity"] else None,
            "best_baseline": max(others, key=others.get),
            "best_baseline_precision": round(best, 4),
        },
    )


@dg.asset_check(
    asset=RECOMMENDATIONS,
    description="At most 10 distinct SKUs per customer, ranks 1..n, every SKU in the catalogue "
    "and with a reason (ERROR)",
)
def recommendations_are_well_formed() -> dg.AssetCheckResult:
    with connect(paths().warehouse, read_only=True) as con:
        bad = con.sql(
            """
            with r as (select * from recs.recommendations),
            per as (
                select customer_id, count(*) as n, count(distinct sku) as skus, max(rank) as top
                from r group by 1
            )
            select
                (select count(*) from per where n > 10 or skus <> n or top <> n) as bad_lists,
                (select count(*) from r left join staging.stg_lake__products p using (sku)
                 where p.sku is null) as unknown_skus,
                (select count(*) from r where reason is null or reason = '') as no_reason,
                (select count(*) from r) as rows
            """
        ).fetchone()
    bad_lists, unknown, no_reason, rows = bad
    return dg.AssetCheckResult(
        passed=bad_lists == 0 and unknown == 0 and no_reason == 0 and rows > 0,
        metadata={
            "bad_lists": bad_lists,
            "unknown_skus": unknown,
            "without_reason": no_reason,
            "rows": rows,
        },
    )


@dg.asset_check(
    asset=RECOMMENDATIONS,
    description="Every recommendation passes the stock and channel rules when re-checked "
    "against the current stock and listings (ERROR)",
)
def recommendations_respect_stock_and_channel() -> dg.AssetCheckResult:
    from models.recs.serving import eligible

    with connect(paths().warehouse, read_only=True) as con:
        recs = con.sql("select customer_id, sku, channel, store from recs.recommendations").pl()
        availability, _ = read_availability(con)
        assortment = read_assortment(con)
        cities = con.sql("select location_id as store, city from staging.stg_lake__locations").pl()
    customers = (
        recs.select("customer_id", "channel", "store").unique().join(cities, on="store", how="left")
    )
    none = pl.DataFrame(schema={"customer_id": pl.String, "sku": pl.String})
    checked = eligible(recs.select("customer_id", "sku"), customers, availability, assortment, none)
    bad = checked.filter(pl.col("removed").is_not_null())
    return dg.AssetCheckResult(
        passed=bad.height == 0,
        metadata={
            "violations": bad.height,
            "by_reason": dg.MetadataValue.json(dict(bad.group_by("removed").len().iter_rows())),
            "examples": dg.MetadataValue.json(bad.head(5).to_dicts()),
        },
    )


ASSETS = [recommendations, evaluation]
CHECKS = [
    recs_beat_the_baselines,
    recommendations_are_well_formed,
    recommendations_respect_stock_and_channel,
]
