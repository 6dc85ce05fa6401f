"""The ``segments`` schema of the warehouse: tags, segment membership with history, runs.

- ``customer_tags`` (customer_id, tag, value, computed_at, definition_file, definition_sha256):
  long, one row per customer and tag value; each tag file replaces its own rows only.
- ``segment_members`` (segment, customer_id, valid_from, valid_to, definition_sha256): SCD2.
  A row is open (``valid_to`` null) while the customer is in the segment; leaving closes it,
  coming back opens a new one. "Who joined this week": ``valid_from >= now() - 7 days``.
- ``segment_runs`` (segment, run_at, as_of, members, joined, left_, definition_sha256): one row
  per evaluation, the segment's size over time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

DDL = (
    "CREATE SCHEMA IF NOT EXISTS segments",
    "CREATE TABLE IF NOT EXISTS segments.customer_tags (customer_id VARCHAR, tag VARCHAR, "
    "value VARCHAR, computed_at TIMESTAMP, definition_file VARCHAR, definition_sha256 VARCHAR)",
    "CREATE TABLE IF NOT EXISTS segments.segment_members (segment VARCHAR, customer_id VARCHAR, "
    "valid_from TIMESTAMP, valid_to TIMESTAMP, definition_sha256 VARCHAR)",
    "CREATE TABLE IF NOT EXISTS segments.segment_runs (segment VARCHAR, run_at TIMESTAMP, "
    "as_of DATE, members BIGINT, joined BIGINT, left_ BIGINT, definition_sha256 VARCHAR)",
)


def ensure_schema(con) -> None:
    for stmt in DDL:
        con.execute(stmt)


def now() -> dt.datetime:
    """The run timestamp: UTC, naive, to the microsecond (two runs never share one)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def as_of_date(con) -> dt.date:
    """The day relative windows count back from: the latest real order date in the warehouse
    (the demo brand is a back-fill, so its "today" is its last day; the customer 360 counts
    its recency from the same day), else today."""
    from models.segments.compiler import sources

    row = con.execute(f"SELECT max(order_date) FROM ({sources()['orders'].sql})").fetchone()
    return row[0] if row and row[0] else dt.date.today()


def write_tags(
    con,
    definition_file: str,
    sha256: str,
    tag_names: list[str],
    rows: pl.DataFrame,
    computed_at: dt.datetime,
    live_files: list[str],
) -> int:
    """Replace one file's tags (and rows of tags it now defines, and of files that no longer
    exist) by ``rows`` (customer_id, tag, value). One transaction."""
    ensure_schema(con)
    frame = rows.select("customer_id", "tag", "value").with_columns(
        pl.lit(computed_at).alias("computed_at"),
        pl.lit(definition_file).alias("definition_file"),
        pl.lit(sha256).alias("definition_sha256"),
    )
    con.execute("BEGIN")
    try:
        con.execute(
            "DELETE FROM segments.customer_tags WHERE definition_file = $f "
            "OR list_contains($tags, tag) OR NOT list_contains($live, definition_file)",
            {"f": definition_file, "tags": tag_names, "live": live_files},
        )
        con.register("_new_tags", frame.to_arrow())
        con.execute("INSERT INTO segments.customer_tags SELECT * FROM _new_tags")
        con.unregister("_new_tags")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return frame.height


@dataclass(frozen=True)
class MembershipChange:
    members: int
    joined: int
    left: int


def update_members(
    con,
    segment: str,
    members: list[str],
    run_at: dt.datetime,
    as_of: dt.date,
    sha256: str,
) -> MembershipChange:
    """SCD2: close the open rows of customers who left, open rows for those who joined, and
    log the run. One transaction."""
    ensure_schema(con)
    current = pl.DataFrame({"customer_id": sorted(set(members))}, schema={"customer_id": pl.Utf8})
    con.execute("BEGIN")
    try:
        con.register("_members", current.to_arrow())
        left = con.execute(
            "UPDATE segments.segment_members SET valid_to = $run WHERE segment = $s "
            "AND valid_to IS NULL AND customer_id NOT IN (SELECT customer_id FROM _members)",
            {"run": run_at, "s": segment},
        ).fetchone()[0]
        joined = con.execute(
            "INSERT INTO segments.segment_members SELECT $s, m.customer_id, $run, NULL, $h "
            "FROM _members AS m WHERE m.customer_id NOT IN (SELECT customer_id FROM "
            "segments.segment_members WHERE segment = $s AND valid_to IS NULL)",
            {"s": segment, "run": run_at, "h": sha256},
        ).fetchone()[0]
        con.unregister("_members")
        con.execute(
            "INSERT INTO segments.segment_runs VALUES ($s, $run, $as_of, $n, $j, $l, $h)",
            {
                "s": segment,
                "run": run_at,
                "as_of": as_of,
                "n": current.height,
                "j": joined,
                "l": left,
                "h": sha256,
            },
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return MembershipChange(current.height, int(joined), int(left))


def current_members(con, segment: str) -> list[str]:
    rows = con.execute(
        "SELECT customer_id FROM segments.segment_members WHERE segment = $s AND valid_to IS NULL "
        "ORDER BY customer_id",
        {"s": segment},
    ).fetchall()
    return [r[0] for r in rows]


def runs(con, segment: str) -> pl.DataFrame:
    """The segment's size at every evaluation, oldest first."""
    return con.execute(
        "SELECT run_at, as_of, members, joined, left_ AS left FROM segments.segment_runs "
        "WHERE segment = $s ORDER BY run_at",
        {"s": segment},
    ).pl()


def joined_since(con, segment: str, since: dt.datetime) -> list[str]:
    """Customers who entered the segment at or after ``since`` and are still in it."""
    rows = con.execute(
        "SELECT customer_id FROM segments.segment_members WHERE segment = $s "
        "AND valid_from >= $since AND valid_to IS NULL ORDER BY customer_id",
        {"s": segment, "since": since},
    ).fetchall()
    return [r[0] for r in rows]


def has_table(con, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = $s "
            "AND table_name = $t",
            {"s": schema, "t": table},
        ).fetchone()[0]
    )
