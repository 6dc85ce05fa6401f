"""Reading the inventory position and the forecast from the warehouse; writing the proposal
tables (schema ``replenishment``) and the planners' CSV exports."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from ingest.config import replace_tables

SCHEMA = "replenishment"

POSITIONS_SQL = """
select
    p.position_date, p.location_id, p.location_type, l.city, l.country, p.sku,
    pr.name_zh, pr.category, p.on_hand, p.in_transit, p.sold_since_snapshot + p.reserved as committed,
    p.available_to_promise, p.inventory_position
from marts.inventory_position as p
join staging.stg_lake__locations as l on l.location_id = p.location_id
left join staging.stg_lake__products as pr on pr.sku = p.sku
where p.is_latest and p.snapshot_status <> 'delisted'
order by p.location_id, p.sku
"""


class ForecastMissing(RuntimeError):
    """The forecast table the policy needs is not in the warehouse."""


def _mean_sql(con, table: str) -> str:
    """The expected-demand column of ``forecast.<table>``: the P50 where it has no mean (a
    forecast table written before the mean existed, or a model without one)."""
    has = con.execute(
        "select count(*) from information_schema.columns where table_schema = 'forecast' "
        "and table_name = ? and column_name = 'mean'",
        [table],
    ).fetchone()[0]
    return "coalesce(mean, p50) as mean" if has else "p50 as mean"


def _has_table(con, schema: str, table: str) -> bool:
    return (
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? "
            "and table_name = ?",
            [schema, table],
        ).fetchone()[0]
        > 0
    )


def read_positions(con) -> pl.DataFrame:
    """The latest position of every location × SKU still listed, with city, country, product
    name and category."""
    return con.execute(POSITIONS_SQL).pl()


def read_forecast(con, as_of: dt.date) -> pl.DataFrame:
    """The forecast days after ``as_of`` from the latest cutoff of forecast.demand_forecast
    (location_id, sku, ds, cutoff, model, p10, p50, p90, mean). A missing interval bound is
    taken as the P50 (no spread) rather than dropping the day; a missing mean as the P50."""
    if not _has_table(con, "forecast", "demand_forecast"):
        raise ForecastMissing(
            "forecast.demand_forecast is not in the warehouse: materialise the forecast first"
        )
    return con.execute(
        f"""
        select location_id, sku, ds, cutoff, model,
            coalesce(p10, p50) as p10, p50, coalesce(p90, p50) as p90,
            {_mean_sql(con, "demand_forecast")}
        from forecast.demand_forecast
        where cutoff = (select max(cutoff) from forecast.demand_forecast) and ds > ?
        order by location_id, sku, ds
        """,
        [as_of],
    ).pl()


def read_routing_inputs(con, as_of: dt.date, window_days: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Sales in the ``window_days`` up to ``as_of``: unlocated (sku, channel, currency, units)
    and located (location_id, sku, units), from marts.fct_daily_sales."""
    start = as_of - dt.timedelta(days=window_days - 1)
    params = [start, as_of]
    mix = con.execute(
        """
        select sku, channel, currency, sum(units_sold) as units from marts.fct_daily_sales
        where location_id = 'UNASSIGNED' and sales_date between ? and ?
        group by all order by all
        """,
        params,
    ).pl()
    own = con.execute(
        """
        select location_id, sku, sum(units_sold) as units from marts.fct_daily_sales
        where location_id <> 'UNASSIGNED' and sales_date between ? and ?
        group by all order by all
        """,
        params,
    ).pl()
    return mix, own


def write_tables(con, tables: dict[str, pl.DataFrame]) -> dict[str, int]:
    """Replace each table of the replenishment schema; returns their row counts."""
    return replace_tables(con, SCHEMA, tables)


def export_csv(folder: Path, tables: dict[str, pl.DataFrame]) -> dict[str, str]:
    """Write each frame as ``<folder>/<name>.csv`` (UTF-8 with BOM so that spreadsheet tools
    planners use read the Chinese names right); returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, frame in tables.items():
        path = folder / f"{name}.csv"
        with path.open("wb") as fh:
            fh.write("\ufeff".encode())
            frame.write_csv(fh)
        paths[name] = str(path)
    return paths


def read_backtest(con) -> pl.DataFrame:
    """The backtest forecasts of the model the live forecast uses (the one model of
    forecast.demand_forecast): location_id, sku, ds, cutoff, p10, p50, p90, mean (the P50
    where the model has no mean)."""
    for table in ("demand_forecast", "backtest_forecasts"):
        if not _has_table(con, "forecast", table):
            raise ForecastMissing(f"forecast.{table} is not in the warehouse")
    models = [
        r[0] for r in con.execute("select distinct model from forecast.demand_forecast").fetchall()
    ]
    if len(models) != 1:
        raise ValueError(f"forecast.demand_forecast holds {len(models)} models, expected one")
    return con.execute(
        f"select location_id, sku, ds, cutoff, p10, p50, p90, "
        f"{_mean_sql(con, 'backtest_forecasts')} from forecast.backtest_forecasts "
        "where model = ? order by location_id, sku, cutoff, ds",
        models,
    ).pl()


def proposal_violations(con) -> list[str]:
    """Broken rules in the written proposals: a purchase below the MOQ or not in whole case
    packs, a transfer out of FBA, or a location giving more than its available-to-promise."""
    checks = {
        "purchase below the MOQ or not whole case packs": f"""
            select location_id || ' ' || sku || ': ' || order_qty
            from {SCHEMA}.replenishment_proposals
            where order_qty > 0 and (order_qty < moq or order_qty % case_pack <> 0)""",
        "transfer out of an FBA node": f"""
            select from_location_id || ' ' || sku from {SCHEMA}.transfer_proposals
            where from_location_id in (select location_id from {SCHEMA}.replenishment_proposals
                                       where location_type = 'fba')""",
        "transfers out exceed available-to-promise": f"""
            select location_id || ' ' || sku || ': ' || transfer_out
            from {SCHEMA}.replenishment_proposals
            where transfer_out > available_to_promise""",
    }
    out = []
    for rule, sql in checks.items():
        out += [f"{rule}: {r[0]}" for r in con.execute(sql).fetchall()]
    return out
