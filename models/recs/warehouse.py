"""The warehouse side of recommendations: read interactions on unified customer ids, the
catalogue, the stock and the customers' channels; write ``recs.similar_items`` and
``recs.recommendations`` and the exports.

Inputs, with the fallback used when a table of another area is not (yet) in the warehouse:

| need | preferred | fallback |
| --- | --- | --- |
| segment | ``marts.customer_360.rfm_segment`` | the customer's usual channel |
| usual channel | ``marts.customer_360.preferred_channel`` | most frequent channel of their order lines |
| preferred store | ``marts.customer_360.preferred_store`` | most frequent store of their store receipts |
| ATP online | ``marts.channel_atp`` (network pools, latest) | latest ``staging.stg_lake__inventory`` snapshot: warehouses serve the online channels, FBA nodes Amazon |
| ATP in stores | ``marts.inventory_position`` (latest day) | the latest snapshot of each store |
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from ingest.config import replace_tables
from models.recs.serving import diversify, eligible, normalise_channel

SECONDS_PER_DAY = 86_400.0
SCHEMA = "recs"

# Weights of each signal (a purchase says more than a cart, a cart more than a view).
EVENT_WEIGHTS = {
    "product_view": 1.0,
    "add_to_wishlist": 2.0,
    "add_to_cart": 3.0,
    "live_add_to_cart": 3.0,
}
PURCHASE_WEIGHT = 5.0
# An item is durable when fewer of its buyers come back than this (smoothed repeat rate).
DURABLE_REPEAT_RATE = 0.05
DURABLE_DAYS = 180
ONLINE_FULFILMENT = {"warehouse"}
AMAZON_FULFILMENT = {"fba"}


# the columns of recs.recommendations, in order: a customer's list as ``serve`` makes it
LIST_SCHEMA = {
    "customer_id": pl.String,
    "rank": pl.Int64,
    "sku": pl.String,
    "category": pl.String,
    "score": pl.Float64,
    "source": pl.String,
    "reason": pl.String,
    "because_sku": pl.String,
    "channel": pl.String,
    "store": pl.String,
    "segment": pl.String,
}


def table_exists(con, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? "
            "and table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


def columns_of(con, schema: str, table: str) -> set[str]:
    return {
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns where table_schema = ? "
            "and table_name = ?",
            [schema, table],
        ).fetchall()
    }


def read_interactions(con) -> pl.DataFrame:
    """customer purchases and product events: user, item, ts (days since epoch), weight,
    group (purchase | browse), target (purchase), channel."""
    purchases = con.sql(
        f"""
        select customer_id as user, sku as item,
               epoch(ordered_at) / {SECONDS_PER_DAY} as ts,
               {PURCHASE_WEIGHT} as weight, 'purchase' as "group", true as target, channel
        from marts.fct_order_lines
        where customer_id is not null and sku is not null and ordered_at is not null
          and is_real_order and quantity > 0
        """
    ).pl()
    weights = ", ".join(f"('{k}', {v})" for k, v in EVENT_WEIGHTS.items())
    events = con.sql(
        f"""
        with w(event_type, weight) as (values {weights}),
        by_code as (
            select distinct sales_channel, channel_sku, sku from staging.stg_lake__sku_map
            where channel_sku is not null
        ),
        by_item as (
            select sales_channel, channel_item_id, min(sku) as sku from staging.stg_lake__sku_map
            where channel_item_id is not null group by 1, 2
        )
        select r.customer_id as user,
               coalesce(e.sku, c.sku, i.sku) as item,
               epoch(e.event_ts) / {SECONDS_PER_DAY} as ts,
               w.weight, 'browse' as "group", false as target, e.channel
        from staging.stg_lake__events as e
        join w on w.event_type = e.event_type
        join identity.record_customers as r
          on r.entity = 'events' and r.channel = e.channel and r.record_id = e.event_id
        left join by_code as c on c.sales_channel = e.channel and c.channel_sku = e.channel_sku
        left join by_item as i
          on i.sales_channel = e.channel and i.channel_item_id = e.channel_item_id
        where e.event_ts is not null
        """
    ).pl()
    events = events.filter(pl.col("item").is_not_null() & pl.col("user").is_not_null())
    frame = pl.concat([purchases, events], how="vertical_relaxed")
    return frame.with_columns(pl.col("ts").cast(pl.Float64), pl.col("weight").cast(pl.Float64))


def read_products(con) -> pl.DataFrame:
    cols = columns_of(con, "staging", "stg_lake__products")
    durable = next((c for c in ("is_durable", "durable") if c in cols), None)
    extra = f", cast({durable} as boolean) as is_durable" if durable else ""
    return con.sql(
        f"select sku, coalesce(name_en, name_zh, sku) as name, category{extra} "
        "from staging.stg_lake__products"
    ).pl()


def usual_channels(interactions: pl.DataFrame) -> dict[str, str]:
    """customer -> the channel of most of their purchases (ties: the latest, then by name);
    for a customer who only browsed, the channel of most of their product events."""

    def most(rows: pl.DataFrame) -> pl.DataFrame:
        return (
            rows.group_by("user", "channel")
            .agg(pl.len().alias("n"), pl.col("ts").max().alias("last"))
            .sort(["user", "n", "last", "channel"], descending=[False, True, True, False])
            .group_by("user", maintain_order=True)
            .first()
            .select("user", "channel")
        )

    rows = interactions.filter(pl.col("channel").is_not_null())
    bought = most(rows.filter(pl.col("target")))
    browsed = most(rows.filter(~pl.col("user").is_in(bought["user"].implode())))
    return dict(pl.concat([bought, browsed]).iter_rows())


def read_customers(con, interactions: pl.DataFrame) -> tuple[pl.DataFrame, dict]:
    """customer_id, channel (usual), store (preferred), city (of the store), segment; and which
    source each came from."""
    usual = pl.DataFrame(
        list(usual_channels(interactions).items()),
        schema={"customer_id": pl.String, "channel": pl.String},
        orient="row",
    )
    stores = con.sql(
        """
        select customer_id, location_id as store, count(*) as n, max(ordered_at) as last
        from marts.fct_order_lines
        where channel = 'pos' and customer_id is not null and location_id is not null
          and not is_test
        group by 1, 2
        """
    ).pl()
    store = (
        stores.sort(["customer_id", "n", "last", "store"], descending=[False, True, True, False])
        .group_by("customer_id", maintain_order=True)
        .first()
        .select("customer_id", "store")
    )
    customers = usual.join(store, on="customer_id", how="full", coalesce=True)
    sources = {"channel": "order lines", "store": "store receipts", "segment": "usual channel"}
    if table_exists(con, "marts", "customer_360"):
        cols = columns_of(con, "marts", "customer_360")
        picks = [c for c in ("preferred_channel", "preferred_store", "rfm_segment") if c in cols]
        if picks:
            c360 = con.sql(f"select customer_id, {', '.join(picks)} from marts.customer_360").pl()
            customers = customers.join(c360, on="customer_id", how="left")
            if "preferred_channel" in picks:
                customers = customers.with_columns(
                    pl.coalesce("preferred_channel", "channel").alias("channel")
                ).drop("preferred_channel")
                sources["channel"] = "marts.customer_360.preferred_channel"
            if "preferred_store" in picks:
                customers = customers.with_columns(
                    pl.coalesce("preferred_store", "store").alias("store")
                ).drop("preferred_store")
                sources["store"] = "marts.customer_360.preferred_store"
            if "rfm_segment" in picks:
                customers = customers.rename({"rfm_segment": "segment"})
                sources["segment"] = "marts.customer_360.rfm_segment"
    if "segment" not in customers.columns:
        customers = customers.with_columns(pl.col("channel").alias("segment"))
    customers = customers.with_columns(normalise_channel("channel"))
    locations = con.sql("select location_id as store, city from staging.stg_lake__locations").pl()
    customers = customers.join(locations, on="store", how="left")
    return customers, sources


def read_availability(con) -> tuple[pl.DataFrame, dict]:
    """channel, location_id, city, sku, atp; and where each part came from."""
    locations = con.sql(
        "select location_id, location_type, city from staging.stg_lake__locations"
    ).pl()
    channels = (
        con.sql("select distinct channel from marts.fct_order_lines where channel is not null")
        .pl()["channel"]
        .to_list()
    )
    snap = (
        con.sql(
            """
        select s.location_id, s.sku,
               greatest(coalesce(s.on_hand, 0) - coalesce(s.reserved, 0), 0) as atp
        from staging.stg_lake__inventory as s
        join (select location_id, max(snapshot_date) as d from staging.stg_lake__inventory
              group by 1) as l
          on l.location_id = s.location_id and l.d = s.snapshot_date
        """
        )
        .pl()
        .join(locations, on="location_id", how="left")
    )
    sources = {}
    online = None
    if table_exists(con, "marts", "channel_atp"):
        cols = columns_of(con, "marts", "channel_atp")
        if {"atp_channel", "sku", "channel_atp", "pool_by"} <= cols:
            # the inventory area's layout: network pools are what an online channel promises
            online = (
                con.sql(
                    "select atp_channel as channel, sku, max(channel_atp) as atp "
                    "from marts.channel_atp where pool_by = 'network' group by 1, 2"
                )
                .pl()
                .with_columns(normalise_channel("channel"))
                .group_by("channel", "sku")
                .agg(pl.col("atp").max())
            )
            sources["online"] = "marts.channel_atp (network pools)"
        elif {"sku", "channel", "atp"} <= cols:
            date_col = next(
                (c for c in ("position_date", "as_of", "snapshot_date", "date") if c in cols), None
            )
            latest = (
                f"where {date_col} = (select max({date_col}) from marts.channel_atp)"
                if date_col
                else ""
            )
            online = (
                con.sql(
                    f"select channel, sku, sum(atp) as atp from marts.channel_atp {latest} group by 1, 2"
                )
                .pl()
                .with_columns(normalise_channel("channel"))
            )
            sources["online"] = "marts.channel_atp"
    if online is None:
        parts = []
        for channel in channels:
            if channel == "pos":
                continue
            kinds = AMAZON_FULFILMENT if channel.startswith("amazon") else ONLINE_FULFILMENT
            parts.append(
                snap.filter(pl.col("location_type").is_in(list(kinds)))
                .group_by("sku")
                .agg(pl.col("atp").sum())
                .with_columns(pl.lit(channel).alias("channel"))
            )
        online = (
            pl.concat(parts).select("channel", "sku", "atp")
            if parts
            else pl.DataFrame(schema={"channel": pl.String, "sku": pl.String, "atp": pl.Float64})
        )
        sources["online"] = "staging.stg_lake__inventory (latest snapshot)"
    stores = None
    if table_exists(con, "marts", "inventory_position"):
        cols = columns_of(con, "marts", "inventory_position")
        qty = next((c for c in ("available_to_promise", "atp", "available") if c in cols), None)
        if qty is None and {"on_hand", "reserved"} <= cols:
            qty = "greatest(on_hand - coalesce(reserved, 0), 0)"
        if qty and {"position_date", "location_id", "sku"} <= cols:
            stores = (
                con.sql(
                    f"""select location_id, sku, {qty} as atp from marts.inventory_position
                where position_date = (select max(position_date) from marts.inventory_position)"""
                )
                .pl()
                .join(locations, on="location_id", how="left")
            )
            sources["stores"] = "marts.inventory_position (latest day)"
    if stores is None:
        stores = snap
        sources["stores"] = "staging.stg_lake__inventory (latest snapshot)"
    stores = stores.filter(pl.col("location_type") == "store").with_columns(
        pl.lit("pos").alias("channel")
    )
    availability = pl.concat(
        [
            online.with_columns(
                pl.lit(None, pl.String).alias("location_id"), pl.lit(None, pl.String).alias("city")
            ).select("channel", "location_id", "city", "sku", pl.col("atp").cast(pl.Float64)),
            stores.select("channel", "location_id", "city", "sku", pl.col("atp").cast(pl.Float64)),
        ]
    )
    return availability, sources


def read_assortment(con) -> pl.DataFrame:
    return (
        con.sql(
            "select distinct sales_channel as channel, sku from staging.stg_lake__sku_map "
            "where sku is not null and sales_channel is not null"
        )
        .pl()
        .with_columns(normalise_channel("channel"))
        .unique()
    )


def recent_durables(
    interactions: pl.DataFrame, products: pl.DataFrame, now: float
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(customer_id, sku) bought within DURABLE_DAYS of items that are durable: flagged so in
    the product master when it says, else estimated: a smoothed repeat rate (share of buyers
    with two or more purchase days) under DURABLE_REPEAT_RATE. Returns the pairs and the
    per-item estimate."""
    days = (
        interactions.filter(pl.col("target"))
        .with_columns(pl.col("ts").floor().alias("day"))
        .group_by("user", "item")
        .agg(pl.col("day").n_unique().alias("days"), pl.col("ts").max().alias("last"))
    )
    per_item = days.group_by("item").agg(
        pl.len().alias("buyers"), (pl.col("days") >= 2).sum().alias("repeaters")
    )
    total = per_item["buyers"].sum() or 1
    g = per_item["repeaters"].sum() / total
    per_item = per_item.with_columns(
        ((pl.col("repeaters") + 10 * g) / (pl.col("buyers") + 10)).alias("repeat_rate")
    )
    if "is_durable" in products.columns:
        durable = products.filter(pl.col("is_durable").fill_null(False)).select(
            pl.col("sku").alias("item")
        )
    else:
        durable = per_item.filter(
            (pl.col("repeat_rate") < DURABLE_REPEAT_RATE) & (pl.col("buyers") >= 20)
        ).select("item")
    pairs = days.filter(pl.col("last") >= now - DURABLE_DAYS).join(durable, on="item")
    return pairs.select(pl.col("user").alias("customer_id"), pl.col("item").alias("sku")), per_item


