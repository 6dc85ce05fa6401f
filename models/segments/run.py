"""Run the definitions against the warehouse: compute a tag file, evaluate and store a
segment, plot its size over time. Framework-free: the Dagster assets and the CLI call these.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from models.reports import pyplot, save_figure
from models.segments.compiler import compile_segment, compile_tags
from models.segments.registry import Loaded, tag_files
from models.segments.schema import SegmentDef, TagFile
from models.segments.store import MembershipChange, runs, update_members, write_tags
from models.segments.yamlfile import display_path


def tag_rows(con, tags: TagFile, as_of: dt.date) -> pl.DataFrame:
    """customer_id, tag, value of every tag of one file."""
    query = compile_tags(tags, as_of)
    frame = con.execute(query.sql, query.params).pl()
    schema = {"customer_id": pl.Utf8, "tag": pl.Utf8, "value": pl.Utf8}
    return frame.cast(schema) if frame.height else pl.DataFrame(schema=schema)


def compute_tag_file(con, loaded: Loaded, as_of: dt.date, computed_at: dt.datetime) -> pl.DataFrame:
    """Compute one tag file and replace its rows in segments.customer_tags."""
    tags = loaded.require()
    assert isinstance(tags, TagFile)
    rows = tag_rows(con, tags, as_of)
    live = [display_path(p) for p in tag_files(loaded.path.parent.parent)]
    write_tags(
        con,
        display_path(loaded.path),
        loaded.sha256,
        [t.name for t in tags.tags],
        rows,
        computed_at,
        live,
    )
    return rows


def segment_members(con, segment: SegmentDef, as_of: dt.date) -> list[str]:
    """The customer ids in the segment now (live evaluation)."""
    query = compile_segment(segment, as_of)
    return [r[0] for r in con.execute(query.sql, query.params).fetchall()]


def refresh_segment(
    con, loaded: Loaded, as_of: dt.date, run_at: dt.datetime
) -> tuple[list[str], MembershipChange]:
    """Evaluate a segment and record its membership (SCD2) and size."""
    segment = loaded.require()
    assert isinstance(segment, SegmentDef)
    members = segment_members(con, segment, as_of)
    change = update_members(con, segment.name, members, run_at, as_of, loaded.sha256)
    return members, change


def plot_sizes(con, segment: str, path: Path) -> Path:
    """A PNG of the segment's size at every evaluation, with joins and leaves."""
    plt = pyplot()
    history = runs(con, segment)
    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=100)
    if history.height:
        x = history["run_at"].to_list()
        ax.plot(x, history["members"].to_list(), marker="o", label="members")
        ax.bar(x, history["joined"].to_list(), width=0.0005, alpha=0.5, label="joined")
        ax.bar(x, [-v for v in history["left"].to_list()], width=0.0005, alpha=0.5, label="left")
        ax.legend(loc="upper left", fontsize=8)
    ax.set_title(f"Segment {segment}: size at each evaluation")
    ax.set_ylabel("customers")
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    save_figure(fig, path)
    return path
