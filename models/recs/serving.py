"""Business rules applied to scored candidates before anything reaches a customer.

1. Stock: a SKU is shown only when it is available to promise where the customer buys: on
   their usual channel (online channels: ATP of the channel), or, for store customers, at
   their preferred store or another store in the same city. A channel without any stock
   figures of its own (e.g. an app that only sends browsing events) takes the ATP of any
   online channel.
2. Assortment: a SKU listed on some channels only (a channel exclusive) is shown only to
   customers whose usual channel lists it. A channel without any listing data is not
   restricted.
3. Durables: an item the customer bought within ``durable_days`` is not shown again when it
   is durable (few of its buyers ever buy it again).
4. Diversity: at most ``max_per_category`` items of one category in a list; when the
   eligible items run out, the list is shorter rather than repetitive.

Pure functions on polars frames, so each rule is tested on hand-made rows.
"""

from __future__ import annotations

import polars as pl


def normalise_channel(col: str = "channel") -> pl.Expr:
    """amazon_us / amazon_de / amazon_uk are one 'amazon' channel in orders."""
    return (
        pl.when(pl.col(col).str.starts_with("amazon"))
        .then(pl.lit("amazon"))
        .otherwise(pl.col(col))
        .alias(col)
    )


def eligible(
    scored: pl.DataFrame,
    customers: pl.DataFrame,
    availability: pl.DataFrame,
    assortment: pl.DataFrame,
    recent_durables: pl.DataFrame,
) -> pl.DataFrame:
    """The rows of ``scored`` (customer_id, sku, ...) that pass the stock, assortment and
    durable rules, with the reason each other row was removed counted in ``removed``.

    customers: customer_id, channel (usual), store (preferred, may be null), city (of that
    store, may be null); availability: channel, location_id (null for a channel-wide figure),
    city (of the location, may be null), sku, atp; assortment: sku, channel;
    recent_durables: customer_id, sku."""
    rows = scored.join(
        customers.select("customer_id", "channel", "store", "city"), on="customer_id", how="left"
    )
    in_stock_online = (
        availability.filter(pl.col("atp") > 0)
        .group_by("channel", "sku")
        .agg()
        .with_columns(pl.lit(True).alias("_online"))
    )
    stores = availability.filter((pl.col("atp") > 0) & pl.col("location_id").is_not_null())
    at_store = (
        stores.select(pl.col("location_id").alias("store"), "sku")
        .unique()
        .with_columns(pl.lit(True).alias("_store"))
    )
    in_city = (
        stores.filter(pl.col("city").is_not_null())
        .select("city", "sku")
        .unique()
        .with_columns(pl.lit(True).alias("_city"))
    )
    # a channel with no stock figures of its own (an app that only sends events, whose orders
    # are fulfilled by the online network): any online channel's ATP
    stock_channels = (
        availability.select("channel").unique().with_columns(pl.lit(True).alias("_has_stock"))
    )
    anywhere_online = (
        availability.filter((pl.col("atp") > 0) & (pl.col("channel") != "pos"))
        .select("sku")
        .unique()
        .with_columns(pl.lit(True).alias("_network"))
    )
    listed_channels = (
        assortment.select("channel").unique().with_columns(pl.lit(True).alias("_has_listing"))
    )
    listed = (
        assortment.select("sku", "channel").unique().with_columns(pl.lit(True).alias("_listed"))
    )
    rows = (
        rows.join(in_stock_online, on=["channel", "sku"], how="left")
        .join(stock_channels, on="channel", how="left")
        .join(anywhere_online, on="sku", how="left")
        .join(at_store, on=["store", "sku"], how="left")
        .join(in_city, on=["city", "sku"], how="left")
        .join(listed_channels, on="channel", how="left")
        .join(listed, on=["sku", "channel"], how="left")
        .join(
            recent_durables.select("customer_id", "sku")
            .unique()
            .with_columns(pl.lit(True).alias("_durable")),
            on=["customer_id", "sku"],
            how="left",
        )
    )
    is_store_customer = pl.col("channel") == "pos"
    stock_ok = (
        pl.when(is_store_customer)
        .then(pl.col("_store").fill_null(False) | pl.col("_city").fill_null(False))
        .when(pl.col("_has_stock").fill_null(False))
        .then(pl.col("_online").fill_null(False))
        .otherwise(pl.col("_network").fill_null(False))
    )
    listing_ok = ~pl.col("_has_listing").fill_null(False) | pl.col("_listed").fill_null(False)
    durable_ok = ~pl.col("_durable").fill_null(False)
    return rows.with_columns(
        pl.when(~listing_ok)
        .then(pl.lit("not listed on the customer's channel"))
        .when(~stock_ok)
        .then(pl.lit("no stock on the customer's channel or near their store"))
        .when(~durable_ok)
        .then(pl.lit("durable item bought recently"))
        .otherwise(None)
        .alias("removed")
    ).drop(
        "_online",
        "_store",
        "_city",
        "_has_stock",
        "_network",
        "_has_listing",
        "_listed",
        "_durable",
    )


def diversify(
    ranked: pl.DataFrame, categories: pl.DataFrame, n: int = 10, max_per_category: int = 4
) -> pl.DataFrame:
    """Top-n per customer from rows ranked by ``score`` (highest first), at most
    ``max_per_category`` per category (items without a category are their own category)."""
    joined = (
        ranked.join(categories.select("sku", "category"), on="sku", how="left")
        .with_columns(pl.col("category").fill_null(pl.col("sku")))
        .sort(["customer_id", "score", "sku"], descending=[False, True, False])
        .with_columns(pl.int_range(1, pl.len() + 1).over("customer_id", "category").alias("_k"))
        .filter(pl.col("_k") <= max_per_category)
        .with_columns(pl.int_range(1, pl.len() + 1).over("customer_id").alias("rank"))
        .filter(pl.col("rank") <= n)
    )
    return joined.drop("_k")