def similar_items(model, products: pl.DataFrame, n: int = 20) -> pl.DataFrame:
    """Top-n neighbours per SKU from the model's similarities (sum over signal groups)."""
    comp = model.components
    sims = sum(comp.sims.values())
    sims = sims.tocoo()
    items = model.index.items
    frame = pl.DataFrame(
        {
            "sku": items[sims.row].tolist() if sims.nnz else [],
            "similar_sku": items[sims.col].tolist() if sims.nnz else [],
            "similarity": sims.data.astype(np.float64),
        },
        schema={"sku": pl.String, "similar_sku": pl.String, "similarity": pl.Float64},
    )
    names = products.select(
        pl.col("sku").alias("similar_sku"), pl.col("name").alias("similar_name")
    )
    return (
        frame.sort(["sku", "similarity", "similar_sku"], descending=[False, True, False])
        .with_columns(pl.int_range(1, pl.len() + 1).over("sku").alias("rank"))
        .filter(pl.col("rank") <= n)
        .join(names, on="similar_sku", how="left")
        .select("sku", "rank", "similar_sku", "similar_name", "similarity")
    )


def explain(model, recs: pl.DataFrame) -> pl.DataFrame:
    """For every 'similar' recommendation, the item of the customer's history (bought or
    browsed) that contributes most to its kNN score, and whether they bought it: the "bought
    together with …" or "similar to …, which you viewed" of the reason. One join of the
    recommended pairs with the customers' histories and the item similarities."""
    comp = model.components
    empty = pl.DataFrame(
        schema={
            "customer_id": pl.String,
            "sku": pl.String,
            "because_sku": pl.String,
            "because_bought": pl.Boolean,
        }
    )
    pairs = recs.filter(pl.col("source") == "similar").select("customer_id", "sku").unique()
    if pairs.height == 0:
        return empty
    users = pl.DataFrame(
        {"customer_id": model.index.users.tolist(), "u": np.arange(len(model.index.users))},
        schema={"customer_id": pl.String, "u": pl.Int64},
    )
    items = pl.DataFrame(
        {"sku": model.index.items.tolist(), "i": np.arange(len(model.index.items))},
        schema={"sku": pl.String, "i": pl.Int64},
    )
    prof = comp.profile.tocoo()
    history = pl.DataFrame(
        {"u": prof.row.astype(np.int64), "h": prof.col.astype(np.int64), "w": prof.data},
    )
    sims = sum(comp.sims.values()).tocoo()
    sim = pl.DataFrame(
        {"h": sims.row.astype(np.int64), "i": sims.col.astype(np.int64), "s": sims.data},
    )
    bought = comp.hist.filter(pl.col("n_days") > 0).select(
        pl.col("u").cast(pl.Int64), pl.col("i").cast(pl.Int64).alias("h"), pl.lit(True).alias("b")
    )
    best = (
        pairs.join(users, on="customer_id")
        .join(items, on="sku")
        .join(history, on="u")
        .join(sim, on=["h", "i"])
        .with_columns((pl.col("w") * pl.col("s")).alias("c"))
        .filter(pl.col("c") > 0)
        .sort(["customer_id", "sku", "c", "h"], descending=[False, False, True, False])
        .group_by("customer_id", "sku", maintain_order=True)
        .first()
        .join(bought, on=["u", "h"], how="left")
        .join(items.rename({"sku": "because_sku", "i": "h"}), on="h")
        .select(
            "customer_id",
            "sku",
            "because_sku",
            pl.col("b").fill_null(False).alias("because_bought"),
        )
    )
    return pairs.join(best, on=["customer_id", "sku"], how="left").select(empty.columns)


