"""Stale and missing inventory snapshots: the rule behind the snapshot check.

A position is only as good as its snapshot. On the latest position date, a location × SKU is
a problem when its location delivered no snapshot for more than ``max_age_days`` (stale: the
position is carried from an older count, less the orders since), when the location's snapshot
left out a SKU it last had in stock (missing: stock does not vanish), or when an open location
never delivered any snapshot (no_snapshot).
"""

from __future__ import annotations

import polars as pl

MAX_AGE_DAYS = 1

PROBLEMS_SQL = """
with latest as (
    select max(position_date) as as_of from marts.inventory_position
)
select location_id, sku, snapshot_status as problem, snapshot_date, snapshot_age_days
from marts.inventory_position
where is_latest
    and ((snapshot_status = 'stale' and snapshot_age_days > $max_age)
         or snapshot_status = 'missing')
union all
select l.location_id, null as sku, 'no_snapshot' as problem, null as snapshot_date,
    null as snapshot_age_days
from staging.stg_lake__locations as l, latest
where (l.opened_date is null or l.opened_date <= latest.as_of)
    and l.location_id not in (select location_id from marts.inventory_position)
order by problem, location_id, sku
"""


def snapshot_problems(con, max_age_days: int = MAX_AGE_DAYS) -> pl.DataFrame:
    """Every stale, missing or never-delivered snapshot on the latest position date."""
    return con.execute(PROBLEMS_SQL, {"max_age": max_age_days}).pl()
