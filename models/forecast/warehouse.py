"""The demand long frame from the warehouse, and the ``forecast`` tables written back.

One series per SKU x location (``unique_id = sku|location_id``) per day:

- ``units_sold``: units of real sales lines (``marts.fct_order_lines``: paid, shipped or
  completed; test orders and brushing suspects excluded) on the order date, at the fulfilling
  location (``UNASSIGNED`` when the channel does not say);
- ``censored``: the day ended with nothing to promise (``marts.inventory_position``
  ``available_to_promise <= 0`` on a day with the pair's own snapshot: the physical stock
  on hand, less what is sold and not yet shipped): what sold is a lower bound of demand, so
  ``y`` is null there;
- carried days: from the pair's first sale or snapshot to the last day of data; a day without
  a snapshot for a pair that has snapshots (not carried, not live) and without sales is not
  observed either. Pairs without any snapshot (no inventory feed) are never censored.

Exogenous columns, per day: ``discount`` and ``promo`` in the location's main price channel
(known in advance: planned prices), ``discount_mean``/``promo_share`` over every channel's
price of the SKU, ``price_index`` (price against the SKU's median price); ``footfall`` of a
store and the city's ``temp_max``/``precip`` (known only up to the forecast origin); static
``category``, ``location_type`` and ``channel`` (the location's main sales channel).
"""

from __future__ import annotations

import polars as pl

from ingest.config import replace_tables
from models.forecast.schema import SCHEMA, conform

FUTURE_EXOG = ["discount", "promo", "discount_mean", "promo_share", "price_index"]
PAST_EXOG = ["footfall", "temp_max", "precip"]
STATIC = ["category", "location_type", "channel"]

# sales channel of an order line -> the channel of its price list (Amazon by currency)
PRICE_CHANNEL = """
case when channel = 'amazon' then
    case currency when 'USD' then 'amazon_us' when 'EUR' then 'amazon_de'
                  when 'GBP' then 'amazon_uk' end
else channel end
"""

DEMAND_SQL = f"""
with lines as (
    select order_date as ds, coalesce(location_id, 'UNASSIGNED') as location_id, sku,
           channel, {PRICE_CHANNEL} as price_channel, quantity
    from marts.fct_order_lines
    where is_real_order and sku is not null
),
sold as (
    select sku, location_id, ds, sum(quantity)::double as units_sold
    from lines group by all
),
inv as (
    select sku, location_id, position_date as ds, available_to_promise as atp
    from marts.inventory_position where snapshot_status = 'current'
),
inv_pairs as (select distinct sku, location_id from inv),
bounds as (
    select max(ds) as last_day from (select ds from sold union all select ds from inv)
),
pairs as (
    select sku, location_id, min(ds) as first_day
    from (select sku, location_id, ds from sold union all select sku, location_id, ds from inv)
    group by all
),
grid as (
    select p.sku, p.location_id, unnest(generate_series(p.first_day, b.last_day,
           interval 1 day))::date as ds
    from pairs p cross join bounds b
)
select
    g.sku || '|' || g.location_id as unique_id, g.sku, g.location_id, g.ds,
    coalesce(s.units_sold, 0) as units_sold,
    coalesce(i.atp <= 0, false) as censored,
    (ip.sku is null or i.atp is not null or s.units_sold is not null) as carried
from grid g
left join sold s using (sku, location_id, ds)
left join inv i using (sku, location_id, ds)
left join inv_pairs ip using (sku, location_id)
"""

PRICE_SQL = """
with p as (
    select price_date as ds, sales_channel, sku, price::double as price,
           list_price::double as list_price,
           coalesce(promo_id, '') <> '' as promo
    from staging.stg_lake__prices
),
med as (select sku, sales_channel, median(price) as med from p group by all)
select p.ds, p.sales_channel, p.sku,
       case when list_price > 0 then 1 - price / list_price end as discount,
       p.promo::double as promo,
       case when med.med > 0 then price / med.med end as price_index
from p join med using (sku, sales_channel)
"""


