"""Retention of raw clickstream: event rows older than ``retention.raw_events_days`` purged
from the lake, their daily aggregates kept.

Per lake events file (``lake/raw/events/<name>.parquet``), whole business days before the
cutoff are purged, with the identifier rows of those events. Before the rewrite:

- ``lake/aggregates/events_daily/<name>.parquet`` gains the purged days' aggregates (per
  business date, channel, event type, SKU: events, distinct sessions, value), so traffic
  and funnel counts survive;
- ``lake/raw/_retention/<name>.parquet`` records which landing rows were purged
  (``channel, source_file, source_row, business_date, purged_at``; no personal data): the
  reconciliation (landing rows = lake rows + quarantined rows) counts them as accounted for.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from ingest import tombstones
from ingest.config import DataPaths
from models.privacy.config import Retention

AGGREGATE_KEYS = ["business_date", "channel", "event_type", "sku"]


@dataclass
class PurgeReport:
    cutoff: dt.date | None
    files: int = 0
    purged_rows: int = 0
    purged_identifiers: int = 0
    aggregate_rows: int = 0


def event_files(paths: DataPaths) -> list:
    return sorted(
        p for p in (paths.lake_raw / "events").glob("*.parquet") if p.name != "_schema.parquet"
    )


@dataclass(frozen=True)
class DateRange:
    """The business dates of one lake events file, from its Parquet footer (no row read)."""

    path: Path
    rows: int
    first: dt.date | None  # None with rows: the footer has no statistics (read the file)
    last: dt.date | None


def date_ranges(paths: DataPaths) -> list[DateRange]:
    """Per events file, its row count and first and last business date. The footer's column
    statistics hold them: a new day reads ~1,600 footers at 2,500 customers x 400 days
    instead of every row of the events (bench/README.md, "Incremental"). A file written
    without statistics is read (its dates only)."""
    out = []
    for path in event_files(paths):
        meta = pq.ParquetFile(path).metadata
        rows, first, last = meta.num_rows, None, None
        if rows:
            index = meta.schema.to_arrow_schema().get_field_index("business_date")
            groups = range(meta.num_row_groups) if index >= 0 else []
            stats = [meta.row_group(g).column(index).statistics for g in groups]
            if stats and all(s is not None and s.has_min_max for s in stats):
                first, last = min(s.min for s in stats), max(s.max for s in stats)
            else:
                dates = pl.read_parquet(path, columns=["business_date"])["business_date"]
                first, last = dates.min(), dates.max()
        out.append(DateRange(path, rows, first, last))
    return out


def cutoff_date(
    retention: Retention, ranges: list[DateRange], today: dt.date | None = None
) -> dt.date | None:
    """The first business date kept. ``newest_event``: counted back from the newest event in
    the lake's events files (``ranges``; None when there is none); ``wall``: from today
    (UTC)."""
    if retention.clock == "wall":
        now = today or dt.datetime.now(dt.UTC).date()
    else:
        lasts = [r.last for r in ranges if r.last]
        if not lasts:
            return None
        now = max(lasts)
    return now - dt.timedelta(days=retention.raw_events_days)


def aggregate(frame: pl.DataFrame) -> pl.DataFrame:
    return (
        frame.group_by(AGGREGATE_KEYS)
        .agg(
            pl.len().alias("events"),
            pl.col("session_id").n_unique().alias("sessions"),
            pl.col("value").sum().alias("value"),
        )
        .sort(AGGREGATE_KEYS, nulls_last=True)
    )


def purge_events(
    paths: DataPaths, retention: Retention, today: dt.date | None = None
) -> PurgeReport:
    ranges = date_ranges(paths)
    cutoff = cutoff_date(retention, ranges, today)
    report = PurgeReport(cutoff)
    if cutoff is None:
        return report
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    agg_dir = paths.lake / "aggregates" / "events_daily"
    ledger_dir = paths.lake_raw / "_retention"
    ident_dir = paths.lake_raw / "identifiers"
    for path in (r.path for r in ranges if r.rows and (r.first is None or r.first < cutoff)):
        frame = pl.read_parquet(path)
        old = pl.col("business_date") < cutoff
        purged = frame.filter(old)
        if purged.is_empty():
            continue
        agg = aggregate(purged)
        agg_path = agg_dir / path.name
        if agg_path.exists():
            agg = pl.concat([pl.read_parquet(agg_path), agg], how="diagonal_relaxed")
        tombstones.write_parquet(agg, agg_path)
        ledger = purged.select(
            "channel", "source_file", "source_row", "business_date", pl.lit(now).alias("purged_at")
        )
        ledger_path = ledger_dir / path.name
        if ledger_path.exists():
            ledger = pl.concat([pl.read_parquet(ledger_path), ledger])
        tombstones.write_parquet(ledger, ledger_path)
        ident_path = ident_dir / path.name
        if ident_path.exists():
            idents = pl.read_parquet(ident_path)
            gone = (pl.col("entity") == "events") & pl.col("record_id").is_in(
                purged["event_id"].implode()
            )
            kept_ids = idents.filter(~gone)
            report.purged_identifiers += idents.height - kept_ids.height
            tombstones.write_parquet(kept_ids, ident_path)
        tombstones.write_parquet(frame.filter(~old), path)
        report.files += 1
        report.purged_rows += purged.height
        report.aggregate_rows += agg.height
    return report
