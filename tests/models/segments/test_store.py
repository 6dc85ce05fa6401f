"""Segment membership history (SCD2) across runs, and tag rows replaced per file."""

from __future__ import annotations

import datetime as dt

import polars as pl

from ingest.config import connect
from models.segments.store import (
    current_members,
    joined_since,
    runs,
    update_members,
    write_tags,
)

T1 = dt.datetime(2025, 3, 1, 6, 0)
T2 = dt.datetime(2025, 3, 8, 6, 0)
T3 = dt.datetime(2025, 3, 15, 6, 0)


def test_scd2_across_runs(tmp_path):
    con = connect(tmp_path / "w.duckdb")
    first = update_members(con, "vip", ["a", "b"], T1, dt.date(2025, 2, 28), "h1")
    second = update_members(con, "vip", ["b", "c"], T2, dt.date(2025, 3, 7), "h1")
    third = update_members(con, "vip", ["a", "b", "c"], T3, dt.date(2025, 3, 14), "h2")
    assert (first.members, first.joined, first.left) == (2, 2, 0)
    assert (second.members, second.joined, second.left) == (2, 1, 1)
    assert (third.members, third.joined, third.left) == (3, 1, 0)
    history = con.execute(
        "SELECT customer_id, valid_from, valid_to FROM segments.segment_members "
        "WHERE segment = 'vip' ORDER BY customer_id, valid_from"
    ).fetchall()
    assert history == [
        ("a", T1, T2),  # left at the second run
        ("a", T3, None),  # came back: a new row
        ("b", T1, None),  # never left: one open row
        ("c", T2, None),
    ]
    assert current_members(con, "vip") == ["a", "b", "c"]
    # "who joined this week" as of the third run
    assert joined_since(con, "vip", T3 - dt.timedelta(days=6)) == ["a"]
    assert joined_since(con, "vip", T2) == ["a", "c"]
    assert runs(con, "vip")["members"].to_list() == [2, 2, 3]
    # another segment's history is untouched
    update_members(con, "other", [], T3, dt.date(2025, 3, 14), "h")
    assert current_members(con, "vip") == ["a", "b", "c"]
    con.close()


def test_each_tag_file_replaces_only_its_rows(tmp_path):
    con = connect(tmp_path / "w.duckdb")
    rows = lambda *r: pl.DataFrame(r, schema=["customer_id", "tag", "value"], orient="row")  # noqa: E731
    live = ["a.yml", "b.yml"]
    write_tags(con, "a.yml", "h", ["x"], rows(("c1", "x", "true"), ("c2", "x", "true")), T1, live)
    write_tags(con, "b.yml", "h", ["y"], rows(("c1", "y", "5")), T1, live)
    write_tags(con, "a.yml", "h", ["x"], rows(("c3", "x", "true")), T2, live)
    got = con.execute(
        "SELECT customer_id, tag, value, computed_at FROM segments.customer_tags ORDER BY 1, 2"
    ).fetchall()
    assert got == [("c1", "y", "5", T1), ("c3", "x", "true", T2)]
    # b.yml deleted: its rows go at the next write of any file
    write_tags(con, "a.yml", "h", ["x"], rows(("c3", "x", "true")), T3, ["a.yml"])
    assert con.execute("SELECT DISTINCT tag FROM segments.customer_tags").fetchall() == [("x",)]
    con.close()
