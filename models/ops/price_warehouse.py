"""Warehouse reads and writes of the price and product-matrix tables (schema ``ops``)."""

from __future__ import annotations

import polars as pl

from ingest.config import replace_tables
from models.ops.elasticity import daily_panels, elasticities, price_suggestions
from models.ops.matrix import channel_product_matrix
from models.ops.price import attach_price_channel, price_conflicts
from models.ops.price_policy import PricePolicy

SCHEMA = "ops"


def read_prices(con) -> pl.DataFrame:
    return con.sql(
        "select sales_channel as channel, price_date, sku, cast(price as double) as price, "
        "cast(list_price as double) as list_price, currency, promo_id "
        "from staging.stg_lake__prices"
    ).pl()


def read_products(con) -> pl.DataFrame:
    return con.sql(
        "select sku, category, cast(unit_cost as double) as unit_cost, currency as cost_currency, "
        "cast(launch_date as date) as launch_date, "
        "cast(discontinued_date as date) as discontinued_date from staging.stg_lake__products"
    ).pl()


def read_sales(con, prices: pl.DataFrame) -> pl.DataFrame:
    """Units per day × price channel × SKU of real sales (no test orders, brushing suspects or
    cancelled lines), on the order's business date."""
    lines = con.sql(
        "select order_date as date, channel, currency, sku, sum(quantity) as units "
        "from marts.fct_order_lines where is_real_order and sku is not null group by all"
    ).pl()
    priced = attach_price_channel(lines, prices.select("channel", "currency").unique())
    return (
        priced.filter(pl.col("price_channel").is_not_null())
        .group_by("date", "price_channel", "sku")
        .agg(pl.col("units").sum().cast(pl.Int64))
        .rename({"price_channel": "channel"})
    )


def read_listings(con) -> pl.DataFrame:
    """SKUs listed per channel: priced in the prices feed on its latest day and live then
    (launched, not discontinued). The SKU map is not a listing: it gives a code per channel
    also for SKUs a channel does not sell (the demo maps every SKU on every channel)."""
    return con.sql(
        "select distinct p.sales_channel as channel, p.sku from staging.stg_lake__prices p "
        "left join staging.stg_lake__products s on p.sku = s.sku "
        "where p.price_date = (select max(price_date) from staging.stg_lake__prices) "
        "and (s.launch_date is null or cast(s.launch_date as date) <= p.price_date) "
        "and (s.discontinued_date is null or cast(s.discontinued_date as date) >= p.price_date)"
    ).pl()


def read_atp(con) -> pl.DataFrame:
    """Available-to-promise per channel × SKU now, summed over the channel's pools."""
    return con.sql(
        "select atp_channel as channel, sku, "
        "cast(sum(available_to_promise) as bigint) as available_to_promise "
        "from marts.channel_atp group by all"
    ).pl()


def read_costs(con, products: pl.DataFrame, currencies: list[str]) -> pl.DataFrame:
    """Unit cost per SKU in each selling currency, at the latest reference FX rate."""
    rates = con.sql(
        "select currency, cast(rate_to_cny as double) as rate_to_cny from "
        "intermediate.int_fx_rates qualify row_number() over "
        "(partition by currency order by rate_month desc) = 1"
    ).pl()
    base = products.select("sku", "unit_cost", "cost_currency")
    out = []
    for ccy in currencies:
        rate = rates.filter(pl.col("currency") == ccy)["rate_to_cny"]
        frame = base.with_columns(pl.lit(ccy).alias("currency"))
        if rate.len():
            # cost in CNY → CNY per unit of ccy; costs already in ccy are kept
            conv = pl.when(pl.col("cost_currency") == ccy).then(pl.col("unit_cost"))
            if ccy != "CNY":
                conv = conv.when(pl.col("cost_currency") == "CNY").then(
                    pl.col("unit_cost") / float(rate[0])
                )
        else:
            conv = pl.when(pl.col("cost_currency") == ccy).then(pl.col("unit_cost"))
        out.append(frame.select("sku", "currency", conv.alias("unit_cost")))
    return pl.concat(out) if out else pl.DataFrame(schema={"sku": pl.Utf8, "currency": pl.Utf8,
                                                           "unit_cost": pl.Float64})  # fmt: skip


def map_floors(latest: pl.DataFrame, products: pl.DataFrame, policy: PricePolicy) -> pl.DataFrame:
    """The MAP per channel × SKU on the latest day (in the channel's currency)."""
    rows = []
    cats = dict(products.select("sku", "category").iter_rows())
    for channel, sku, list_price, ccy in latest.select(
        "channel", "sku", "list_price", "currency"
    ).iter_rows():
        f = policy.map.floor_for(sku, cats.get(sku))
        if f is None:
            continue
        if f.min_share_of_list is not None:
            rows.append((channel, sku, round(list_price * f.min_share_of_list, 2)))
        elif f.currency == ccy:
            rows.append((channel, sku, f.min_price))
    return pl.DataFrame(
        rows, schema={"channel": pl.Utf8, "sku": pl.Utf8, "map_floor": pl.Float64}, orient="row"
    )


def build_conflicts(con, policy: PricePolicy) -> dict[str, pl.DataFrame]:
    return {"price_conflicts": price_conflicts(read_prices(con), read_products(con), policy)}


def build_elasticity(con, policy: PricePolicy) -> dict[str, pl.DataFrame]:
    """The table price_elasticity (every SKU × channel's fit over the whole history)."""
    prices = read_prices(con)
    products = read_products(con)
    panels = daily_panels(prices, read_sales(con, prices), products)
    return {"price_elasticity": elasticities(panels, policy.elasticity)}


def build_suggestions(con, policy: PricePolicy) -> dict[str, pl.DataFrame]:
    """The table price_suggestions: the latest day's prices with the elasticities of table
    ops.price_elasticity (``build_elasticity``'s, as last written)."""
    prices = read_prices(con)
    products = read_products(con)
    elastic = con.sql(f"select * from {SCHEMA}.price_elasticity").pl()
    latest = prices.filter(pl.col("price_date") == prices["price_date"].max())
    costs = read_costs(con, products, latest["currency"].unique().to_list())
    floors = map_floors(latest, products, policy)
    return {"price_suggestions": price_suggestions(latest, elastic, costs, floors, policy)}


def build_matrix(con, policy: PricePolicy, window_days: int = 28) -> dict[str, pl.DataFrame]:
    prices = read_prices(con)
    matrix = channel_product_matrix(
        read_products(con),
        read_listings(con),
        read_sales(con, prices),
        read_atp(con),
        policy,
        window_days,
    )
    return {"channel_product_matrix": matrix}


def write_tables(con, tables: dict[str, pl.DataFrame]) -> dict[str, int]:
    return replace_tables(con, SCHEMA, tables)
