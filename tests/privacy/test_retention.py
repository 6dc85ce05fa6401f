"""Retention: raw clickstream older than the configured age leaves the lake, its daily
aggregates stay, and every landing row is still accounted for."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from ingest.engine import ingest_channel
from ingest.reconcile import reconcile
from ingest.spec import load_specs
from models.privacy import retention
from models.privacy.config import PrivacyConfigError, Retention, load
from models.privacy.retention import date_ranges, purge_events
from tests.conftest import copy_landing


def _events(paths) -> pl.DataFrame:
    return pl.read_parquet(paths.lake_raw / "events" / "*.parquet")


def test_old_events_are_purged_and_aggregates_kept(tiny_demo, data_dir):
    copy_landing(tiny_demo, data_dir, "web")
    specs = {"web": load_specs()["web"]}
    ingest_channel(specs["web"], data_dir)
    before = _events(data_dir)
    newest = before["business_date"].max()
    keep = Retention(raw_events_days=10, clock="newest_event")
    cutoff = newest - dt.timedelta(days=10)
    old = before.filter(pl.col("business_date") < cutoff)
    assert old.height > 0 and old.height < before.height

    report = purge_events(data_dir, keep)
    assert report.cutoff == cutoff and report.purged_rows == old.height
    after = _events(data_dir)
    assert after["business_date"].min() >= cutoff
    assert after.height == before.height - old.height
    # the aggregates hold every purged event, per day, channel, type and SKU
    agg = pl.read_parquet(data_dir.lake / "aggregates" / "events_daily" / "*.parquet")
    assert agg["events"].sum() == old.height
    by_day = old.group_by("business_date").len().sort("business_date")
    got = agg.group_by("business_date").agg(pl.col("events").sum()).sort("business_date")
    assert by_day["len"].to_list() == got["events"].to_list()
    # identifiers of purged events are gone too; the others stay
    ids = pl.read_parquet(data_dir.lake_raw / "identifiers" / "*.parquet").filter(
        pl.col("entity") == "events"
    )
    assert not set(ids["record_id"].to_list()) & set(old["event_id"].to_list())
    assert set(ids["record_id"].to_list()) <= set(after["event_id"].to_list())
    # landing rows = lake rows + quarantined rows + purged rows, file by file
    assert [b for b in reconcile(data_dir, specs) if b.missing] == []
    # a second purge finds nothing older, from the files' footers: no events file is read
    read = []
    real = retention.pl.read_parquet
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(retention.pl, "read_parquet", lambda p, **kw: read.append(p) or real(p, **kw))
        again = purge_events(data_dir, keep)
    assert (again.purged_rows, again.files) == (0, 0)
    assert [p for p in read if "events" in str(p)] == []


def test_footer_dates_are_the_rows_dates_and_a_file_without_statistics_is_read(tiny_demo, data_dir):
    copy_landing(tiny_demo, data_dir, "web")
    ingest_channel(load_specs()["web"], data_dir)
    ranges = date_ranges(data_dir)
    assert ranges and all(r.rows for r in ranges)
    for r in ranges:
        dates = pl.read_parquet(r.path)["business_date"]
        assert (r.rows, r.first, r.last) == (dates.len(), dates.min(), dates.max()), r.path
    # the oldest file rewritten without column statistics: its dates come from its rows, and
    # the purge still finds its old rows
    oldest = min(ranges, key=lambda r: r.first)
    frame = pl.read_parquet(oldest.path)
    frame.write_parquet(oldest.path, statistics=False)
    (again,) = [r for r in date_ranges(data_dir) if r.path == oldest.path]
    assert (again.first, again.last) == (oldest.first, oldest.last)
    newest = max(r.last for r in ranges)
    days = (newest - oldest.first).days - 1  # cut at the day after the oldest file starts
    report = purge_events(data_dir, Retention(raw_events_days=days, clock="newest_event"))
    assert report.cutoff == oldest.first + dt.timedelta(days=1)
    gone = frame.filter(pl.col("business_date") < report.cutoff).height
    assert gone > 0 and report.purged_rows >= gone
    left = pl.read_parquet(oldest.path)
    assert left.height == frame.height - gone


def test_wall_clock_keeps_everything_younger_than_the_age(tiny_demo, data_dir):
    copy_landing(tiny_demo, data_dir, "web")
    ingest_channel(load_specs()["web"], data_dir)
    n = _events(data_dir).height
    report = purge_events(data_dir, Retention(raw_events_days=36500, clock="wall"))
    assert report.purged_rows == 0 and _events(data_dir).height == n


def test_a_bad_setting_names_the_file_and_field(tmp_path):
    bad = tmp_path / "privacy.yml"
    bad.write_text("version: 1\nretention:\n  raw_events_days: 0\n", encoding="utf-8")
    with pytest.raises(PrivacyConfigError, match=r"privacy.yml: retention.raw_events_days"):
        load(bad)
    assert load().retention.raw_events_days >= 1  # the shipped file is valid
