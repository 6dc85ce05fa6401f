"""Reads of the funnel and uplift inputs from the warehouse (the dbt marts
``marts.ops_customer_journeys`` and ``marts.ops_cohort_retention``, the unified facts) and the
write of their tables (schema ``ops``)."""

from __future__ import annotations

import polars as pl

from ingest.config import replace_tables

SCHEMA = "ops"
_REAL = "o.is_real_order"  # marts.fct_orders' column, computed by the dbt macro is_real_order


def read_journeys(con) -> pl.DataFrame:
    return con.execute("select * from marts.ops_customer_journeys order by customer_id").pl()


def read_cohorts(con) -> pl.DataFrame:
    return con.execute(
        "select * from marts.ops_cohort_retention order by acquisition_channel, cohort_month, "
        "month_k"
    ).pl()


def read_orders(con) -> pl.DataFrame:
    """Real orders of identified customers: customer_id, channel, order_id, ordered_at,
    net_amount_cny."""
    return con.execute(
        "select o.customer_id, o.channel, o.order_id, o.ordered_at, "
        "cast(coalesce(o.net_amount_cny, 0) as double) as net_amount_cny "
        f"from marts.fct_orders o where o.customer_id is not null and {_REAL} "
        "order by o.customer_id, o.ordered_at, o.channel, o.order_id"
    ).pl()


def read_host_orders(con) -> pl.DataFrame:
    """Real orders credited to a host (the channel's anchor_id, e.g. Douyin's 达人ID)."""
    return con.execute(
        "select o.channel, o.order_id, o.customer_id, trim(cast(s.anchor_id as varchar)) "
        "as host_id, s.anchor_name as host_name, o.ordered_at, "
        "cast(coalesce(o.net_amount_cny, 0) as double) as net_amount_cny "
        "from marts.fct_orders o join staging.stg_lake__orders s "
        "on o.channel = s.channel and o.order_id = s.order_id "
        f"where {_REAL} and nullif(trim(cast(s.anchor_id as varchar)), '') is not null "
        "order by o.channel, o.order_id"
    ).pl()


def write_tables(con, tables: dict[str, pl.DataFrame]) -> dict[str, int]:
    return replace_tables(con, SCHEMA, tables)