def reasons(recs: pl.DataFrame, products: pl.DataFrame, model, now: float) -> pl.DataFrame:
    """A sentence per row from its source: buy again (with the item's cycle and the days since
    the customer last bought it), viewed, bought together / similar to a viewed item, or
    popular in the segment."""
    comp = model.components
    names = products.select("sku", pl.col("name").cast(pl.String))
    items = pl.DataFrame(
        {
            "sku": model.index.items.tolist(),
            "i": np.arange(len(model.index.items), dtype=np.int32),
            "_cycle": comp.cycle,
        },
        schema={"sku": pl.String, "i": pl.Int32, "_cycle": pl.Float64},
    )
    users = pl.DataFrame(
        {
            "customer_id": model.index.users.tolist(),
            "u": np.arange(len(model.index.users), dtype=np.int32),
        },
        schema={"customer_id": pl.String, "u": pl.Int32},
    )
    last = comp.hist.select(
        pl.col("u").cast(pl.Int32), pl.col("i").cast(pl.Int32), "last_target_ts"
    )
    name = pl.coalesce(pl.col("_name"), pl.col("sku"))
    because = pl.coalesce(pl.col("_because_name"), pl.col("because_sku"))
    since = pl.lit(now) - pl.col("last_target_ts")
    out = (
        recs.with_row_index("_row")
        .join(names.rename({"name": "_name"}), on="sku", how="left")
        .join(
            names.rename({"sku": "because_sku", "name": "_because_name"}),
            on="because_sku",
            how="left",
        )
        .join(items, on="sku", how="left")
        .join(users, on="customer_id", how="left")
        .join(last, on=["u", "i"], how="left")
        .with_columns(
            pl.when(pl.col("source") == "buy_again")
            .then(
                pl.format("Buy again: {}", name)
                + pl.when(pl.col("_cycle").is_not_null() & pl.col("last_target_ts").is_not_null())
                .then(
                    pl.format(
                        " (usually rebought every {} days; last {} days ago)",
                        pl.col("_cycle").round(0).cast(pl.Int64),
                        since.round(0).cast(pl.Int64),
                    )
                )
                .otherwise(pl.lit(""))
            )
            .when(pl.col("source") == "viewed")
            .then(pl.format("You viewed {}", name))
            .when((pl.col("source") == "similar") & pl.col("because_bought").fill_null(False))
            .then(pl.format("Bought together with {}", because))
            .when((pl.col("source") == "similar") & pl.col("because_sku").is_not_null())
            .then(pl.format("Similar to {}, which you viewed", because))
            .when(pl.col("source") == "similar")
            .then(pl.lit("Similar to what you bought or viewed"))
            .otherwise(
                pl.format(
                    "Popular with your segment ({})",
                    pl.coalesce(pl.col("segment").cast(pl.String), pl.lit("all customers")),
                )
            )
            .alias("reason")
        )
        .sort("_row")
    )
    return out.select(*recs.columns, "reason")


