"""Point-in-time history of the customer 360.

``marts.customer_360`` says where each customer stands as of its ``as_of_date`` (the last
day any real order was placed: the data's date, not the clock). Each run appends that
picture to ``history.customer_360``, keyed by (customer_id, as_of_date), so a marketer can
follow how a customer's RFM scores, segment, LTV or membership changed from one load to the
next. A run on data of an as-of date already kept replaces that date's rows (a re-run
changes nothing); columns the 360 gains later are added to the history (older rows keep
them null).
"""

from __future__ import annotations

from ingest.config import transaction

SCHEMA = "history"
TABLE = f"{SCHEMA}.customer_360"
SOURCE = "marts.customer_360"


def append_snapshot(con) -> dict:
    """Append (or replace) this as-of date's rows of the 360 in ``history.customer_360``.
    Returns the as-of date, rows written, snapshots kept, and how many customers changed RFM
    segment since the previous snapshot."""
    con.execute(f"create schema if not exists {SCHEMA}")
    con.execute(f"create table if not exists {TABLE} as select * from {SOURCE} limit 0")
    have = {r[0] for r in con.execute(f"describe {TABLE}").fetchall()}
    for name, sql_type, *_ in con.execute(f"describe {SOURCE}").fetchall():
        if name not in have:
            con.execute(f'alter table {TABLE} add column "{name}" {sql_type}')
    with transaction(con):
        con.execute(
            f"delete from {TABLE} where as_of_date in (select distinct as_of_date from {SOURCE})"
        )
        con.execute(f"insert into {TABLE} by name select * from {SOURCE}")
    (as_of, rows) = con.execute(f"select max(as_of_date), count(*) from {SOURCE}").fetchone()
    (snapshots,) = con.execute(f"select count(distinct as_of_date) from {TABLE}").fetchone()
    (changed,) = con.execute(
        f"""
        with prev as (
            select max(as_of_date) as d from {TABLE} where as_of_date < ?
        )
        select count(*) from {TABLE} now
        join {TABLE} before
          on before.customer_id = now.customer_id
         and before.as_of_date = (select d from prev)
        where now.as_of_date = ?
          and now.rfm_segment is distinct from before.rfm_segment
        """,
        [as_of, as_of],
    ).fetchone()
    return {
        "as_of_date": str(as_of) if as_of is not None else None,
        "rows": int(rows),
        "snapshots": int(snapshots),
        "rfm_segment_changed": int(changed),
    }


def duplicate_keys(con) -> int:
    """(customer_id, as_of_date) keys held more than once in the history."""
    (n,) = con.execute(
        f"select count(*) from (select customer_id, as_of_date from {TABLE} "
        "group by all having count(*) > 1)"
    ).fetchone()
    return int(n)
