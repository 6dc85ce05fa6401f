"""Read the identifiers from the warehouse and write the ``identity`` schema back.

The caller owns the connection (one writer at a time: the Dagster asset opens the warehouse
read-write only inside its body and closes it before returning).
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from ingest.canonical import ENTITIES
from ingest.config import connect as connect_memory
from ingest.config import replace_tables
from models.identity.resolve import Resolution
from models.identity.stable_ids import id_number

SCHEMA = "identity"
STAGING_IDENTIFIERS = "staging.stg_lake__identifiers"
RECORD_SEP = "\x1f"  # between channel, entity and record_id in a record key

MERGES_SCHEMA = {
    "run_at": pl.Datetime("us"),
    "kind": pl.String,
    "from_customer_id": pl.String,
    "to_customer_id": pl.String,
    "identifiers": pl.Int64,
    "evidence": pl.String,
    "link_tier": pl.String,  # of a merge: deterministic or probabilistic
    "match_weight": pl.Float64,  # of the probabilistic link behind a merge
}


def table_names(con) -> set[str]:
    """Every schema.table of the database."""
    return {
        f"{s}.{t}"
        for s, t in con.execute(
            "select table_schema, table_name from information_schema.tables"
        ).fetchall()
    }


def _columns(con, table: str) -> dict[str, str]:
    """column name -> DuckDB type, in table order."""
    schema, name = table.split(".")
    return {
        r[0]: r[1]
        for r in con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = ? and table_name = ? order by ordinal_position",
            [schema, name],
        ).fetchall()
    }


def _time_column(spec: dict, cols: dict[str, str]) -> str | None:
    """The entity's canonical time column, else its first timestamp column (staging renames
    some: orders.order_ts is ordered_at)."""
    if spec["ts"] and spec["ts"] in cols:
        return spec["ts"]
    return next((c for c, t in cols.items() if t.upper().startswith("TIMESTAMP")), None)


def record_id_sql(key: list[str], alias: str = "e") -> str:
    """An entity's record_id from its key columns (joined by '/', as the ingest engine builds
    it) over the table alias ``alias``."""
    return "concat_ws('/', " + ", ".join(f"cast({alias}.{k} as varchar)" for k in key) + ")"


def entities_with_identifiers(con) -> set[str]:
    """The entities of the staged identifiers' records."""
    return {
        r[0] for r in con.execute(f"select distinct entity from {STAGING_IDENTIFIERS}").fetchall()
    }


def _record_times_sql(con) -> str | None:
    """One select per staged entity with a time column and with identifiers (only their
    records are joined: the times of other entities, e.g. inventory snapshots and order
    lines, are never used): channel, entity, record_id (the entity key joined by '/', as the
    ingest engine builds it) and seen_at. Entities without a time of their own but keyed by
    an order take the order's time."""
    tables = table_names(con)
    with_ids = entities_with_identifiers(con)
    orders = "staging.stg_lake__orders"
    order_time = (
        _time_column(ENTITIES["orders"], _columns(con, orders)) if orders in tables else None
    )
    parts = []
    for entity, spec in ENTITIES.items():
        table = f"staging.stg_lake__{entity}"
        if entity == "identifiers" or entity not in with_ids or table not in tables:
            continue
        cols = _columns(con, table)
        key = spec["key"]
        if not set(key) <= set(cols) or "channel" not in cols:
            continue
        record_id = record_id_sql(key)
        ts = _time_column(spec, cols)
        if ts is not None:
            parts.append(
                f"select e.channel, '{entity}' as entity, {record_id} as record_id, "
                f"cast(e.{ts} as timestamp) as seen_at from {table} e"
            )
        elif "order_id" in key and order_time is not None:
            parts.append(
                f"select e.channel, '{entity}' as entity, {record_id} as record_id, "
                f"cast(o.{order_time} as timestamp) as seen_at from {table} e "
                f"join {orders} o on o.channel = e.channel and o.order_id = e.order_id"
            )
    if not parts:
        return None
    return (
        "select channel, entity, record_id, min(seen_at) as seen_at from ("
        + " union all ".join(parts)
        + ") group by all"
    )


def read_identifiers(con) -> pl.DataFrame:
    """The staged identifiers as the resolver's input: record (channel, entity and record_id
    joined by RECORD_SEP), channel, identifier_type, identifier_value, scope, is_partial,
    seen_at (the record's time where staging has one)."""
    times = _record_times_sql(con)
    join = (
        f"left join ({times}) t on t.channel = i.channel and t.entity = i.entity "
        "and t.record_id = i.record_id"
        if times
        else ""
    )
    seen = "t.seen_at" if times else "cast(null as timestamp)"
    sql = f"""
        select i.channel || '{RECORD_SEP}' || i.entity || '{RECORD_SEP}' || i.record_id as record,
               i.channel, i.identifier_type, i.identifier_value, i.scope, i.is_partial,
               {seen} as seen_at
        from {STAGING_IDENTIFIERS} i {join}
    """
    return pl.from_arrow(con.execute(sql).arrow())