def _has(con, table: str) -> bool:
    schema, name = table.split(".")
    return bool(
        con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name = ?",
            [schema, name],
        ).fetchone()[0]
    )


def demand_frame(con) -> pl.DataFrame:
    """The long frame (one row per SKU x location x carried day) with ``y`` (null where
    censored or not carried), the flags and every exogenous column."""
    frame = con.sql(DEMAND_SQL).pl()
    frame = frame.with_columns(
        y=pl.when(pl.col("censored") | ~pl.col("carried"))
        .then(None)
        .otherwise(pl.col("units_sold"))
    )
    loc = con.sql(
        f"""select location_id, arg_max(channel, n) as channel,
                   arg_max(price_channel, n) as price_channel
            from (select coalesce(location_id, 'UNASSIGNED') as location_id, channel,
                         {PRICE_CHANNEL} as price_channel, sum(quantity) as n
                  from marts.fct_order_lines group by all)
            group by all"""
    ).pl()
    frame = frame.join(loc, on="location_id", how="left")
    if _has(con, "staging.stg_lake__locations"):
        locs = con.sql(
            "select location_id, location_type, city from staging.stg_lake__locations"
        ).pl()
        frame = frame.join(locs, on="location_id", how="left")
    else:
        frame = frame.with_columns(location_type=pl.lit(None, pl.String), city=None)
    if _has(con, "staging.stg_lake__products"):
        prods = con.sql("select sku, category from staging.stg_lake__products").pl()
        frame = frame.join(prods, on="sku", how="left")
    else:
        frame = frame.with_columns(category=pl.lit(None, pl.String))
    if _has(con, "staging.stg_lake__prices"):
        prices = con.sql(PRICE_SQL).pl()
        own = prices.rename({"sales_channel": "price_channel"}).select(
            "ds", "price_channel", "sku", "discount", "promo", "price_index"
        )
        frame = frame.join(own, on=["ds", "price_channel", "sku"], how="left")
        every = prices.group_by("ds", "sku").agg(
            discount_mean=pl.col("discount").mean(), promo_share=pl.col("promo").mean()
        )
        frame = frame.join(every, on=["ds", "sku"], how="left")
    else:
        frame = frame.with_columns([pl.lit(None, pl.Float64).alias(c) for c in FUTURE_EXOG])
    if _has(con, "staging.stg_lake__footfall"):
        foot = con.sql(
            "select footfall_date as ds, location_id, avg(visitors)::double as footfall "
            "from staging.stg_lake__footfall group by all"
        ).pl()
        frame = frame.join(foot, on=["ds", "location_id"], how="left")
    else:
        frame = frame.with_columns(footfall=pl.lit(None, pl.Float64))
    if _has(con, "staging.stg_lake__weather"):
        weather = con.sql(
            "select weather_date as ds, city, avg(temp_max_c)::double as temp_max, "
            "avg(precipitation_mm)::double as precip from staging.stg_lake__weather group by all"
        ).pl()
        frame = frame.join(weather, on=["ds", "city"], how="left")
    else:
        frame = frame.with_columns(temp_max=pl.lit(None, pl.Float64), precip=None)
    return frame.sort("unique_id", "ds")


def delivered_days(con) -> dict:
    """``{channel: last order date}`` over every order line of the marts (any status: a
    delivered line is a delivered day), for ``models.forecast.settle``."""
    from models.forecast.settle import last_delivered

    records = con.sql("select distinct channel, order_date as ds from marts.fct_order_lines").pl()
    return last_delivered(records, "channel", "ds")


def write_tables(con, tables: dict[str, tuple[pl.DataFrame, dict | None]]) -> dict[str, int]:
    """Replace each ``forecast.<name>`` table (conformed to its schema when one is given)."""
    frames = {
        name: conform(frame, schema) if schema else frame
        for name, (frame, schema) in tables.items()
    }
    return replace_tables(con, SCHEMA, frames)