def build_recommendations(
    model,
    customers: pl.DataFrame,
    availability: pl.DataFrame,
    assortment: pl.DataFrame,
    durables: pl.DataFrame,
    products: pl.DataFrame,
    segments: dict,
    now: float,
    n: int = 10,
    candidates: int = 60,
    max_per_category: int = 4,
) -> tuple[pl.DataFrame, dict]:
    """Score candidates for every customer, apply the rules, diversify, explain."""
    users = customers["customer_id"].to_list()
    scored = model.recommend(users, candidates, segments).rename(
        {"user": "customer_id", "item": "sku"}
    )
    # the popular items of each customer's segment also stand by when rules remove the rest
    backup = (
        model.popular_for(users, candidates, segments)
        .rename({"user": "customer_id", "item": "sku"})
        .with_columns(pl.col("score") * 0.0 - 1.0 - pl.col("rank") / 1e4)
    )
    scored = pl.concat([scored, backup]).unique(["customer_id", "sku"], keep="first")
    checked = eligible(scored, customers, availability, assortment, durables)
    removed = checked.filter(pl.col("removed").is_not_null()).group_by("removed").len()
    kept = checked.filter(pl.col("removed").is_null()).drop("removed")
    top = diversify(kept, products, n=n, max_per_category=max_per_category)
    top = top.join(explain(model, top), on=["customer_id", "sku"], how="left")
    top = top.join(customers.select("customer_id", "segment"), on="customer_id", how="left")
    top = reasons(top, products, model, now)
    out = top.select(list(LIST_SCHEMA)).with_columns(
        pl.col("score").cast(pl.Float64), pl.col("rank").cast(pl.Int64)
    )
    info = {f"removed: {k}": int(v) for k, v in removed.iter_rows()}
    return out, info


