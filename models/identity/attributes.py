"""Personal attributes of records (names), read beside their identifiers.

Identifiers say which records hold the same account; names say whether two accounts that a
weak identifier (a phone) would join can be one person. The canonical entities that carry a
personal name are listed once, in ``ingest.canonical.NAME_COLUMNS``; this module reads those
columns for every record (warehouse staging, or the lake for tests and benchmarks that skip
dbt) and reduces each name to a comparison key:

- ``name_key``: a full name, order-free (``佳 陆`` and ``陆佳`` give one key, as do ``Mia
  Clark`` and ``clark mia``): letters only, CJK names as their sorted characters, other names
  as their sorted lower-case words. Null for masked names.
- ``initials``: the letters a masked name may show of it: the first letter of its first and
  of its last word (``陆佳`` → ``陆``; ``佳 陆`` as a western-ordered export writes it → ``佳陆``).
  For a masked name (``王**``), the one letter it shows: the evidence a marketplace export
  leaves of its receiver.
- ``city`` (province and city), ``district`` and ``street``: the delivery address of an
  order, as ingest normalised it (``ingest.canonical.ADDRESS_COLUMNS``); null elsewhere.
"""

from __future__ import annotations

import polars as pl

from ingest.canonical import ADDRESS_COLUMNS, ENTITIES, NAME_COLUMNS
from ingest.identifiers import name_expr
from models.identity.warehouse import RECORD_SEP, table_names

ATTRIBUTE_SCHEMA = {
    "record": pl.String,
    "name": pl.String,  # the full name as written (folded), for people reading the audit
    "name_key": pl.String,
    "initials": pl.String,
    "city": pl.String,
    "district": pl.String,
    "street": pl.String,
}
ADDRESS = ("city", "district", "street")

_MASK = r"[*＊•]"
_CJK = r"^[\p{Han}]+$"


def name_keys(names: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(name_key, initials) expressions of a column of raw names (see the module docstring)."""
    folded = name_expr(names)
    masked = folded.str.contains(_MASK)
    letters = folded.str.replace_all(r"[^\p{L}\s]", "").str.replace_all(r"\s+", " ")
    letters = letters.str.strip_chars().str.to_lowercase()
    compact = letters.str.replace_all(" ", "")
    cjk = compact.str.contains(_CJK)
    key = (
        pl.when(masked | (compact == "") | compact.is_null())
        .then(None)
        .when(cjk)
        .then(compact.str.split("").list.sort().list.join(""))
        .otherwise(letters.str.split(" ").list.sort().list.join(" "))
    )
    words = letters.str.split(" ")
    initial = (
        pl.when(masked)
        .then(folded.str.replace_all(r"[^\p{L}]", "").str.slice(0, 1).str.to_lowercase())
        .otherwise(
            pl.concat_str(
                words.list.first().str.slice(0, 1),
                pl.when(words.list.len() > 1).then(words.list.last().str.slice(0, 1)),
                ignore_nulls=True,
            )
        )
    )
    return key, pl.when(initial == "").then(None).otherwise(initial)


def _record_sql(con, entity: str, source: str) -> str | None:
    """The names of one entity's records, or None when its table lacks the key or names."""
    present = {r[0] for r in con.execute(f"select * from {source} limit 0").description}
    key = ENTITIES[entity]["key"]
    cols = [c for c in NAME_COLUMNS[entity] if c in present]
    if not cols or not set(key) | {"channel"} <= present:
        return None
    record_id = "concat_ws('/', " + ", ".join(f"cast({k} as varchar)" for k in key) + ")"
    where = {p: c for p, c in ADDRESS_COLUMNS.get(entity, {}).items() if c in present}
    city = (
        "concat_ws(' ', " + ", ".join(where[p] for p in ("province", "city") if p in where) + ")"
        if "city" in where
        else "null"
    )
    address = f"nullif({city}, '') as city, " + ", ".join(
        f"{where.get(p, 'null')} as {p}" for p in ("district", "street")
    )
    names = " union all ".join(
        f"select channel || '{RECORD_SEP}{entity}{RECORD_SEP}' || {record_id} as record, "
        f"cast({c} as varchar) as raw_name, {address} from {source} where {c} is not null"
        for c in cols
    )
    return names


def _attributes(con, sources: dict[str, str]) -> pl.DataFrame:
    parts = [sql for e, s in sources.items() if (sql := _record_sql(con, e, s)) is not None]
    if not parts:
        return pl.DataFrame(schema=ATTRIBUTE_SCHEMA)
    raw = pl.from_arrow(con.execute(" union all ".join(parts)).arrow())
    if raw.is_empty():
        return pl.DataFrame(schema=ATTRIBUTE_SCHEMA)
    key, initial = name_keys(pl.col("raw_name"))
    return (
        raw.with_columns(
            key.alias("name_key"),
            initial.alias("initials"),
            pl.when(key.is_not_null()).then(name_expr(pl.col("raw_name"))).alias("name"),
        )
        .filter(pl.col("initials").is_not_null())
        .sort("name_key", "name", nulls_last=True)
        .group_by("record")
        .agg(
            pl.col("name").drop_nulls().first(),
            pl.col("name_key").drop_nulls().first(),
            pl.col("initials").min(),
            *[pl.col(p).drop_nulls().first() for p in ADDRESS],
        )
        .sort("record")
        .cast(ATTRIBUTE_SCHEMA)
    )


def read_record_attributes(con) -> pl.DataFrame:
    """record, name, name_key, initials of every staged record that names a person."""
    tables = table_names(con)
    sources = {
        e: f"staging.stg_lake__{e}" for e in NAME_COLUMNS if f"staging.stg_lake__{e}" in tables
    }
    return _attributes(con, sources)


def read_lake_attributes(con, lake_raw) -> pl.DataFrame:
    """The same from the lake's Parquet (``lake/raw/<entity>/*.parquet``)."""
    sources = {}
    for entity in NAME_COLUMNS:
        folder = lake_raw / entity
        if folder.exists() and any(folder.glob("*.parquet")):
            sources[entity] = f"read_parquet('{folder / '*.parquet'}', union_by_name = true)"
    return _attributes(con, sources)
