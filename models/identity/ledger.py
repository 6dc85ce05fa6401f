"""Which staged records can have changed since the identity state was written, from the
staging ledgers (``<model>__lake_files``, ``dbt_project/macros/incremental_deliveries.sql``)
instead of a comparison of every record with the state.

An incremental staging model holds the rows of the lake files its ledger lists (lake_file,
source_file, size, modified); a run of it deletes the rows of files gone or changed and
inserts the rows of new files (a row replaces the one of the same key: every staging model's
unique key holds the channel and the entity's key, so the same record). So
when every file the state was built from is still in the ledger, unchanged, a staged row
that differs from the state's is a row of a new file: the records the identity asset reads
(identifiers, the times and names of ``read_identifiers`` and ``read_record_attributes``)
can have changed only where a new file of one of their tables holds the record, or, for the
records timed by their order (``order_contacts``), the order. A table staged without a
ledger (rebuilt in full from the lake: ``members``, ``consents``) gives all its records. These
*candidates* are a superset of the changed records; ``incremental._changed_records`` compares
only them with the state, and finds the same changed records as the comparison of all.

Anything else is left to the comparison of all, with the reason: no ledger recorded with the
state (a state written before, or from input not read from this warehouse's staging), a file
of the recorded ledger changed in place or gone (a correction, a retention purge, an
erasure), a file recorded without its time (dbt reads it again), a table's ledger gone, the
staging models' code changed since (a ``--full-refresh`` rebuilds the tables under the same
ledger).
"""

from __future__ import annotations

import polars as pl

from ingest.canonical import ENTITIES, NAME_COLUMNS
from models.identity.warehouse import (
    RECORD_SEP,
    SCHEMA,
    STAGING_IDENTIFIERS,
    _columns,
    entities_with_identifiers,
    record_id_sql,
    table_names,
)

STATE = "state_lake_files"
LEDGER = "__lake_files"
ORDERS = "staging.stg_lake__orders"


class NoShortcut(Exception):
    """Why the changed records are found by comparing every record with the state."""


def _sources(con) -> dict[str, str]:
    """staging table -> the SQL of its record key over alias ``e``: the identifiers and every
    staged entity the asset reads times or names of (as ``_record_times_sql`` and
    ``read_record_attributes`` choose them)."""
    tables = table_names(con)
    if STAGING_IDENTIFIERS not in tables:
        return {}
    out = {
        STAGING_IDENTIFIERS: f"e.channel || '{RECORD_SEP}' || e.entity || '{RECORD_SEP}' "
        "|| e.record_id"
    }
    with_ids = entities_with_identifiers(con)
    for entity, spec in ENTITIES.items():
        table = f"staging.stg_lake__{entity}"
        if entity == "identifiers" or table not in tables:
            continue
        cols = _columns(con, table)
        if not set(spec["key"]) | {"channel"} <= set(cols):
            continue
        # orders: also for the records timed by their order
        if entity in with_ids or entity in NAME_COLUMNS or table == ORDERS:
            out[table] = (
                f"e.channel || '{RECORD_SEP}{entity}{RECORD_SEP}' || {record_id_sql(spec['key'])}"
            )
    return out


def _ledger(table: str) -> str:
    return table + LEDGER


def record(con) -> list[str]:
    """Write the ledgers of the identity asset's staged tables into ``identity.state_lake_files``
    (the files the state is built from); returns the tables recorded."""
    tables = table_names(con)
    recorded = [t for t in _sources(con) if _ledger(t) in tables]
    parts = [
        f"select '{t}' as model, lake_file, source_file, size, modified from {_ledger(t)}"
        for t in recorded
    ]
    con.execute(f"drop table if exists {SCHEMA}.{STATE}")
    if parts:
        con.execute(f"create table {SCHEMA}.{STATE} as " + " union all ".join(parts))
    return recorded


def forget(con) -> None:
    """No ledger kept with the state (its input was not read from this staging)."""
    con.execute(f"drop table if exists {SCHEMA}.{STATE}")


def _new_rows(con, table: str, recorded: list[str], tables: set[str]) -> str:
    """A predicate over ``e`` (a row of ``table``): the row may differ from the state's.
    Raises NoShortcut when the ledger cannot say."""
    ledger = _ledger(table)
    short = table.removeprefix("staging.")
    if ledger not in tables:
        if table in recorded:
            raise NoShortcut(f"the ledger of {short} is gone")
        return "true"  # rebuilt in full on every run: every record a candidate
    if table not in recorded:
        raise NoShortcut(f"no ledger of {short} recorded with the state")
    if "source_file" not in _columns(con, table):
        raise NoShortcut(f"{short} has no source_file")
    state = f"{SCHEMA}.{STATE}"
    gone = con.execute(
        f"""
        select count(*) from {state} r
        where r.model = '{table}' and (r.modified is null or not exists (
            select 1 from {ledger} n where n.lake_file = r.lake_file and n.size = r.size
               and n.modified = r.modified and n.source_file is not distinct from r.source_file))
        """
    ).fetchone()[0]
    if gone:
        raise NoShortcut(
            f"{gone} lake files of {short} changed, gone or not dated since the previous run"
        )
    return f"""e.source_file in (
        select n.source_file from {ledger} n where not exists (
            select 1 from {state} r where r.model = '{table}' and r.lake_file = n.lake_file
               and r.size = n.size and r.modified = n.modified))"""


def candidates(con, recorded: list[str]) -> tuple[pl.Series, int]:
    """The records that can differ from the state (a superset of the changed ones), and the
    number of staged tables read; raises NoShortcut with the reason when the ledgers cannot
    say."""
    tables = table_names(con)
    sources = _sources(con)
    if STAGING_IDENTIFIERS not in sources:
        raise NoShortcut("no staged identifiers")
    gone = [t for t in recorded if t not in sources]
    if gone:
        raise NoShortcut(f"the state was built from {gone[0]}, no longer read")
    selects = []
    for table, key in sources.items():
        where = _new_rows(con, table, recorded, tables)
        selects.append(f"select {key} as record from {table} e where {where}")
    # the records timed by their order (no time of their own): a new delivery of the order
    # changes their time
    timed_by_order = [t for t in sources if t != ORDERS and "order_id" in _columns(con, t)]
    if timed_by_order and ORDERS in sources:
        orders = _new_rows(con, ORDERS, recorded, tables)
        for table in timed_by_order:
            selects.append(
                f"select {sources[table]} as record from {table} e where (e.channel, e.order_id) "
                f"in (select e.channel, e.order_id from {ORDERS} e where {orders})"
            )
    sql = "select distinct record from (" + " union all ".join(selects) + ")"
    frame = pl.from_arrow(con.execute(sql).arrow())
    return frame.to_series().cast(pl.String).alias("record"), len(sources)
