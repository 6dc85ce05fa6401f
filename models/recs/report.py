"""The evaluation written so that anyone can recompute it: ``metrics.csv`` (model, metric,
value), ``recommendations.parquet`` (model, user, item, rank for every test user), and a
short report in markdown and HTML."""

from __future__ import annotations

import html
import json
from pathlib import Path

import polars as pl

from models.recs.evaluate import EvaluationResult
from models.recs.metrics import METRICS
from models.reports import html_table


def comparison_markdown(result: EvaluationResult) -> str:
    table = result.table()
    cols = [c for c in table.columns if c != "model"]
    lines = ["| model | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    for row in table.iter_rows(named=True):
        lines.append(f"| {row['model']} | " + " | ".join(f"{row[c]:.4f}" for c in cols) + " |")
    return "\n".join(lines)


def group_markdown(result: EvaluationResult) -> str:
    if result.by_group is None:
        return "(no groups)"
    cols = [c for c in result.by_group.columns if c not in ("model", "group")]
    lines = ["| model | group | " + " | ".join(cols) + " |", "|---|---|" + "---:|" * len(cols)]
    for row in result.by_group.sort("group", "model").iter_rows(named=True):
        vals = [str(row[c]) if c == "users" else f"{row[c]:.4f}" for c in cols]
        lines.append(f"| {row['model']} | {row['group']} | " + " | ".join(vals) + " |")
    return "\n".join(lines)


def write_report(result: EvaluationResult, folder: Path, title: str) -> list[str]:
    """report.md, report.html, metrics.csv, recommendations.parquet, split.json in folder."""
    folder.mkdir(parents=True, exist_ok=True)
    result.metrics.write_csv(folder / "metrics.csv")
    result.recommendations.write_parquet(folder / "recommendations.parquet")
    (folder / "split.json").write_text(json.dumps(result.info, indent=2, default=str))
    if result.by_group is not None:
        result.by_group.write_csv(folder / "by_group.csv")
    pop = result.value("popularity", "precision@10")
    ours = result.value("zhongtai", "precision@10")
    ratio = f"{ours / pop:.2f}x" if pop else "n/a"
    md = "\n".join(
        [
            f"# {title}",
            "",
            "Time split: train before the cutoff, test on the rows after it; every test user "
            "scored, repeat purchases count as hits. Metrics: " + ", ".join(METRICS) + ".",
            "",
            comparison_markdown(result),
            "",
            f"precision@10 of zhongtai / popularity: {ratio}",
            "",
            "By user group (repeat_buyer: bought before the cutoff; browse_only: only viewed "
            "or carted; new: nothing before it):",
            "",
            group_markdown(result),
            "",
            "Split and data: " + ", ".join(f"{k}={v}" for k, v in result.info.items()),
            "",
        ]
    )
    (folder / "report.md").write_text(md)
    info = "".join(
        f"<li>{html.escape(str(k))}: {html.escape(str(v))}</li>" for k, v in result.info.items()
    )
    (folder / "report.html").write_text(
        f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<h1>{html.escape(title)}</h1>{html_table(result.table(), digits=4)}"
        f"<p>precision@10 zhongtai / popularity: {ratio}</p>"
        + (
            html_table(result.by_group.sort("group", "model"), digits=4)
            if result.by_group is not None
            else ""
        )
        + f"<ul>{info}</ul>"
    )
    return [str(folder / "report.md"), str(folder / "report.html"), str(folder / "metrics.csv")]


def read_metrics(folder: Path) -> pl.DataFrame:
    return pl.read_csv(folder / "metrics.csv")
