"""Price conflicts against the price policy, and the channel a sale was priced on.

Observed price: the posted selling price per SKU × sales channel × day of the prices feed
(``staging.stg_lake__prices``), not the realised unit price of the order lines: MAP and the
ladder are rules on the advertised price, the feed has a price on every listed day (order
lines only on days with a sale, so a conflict on a day without sales would be missed), and
realised prices mix in coupons and basket discounts the policy does not govern.

Everything here is polars in, polars out; the warehouse reads live in ``warehouse.py``.
"""

from __future__ import annotations

import polars as pl

from models.ops.price_policy import LIST_PRICE, PricePolicy

MAP_RULE = "map"
CONFLICT_COLUMNS = [
    "price_date", "sku", "channel", "category", "currency", "price", "list_price", "rule",
    "reference", "reference_price", "floor_price", "gap_abs", "gap_pct", "allowed_below_pct",
    "approved", "promotion", "feed_promo", "is_new",
]  # fmt: skip
_EPS = 1e-6


def price_conflicts(
    prices: pl.DataFrame, products: pl.DataFrame, policy: PricePolicy
) -> pl.DataFrame:
    """Every SKU × channel × day × rule where the posted price breaks the policy.

    ``prices``: price_date, channel, sku, price, list_price, currency, promo_id (the feed's
    promotion label, carried as ``feed_promo``). ``products``: sku, category.
    ``reference_price`` is what the rule compares with (the reference channel's price, the
    list price, or the MAP); ``floor_price`` the lowest price the rule allows; ``gap_abs`` =
    price − reference_price and ``gap_pct`` = that in % of reference_price (negative: below).
    ``approved``: an approved promotion of the policy covers the day, channel and product and
    the gap is within its depth; ``is_new`` = not approved.
    """
    base = prices.select(
        pl.col("price_date").cast(pl.Date),
        pl.col("channel").cast(pl.Utf8),
        pl.col("sku").cast(pl.Utf8),
        pl.col("price").cast(pl.Float64),
        pl.col("list_price").cast(pl.Float64),
        pl.col("currency").cast(pl.Utf8),
        pl.col("promo_id").cast(pl.Utf8).alias("feed_promo"),
    ).join(
        products.select(pl.col("sku").cast(pl.Utf8), pl.col("category").cast(pl.Utf8)),
        on="sku",
        how="left",
    )
    parts = [_ladder(base, rule) for rule in policy.ladder]
    parts.append(_map(base, policy))
    parts = [p for p in parts if p.height]
    if not parts:
        return _empty()
    rows = pl.concat(parts, how="vertical_relaxed")
    rows = rows.with_columns(
        (pl.col("price") - pl.col("reference_price")).round(2).alias("gap_abs"),
        ((pl.col("price") / pl.col("reference_price") - 1) * 100).round(2).alias("gap_pct"),
    )
    return (
        _approve(rows, policy)
        .with_columns((~pl.col("approved")).alias("is_new"))
        .select(CONFLICT_COLUMNS)
        .sort(["price_date", "channel", "sku", "rule"])
    )


def _ladder(base: pl.DataFrame, rule) -> pl.DataFrame:
    rows = base.filter(pl.col("channel").is_in(rule.channels))
    if rule.reference == LIST_PRICE:
        rows = rows.with_columns(pl.col("list_price").alias("reference_price"))
    else:
        ref = base.filter(pl.col("channel") == rule.reference).select(
            "price_date", "sku", "currency", pl.col("price").alias("reference_price")
        )
        # same SKU, day and currency: prices in different currencies are not compared
        rows = rows.join(ref, on=["price_date", "sku", "currency"], how="inner")
    floor = pl.col("reference_price") * (1 - rule.max_below_pct / 100)
    return rows.with_columns(
        pl.lit(rule.rule).alias("rule"),
        pl.lit(rule.reference).alias("reference"),
        floor.round(2).alias("floor_price"),
        pl.lit(float(rule.max_below_pct)).alias("allowed_below_pct"),
    ).filter(pl.col("price") < floor - _EPS)


def _map(base: pl.DataFrame, policy: PricePolicy) -> pl.DataFrame:
    pairs = base.select("sku", "category").unique()
    rows = []
    for sku, category in pairs.iter_rows():
        f = policy.map.floor_for(sku, category)
        if f is not None:
            rows.append((sku, f.min_share_of_list, f.min_price, f.currency))
    if not rows:
        return pl.DataFrame()
    floors = pl.DataFrame(
        rows,
        schema={"sku": pl.Utf8, "share": pl.Float64, "amount": pl.Float64, "map_ccy": pl.Utf8},
        orient="row",
    )
    mapped = base.join(floors, on="sku", how="inner").with_columns(
        pl.when(pl.col("share").is_not_null())
        .then(pl.col("list_price") * pl.col("share"))
        .when(pl.col("map_ccy") == pl.col("currency"))
        .then(pl.col("amount"))
        .round(2)
        .alias("reference_price")
    )
    return (
        mapped.filter(pl.col("price") < pl.col("reference_price") - _EPS)
        .with_columns(
            pl.lit(MAP_RULE).alias("rule"),
            pl.lit(MAP_RULE).alias("reference"),
            pl.col("reference_price").alias("floor_price"),
            pl.lit(0.0).alias("allowed_below_pct"),
        )
        .drop("share", "amount", "map_ccy")
    )