@dataclass
class ServingInputs:
    """What the ``recommendations`` asset reads to fit and serve: the interactions, the
    catalogue, the customers in scope, the stock and listings, the durables each customer
    bought lately, segments and categories, the last moment of data (``now``, days) and which
    tables the customers and the stock came from (``sources``)."""

    frame: pl.DataFrame
    products: pl.DataFrame
    customers: pl.DataFrame
    availability: pl.DataFrame
    assortment: pl.DataFrame
    durables: pl.DataFrame
    segments: dict
    categories: dict
    now: float
    sources: dict

    def serve(
        self, model, n: int, max_per_category: int, customers: pl.DataFrame | None = None
    ) -> tuple[pl.DataFrame, dict]:
        """``build_recommendations`` of ``model`` for every customer in scope, or for
        ``customers`` (some of them: a customer's list depends on the day's components and
        their own rows, not on who else is scored)."""
        return build_recommendations(
            model,
            self.customers if customers is None else customers,
            self.availability,
            self.assortment,
            self.durables,
            self.products,
            self.segments,
            self.now,
            n=n,
            max_per_category=max_per_category,
        )


def read_serving_inputs(con) -> ServingInputs:
    frame = read_interactions(con)
    products = read_products(con)
    customers, customer_sources = read_customers(con, frame)
    availability, stock_sources = read_availability(con)
    now = float(frame["ts"].max())
    return ServingInputs(
        frame=frame,
        products=products,
        customers=customers,
        availability=availability,
        assortment=read_assortment(con),
        durables=recent_durables(frame, products, now)[0],
        segments=dict(customers.select("customer_id", "segment").iter_rows()),
        categories=dict(products.select("sku", "category").iter_rows()),
        now=now,
        sources={**customer_sources, **stock_sources},
    )


