"""Precision and recall of the order and session flags against the demo truth.

Evaluation only: the pipeline never reads ``data/truth/``; this module does, when it exists
(the demo brand), so the flags' quality is a measured figure, not a claim.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from ingest.config import DataPaths, connect


@dataclass(frozen=True)
class FlagScore:
    flag: str
    flagged: int
    actual: int
    hits: int

    @property
    def precision(self) -> float | None:
        return self.hits / self.flagged if self.flagged else None

    @property
    def recall(self) -> float | None:
        return self.hits / self.actual if self.actual else None


def _score(flag: str, flagged: set, actual: set) -> FlagScore:
    return FlagScore(flag, len(flagged), len(actual), len(flagged & actual))


def evaluate_flags(paths: DataPaths) -> list[FlagScore] | None:
    """None when there is no truth (a real brand's data)."""
    truth = paths.truth
    if not (truth / "sales_lines.parquet").exists():
        return None
    lines = pl.read_parquet(
        truth / "sales_lines.parquet", columns=["channel", "order_id", "is_test", "is_brushing"]
    )
    orders = lines.group_by("channel", "order_id").agg(
        pl.col("is_test").any(), pl.col("is_brushing").any()
    )
    actual_test = set(orders.filter("is_test").select("channel", "order_id").iter_rows())
    actual_brush = set(orders.filter("is_brushing").select("channel", "order_id").iter_rows())
    defects = pl.read_parquet(truth / "defects.parquet").filter(pl.col("kind") == "bot_session")
    actual_bots = {
        (ch, m.group(1))
        for ch, detail in defects.select("channel", "detail").iter_rows()
        if (m := re.search(r"anonymousId (\S+?):", detail))
    }
    con = connect(paths.warehouse, read_only=True)
    try:
        flags = con.sql(
            "select channel, order_id, flag from intermediate.int_order_flags"
        ).fetchall()
        bots = con.sql(
            "select distinct channel, anonymous_id from intermediate.int_bot_sessions"
        ).fetchall()
    finally:
        con.close()
    return [
        _score("test_order", {(c, o) for c, o, f in flags if f == "test_order"}, actual_test),
        _score(
            "brushing_suspect",
            {(c, o) for c, o, f in flags if f == "brushing_suspect"},
            actual_brush,
        ),
        _score("bot_session", set(bots), actual_bots),
    ]