def _approve(rows: pl.DataFrame, policy: PricePolicy) -> pl.DataFrame:
    """``promotion``: the first approved promotion (file order) that covers the row."""
    md = pl.col("price_date").dt.month().cast(pl.Int32) * 100 + pl.col("price_date").dt.day()
    promotion = pl.lit(None, dtype=pl.Utf8)
    for promo in reversed(policy.promotions):
        if promo.every_year is not None:
            a = _md_int(promo.every_year.start)
            b = _md_int(promo.every_year.end)
            on_day = md.is_between(a, b) if a <= b else (md >= a) | (md <= b)
        else:
            on_day = pl.col("price_date").is_between(pl.lit(promo.start), pl.lit(promo.end))
        product = pl.lit(True)
        if promo.skus or promo.categories:
            product = pl.col("sku").is_in(promo.skus) | pl.col("category").is_in(promo.categories)
        depth = pl.lit(True)
        if promo.max_below_pct is not None:
            depth = -pl.col("gap_pct") <= promo.max_below_pct + _EPS
        covers = on_day & pl.col("channel").is_in(promo.channels) & product & depth
        promotion = pl.when(covers).then(pl.lit(promo.name)).otherwise(promotion)
    return rows.with_columns(promotion.alias("promotion")).with_columns(
        pl.col("promotion").is_not_null().alias("approved")
    )


def _md_int(text: str) -> int:
    month, day = (int(x) for x in text.split("-"))
    return month * 100 + day


def _empty() -> pl.DataFrame:
    schema = {
        "price_date": pl.Date, "sku": pl.Utf8, "channel": pl.Utf8, "category": pl.Utf8,
        "currency": pl.Utf8, "price": pl.Float64, "list_price": pl.Float64, "rule": pl.Utf8,
        "reference": pl.Utf8, "reference_price": pl.Float64, "floor_price": pl.Float64,
        "gap_abs": pl.Float64, "gap_pct": pl.Float64, "allowed_below_pct": pl.Float64,
        "approved": pl.Boolean, "promotion": pl.Utf8, "feed_promo": pl.Utf8, "is_new": pl.Boolean,
    }  # fmt: skip
    return pl.DataFrame(schema=schema)


def conflict_episodes(conflicts: pl.DataFrame) -> pl.DataFrame:
    """Runs of consecutive days of the same SKU × channel × rule × approval: first and last
    day, days, the deepest gap; new ones first, deepest first."""
    if conflicts.is_empty():
        return pl.DataFrame(
            schema={
                "sku": pl.Utf8,
                "channel": pl.Utf8,
                "rule": pl.Utf8,
                "is_new": pl.Boolean,
                "date_from": pl.Date,
                "date_to": pl.Date,
                "days": pl.UInt32,
                "worst_gap_pct": pl.Float64,
                "reference": pl.Utf8,
            }  # fmt: skip
        )
    keys = ["sku", "channel", "rule", "is_new"]
    runs = (
        conflicts.sort([*keys, "price_date"])
        .with_columns(
            (pl.col("price_date").diff().over(keys).dt.total_days().fill_null(0) != 1)
            .cum_sum()
            .over(keys)
            .alias("run")
        )
        .group_by([*keys, "run"])
        .agg(
            pl.col("price_date").min().alias("date_from"),
            pl.col("price_date").max().alias("date_to"),
            pl.len().cast(pl.UInt32).alias("days"),
            pl.col("gap_pct").min().alias("worst_gap_pct"),
            pl.col("reference").first(),
        )
        .drop("run")
    )
    return runs.sort(["is_new", "worst_gap_pct", "sku", "channel", "date_from"],
                     descending=[True, False, False, False, False])  # fmt: skip


def attach_price_channel(lines: pl.DataFrame, price_currency: pl.DataFrame) -> pl.DataFrame:
    """``lines`` (channel, currency, ...) with ``price_channel``: the feed channel equal to
    the order channel, else the one feed channel of the same family (text before '_') and
    currency; null when neither exists or the family has several in that currency.
    ``price_currency``: channel, currency of the prices feed."""
    pc = price_currency.select("channel", "currency").unique()
    fam = (
        pc.with_columns(pl.col("channel").str.split("_").list.first().alias("family"))
        .group_by("family", "currency")
        .agg(pl.col("channel").first().alias("by_family"), pl.len().alias("n"))
        .filter(pl.col("n") == 1)
        .drop("n")
    )
    direct = pc.select(pl.col("channel"), pl.col("channel").alias("by_channel")).unique()
    return (
        lines.join(direct, on="channel", how="left")
        .join(fam, left_on=["channel", "currency"], right_on=["family", "currency"], how="left")
        .with_columns(pl.coalesce("by_channel", "by_family").alias("price_channel"))
        .drop("by_channel", "by_family")
    )