def rules_on_lists(
    lists: pl.DataFrame,
    backup: list[str],
    customers: pl.DataFrame,
    availability: pl.DataFrame,
    assortment: pl.DataFrame,
    durables: pl.DataFrame,
    products: pl.DataFrame,
    n: int = 10,
    max_per_category: int = 4,
) -> pl.DataFrame:
    """Any model's ranked lists (user, item, rank) through the serving rules: the stock,
    listing and durable rules, then diversity, with ``backup`` (the popular items) after each
    list to stand in for what the rules remove. The same path for every model, so that the
    models are compared after the rules as they are before them. Returns user, item, rank."""
    users = customers["customer_id"].to_list()
    back = pl.DataFrame(
        {
            "customer_id": pl.Series(np.repeat(users, len(backup)), dtype=pl.String),
            "sku": pl.Series(backup * len(users), dtype=pl.String),
            "score": np.tile(-1e6 - np.arange(len(backup), dtype=np.float64), len(users)),
        }
    )
    ranked = lists.filter(pl.col("user").is_in(customers["customer_id"].implode())).select(
        pl.col("user").alias("customer_id"),
        pl.col("item").alias("sku"),
        (-pl.col("rank").cast(pl.Float64)).alias("score"),
    )
    scored = pl.concat([ranked, back]).unique(["customer_id", "sku"], keep="first")
    checked = eligible(scored, customers, availability, assortment, durables)
    kept = checked.filter(pl.col("removed").is_null()).drop("removed")
    top = diversify(kept, products, n=n, max_per_category=max_per_category)
    return top.select(pl.col("customer_id").alias("user"), pl.col("sku").alias("item"), "rank")