def data_through(ids: pl.DataFrame) -> dt.date | None:
    """The last day of the data: of the order records (the business's own clock; an entity
    without a time column of its own carries its load time, e.g. ``order_contacts``), else of
    any record; None when no record has a time."""
    if "seen_at" not in ids.columns:
        return None
    entity = pl.col("record").str.split(RECORD_SEP).list.get(1, null_on_oob=True)
    for frame in (ids.filter(entity == "orders"), ids):
        last = frame["seen_at"].max()
        if last is not None:
            return last.date()
    return None


def read_previous(con) -> tuple[pl.DataFrame | None, int]:
    """The previous run's customer_identifiers, and the largest id number ever issued."""
    tables = table_names(con)
    if f"{SCHEMA}.customer_identifiers" not in tables:
        return None, 0
    previous = pl.from_arrow(
        con.execute(
            f"select customer_id, identifier_type, scope, identifier_value, is_partial "
            f"from {SCHEMA}.customer_identifiers"
        ).arrow()
    )
    ids = set(previous["customer_id"].drop_nulls().unique().to_list())
    if f"{SCHEMA}.identity_merges" in tables:
        for a, b in con.execute(
            f"select from_customer_id, to_customer_id from {SCHEMA}.identity_merges"
        ).fetchall():
            ids.update(x for x in (a, b) if x)
    return previous, max((id_number(i) for i in ids), default=0)


def split_record(frame: pl.DataFrame, column: str = "record") -> pl.DataFrame:
    parts = pl.col(column).str.split_exact(RECORD_SEP, 2)
    return frame.with_columns(
        parts.struct.field("field_0").alias("channel"),
        parts.struct.field("field_1").alias("entity"),
        parts.struct.field("field_2").alias("record_id"),
    ).drop(column)


def identity_frames(
    resolution: Resolution, record_tiers: pl.DataFrame | None = None
) -> dict[str, pl.DataFrame]:
    """The rows of identity.customer_identifiers, record_customers, blocked_identifiers,
    limit_audit and (given ``record_tiers``) identifier_links, as the tables hold them."""
    tables = {
        "customer_identifiers": resolution.customer_identifiers,
        "record_customers": split_record(resolution.records.drop("cluster")).select(
            "channel", "entity", "record_id", "customer_id"
        ),
        "blocked_identifiers": resolution.blocked_identifiers,
        "limit_audit": split_record(resolution.limit_audit).select(
            "channel",
            "entity",
            "record_id",
            *[c for c in resolution.limit_audit.columns if c != "record"],
        ),
    }
    if record_tiers is not None:
        # every record's link to its customer: tier, weight and evidence (exports choose the
        # tier they accept)
        tables["identifier_links"] = split_record(
            record_tiers.filter(pl.col("customer_id").is_not_null())
        ).select(
            "channel",
            "entity",
            "record_id",
            "customer_id",
            "link_tier",
            "match_weight",
            "match_probability",
            "evidence",
        )
    return tables


def write_tables(
    con, resolution: Resolution, run_at: dt.datetime, record_tiers: pl.DataFrame | None = None
) -> dict[str, int]:
    """Replace identity.customer_identifiers, record_customers, blocked_identifiers,
    limit_audit and (given ``record_tiers``) identifier_links; append this run's rows to
    identity.identity_merges."""
    counts = replace_tables(con, SCHEMA, identity_frames(resolution, record_tiers))
    counts["identity_merges"] = append_merges(con, resolution.merges, run_at)
    return counts


def append_merges(con, merges: pl.DataFrame, run_at: dt.datetime) -> int:
    """Append a run's merges, splits and retirements to identity.identity_merges."""
    con.execute(f"create schema if not exists {SCHEMA}")
    merges = merges.with_columns(pl.lit(run_at).cast(pl.Datetime("us")).alias("run_at"))
    merges = merges.with_columns(
        pl.lit(None, dtype=d).alias(c) for c, d in MERGES_SCHEMA.items() if c not in merges.columns
    )
    merges = merges.select(list(MERGES_SCHEMA)).cast(MERGES_SCHEMA)
    con.register("_frame", merges.to_arrow())
    con.execute(
        f"create table if not exists {SCHEMA}.identity_merges as select * from _frame limit 0"
    )
    # a table of an earlier version gains the newer columns (older rows keep them null)
    for col, sql_type in (("link_tier", "varchar"), ("match_weight", "double")):
        con.execute(
            f"alter table {SCHEMA}.identity_merges add column if not exists {col} {sql_type}"
        )
    con.execute(f"insert into {SCHEMA}.identity_merges by name select * from _frame")
    con.unregister("_frame")
    return merges.height


def read_lake_identifiers(lake_raw) -> pl.DataFrame:
    """The lake's identifiers (``lake/raw/identifiers/*.parquet``, what staging reads) as the
    resolver's input, with each record's source_file; no record times. For tests and
    benchmarks that skip dbt."""
    glob = str(lake_raw / "identifiers" / "*.parquet")
    con = connect_memory()
    try:
        sql = f"""
            select channel || '{RECORD_SEP}' || entity || '{RECORD_SEP}' || record_id as record,
                   channel, entity, record_id, identifier_type, identifier_value, scope,
                   is_partial, source_file
            from read_parquet('{glob}', union_by_name = true)
        """
        return pl.from_arrow(con.execute(sql).arrow())
    finally:
        con.close()