def serving_cost(con, result, frame: pl.DataFrame, cutoff: float, n: int = 10) -> dict:
    """What the serving rules cost in the evaluation: the Zhongtai model's lists for the test
    users run through ``build_recommendations`` (stock, listings, durables, diversity, with
    the popular backup) and scored against the same test purchases as the model. The model
    is scored without the rules (``result``); this reports the rules separately. Customers'
    channels and durables come from the training rows; stock and listings are the latest in
    the warehouse (past stock positions are not kept), so the figure is an estimate."""
    from models.recs.metrics import score_lists

    model = result.models.get("zhongtai")
    if model is None:
        return {}
    train = frame.filter(pl.col("ts") < cutoff)
    test = frame.filter((pl.col("ts") >= cutoff) & pl.col("target"))
    truth = test.filter(pl.col("ts") <= result.info["test_end_days"]).select("user", "item")
    truth = truth.unique()
    users = set(truth["user"].unique().to_list())
    customers, _ = read_customers(con, train)
    customers = customers.filter(pl.col("customer_id").is_in(list(users)))
    availability, _ = read_availability(con)
    products = read_products(con)
    durables, _ = recent_durables(train, products, cutoff)
    segments = dict(customers.select("customer_id", "segment").iter_rows())
    served, removed = build_recommendations(
        model,
        customers,
        availability,
        read_assortment(con),
        durables,
        products,
        segments,
        cutoff,
        n=n,
    )
    served_lists = served.select(
        pl.col("customer_id").alias("user"), pl.col("sku").alias("item"), "rank"
    )
    # the same users for both figures: the test users the serving path has a customer row for
    scored = truth.filter(pl.col("user").is_in(customers["customer_id"].implode()))
    model_lists = result.recommendations.filter(pl.col("model") == "zhongtai").drop("model")
    n_items = int(result.info["catalogue_items"])
    before = score_lists(model_lists, scored, n_items)["precision@10"]
    after = score_lists(served_lists, scored, n_items)["precision@10"]
    # like with like: every model's evaluation lists through the same rules (the same
    # customers, stock, backup and diversity), before and after
    from models.recs.evaluate import popularity_list

    backup = popularity_list(train, 60)
    assortment = read_assortment(con)
    like = {}
    for name in result.recommendations["model"].unique(maintain_order=True).to_list():
        lists = result.recommendations.filter(pl.col("model") == name).drop("model")
        ruled = rules_on_lists(
            lists, backup, customers, availability, assortment, durables, products, n
        )
        like[f"precision@10_before_rules/{name}"] = round(
            score_lists(lists, scored, n_items)["precision@10"], 4
        )
        like[f"precision@10_after_rules/{name}"] = round(
            score_lists(ruled, scored, n_items)["precision@10"], 4
        )
    return {
        "served_users": int(scored["user"].n_unique()),
        "precision@10_model": round(before, 4),
        "precision@10_served": round(after, 4),
        "precision@10_lost_to_rules": round(before - after, 4),
        **like,
        **{k: int(v) for k, v in removed.items()},
    }


def write_tables(con, tables: dict[str, pl.DataFrame]) -> dict[str, int]:
    """Replace each table of the recs schema; returns their row counts."""
    return replace_tables(con, SCHEMA, tables)


def export(frames: dict[str, pl.DataFrame], root: Path, day: dt.date) -> list[str]:
    """CSV (UTF-8 with BOM for spreadsheet tools) and Parquet of each frame under
    ``root/<day>/``."""
    folder = root / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in frames.items():
        frame.write_parquet(folder / f"{name}.parquet")
        with open(folder / f"{name}.csv", "wb") as fh:
            fh.write(b"\xef\xbb\xbf")
            frame.write_csv(fh)
        written += [str(folder / f"{name}.parquet"), str(folder / f"{name}.csv")]
    return written


def email_consented(con) -> pl.Series:
    """Customers whose latest e-mail consent is granted (consent applied at export time):
    ``marts.customer_360.consent_email`` when it exists, else the staged consents."""
    if table_exists(con, "marts", "customer_360") and "consent_email" in columns_of(
        con, "marts", "customer_360"
    ):
        return con.sql(
            "select customer_id from marts.customer_360 where consent_email = 'granted'"
        ).pl()["customer_id"]
    return con.sql(
        """
        select customer_id from (
            select r.customer_id, c.granted,
                   row_number() over (partition by r.customer_id
                                      order by c.consent_ts desc, c.consent_id desc) as k
            from staging.stg_lake__consents as c
            join identity.record_customers as r
              on r.entity = 'consents' and r.channel = c.channel and r.record_id = c.consent_id
            where c.purpose = 'email'
        ) where k = 1 and granted
        """
    ).pl()["customer_id"]
