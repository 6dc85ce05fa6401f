"""``zhongtai recs``: the recommendation evaluation on any interactions table."""

from __future__ import annotations

import time
from pathlib import Path

import polars as pl
import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Recommendations: evaluate against the baselines.", no_args_is_help=True)
console = Console(width=120)


def parse_cutoff(value: str | None, frame: pl.DataFrame, path: Path, time_col: str) -> float | None:
    """A date/datetime (ISO) or a number in the time column's own unit, as days."""
    from models.recs.data import LoadReport, parse_times

    if value is None:
        return None
    try:
        return float(
            parse_times(pl.Series([value]), path, f"--cutoff for {time_col}", LoadReport(""))[0]
        )
    except Exception as exc:  # noqa: BLE001 - reported as a usage error
        raise typer.BadParameter(f"--cutoff {value!r}: not a date or a time value ({exc})") from exc


def item_categories(
    raw: pl.DataFrame, path: Path, item_col: str, category_col: str | None
) -> dict | None:
    """item -> its first non-empty value of ``category_col`` (an attribute of the catalogue,
    the same before and after the cutoff); None without the option."""
    from models.recs.data import InteractionsError

    if category_col is None:
        return None
    if category_col not in raw.columns:
        raise InteractionsError(
            f"{path}: no category column {category_col!r} (columns: {', '.join(raw.columns)})"
        )
    pairs = (
        raw.select(
            pl.col(item_col).cast(pl.String).str.strip_chars().alias("item"),
            pl.col(category_col).cast(pl.String).str.strip_chars().alias("category"),
        )
        .filter(pl.col("item").is_not_null() & (pl.col("category").fill_null("") != ""))
        .group_by("item", maintain_order=True)
        .first()
    )
    return dict(pairs.iter_rows())


@app.command("evaluate")
def evaluate_cmd(
    interactions: Path = typer.Option(
        ..., "--interactions", help="Interactions table: Parquet or CSV, one row per event."
    ),
    user_col: str = typer.Option("user_id", "--user-col", help="User id column."),
    item_col: str = typer.Option("item_id", "--item-col", help="Item id column."),
    time_col: str = typer.Option(
        "timestamp",
        "--time-col",
        help="Time: epoch s/ms, date or datetime text, or an ordinal (e.g. order number).",
    ),
    weight_col: str = typer.Option(
        None,
        "--weight-col",
        help="Optional weight: a number (quantity, rating) or an event type (view, addtocart, "
        "transaction...). Rows with a weight <= 0 are dropped and counted.",
    ),
    category_col: str = typer.Option(
        None,
        "--category-col",
        help="Optional item attribute column (category, department, brand): the model learns "
        "each user's affinity to it. An item's first non-empty value is used.",
    ),
    cutoff: str = typer.Option(
        None,
        "--cutoff",
        help="Split time (same format as the time column, or an ISO date); default: the last "
        "20 percent of the time range is the test.",
    ),
    output: Path = typer.Option(
        None,
        "--output",
        help="Folder for metrics.csv (model, metric, value), recommendations.parquet "
        "(model, user, item, rank) and report.md/html.",
    ),
    models: str = typer.Option(
        "zhongtai,popularity,trending,buy_again,implicit_als,implicit_itemknn",
        "--models",
        help="Comma-separated models to compare.",
    ),
) -> None:
    """Split by time, fit every model on the training rows, recommend 20 items to every test
    user, and print precision@10, recall@20, NDCG@10 and catalogue coverage."""
    from models.recs.data import InteractionsError, load_interactions, read_table
    from models.recs.evaluate import evaluate
    from models.recs.report import write_report

    t0 = time.perf_counter()
    try:
        raw = read_table(interactions)
        frame, report = load_interactions(
            interactions, user_col, item_col, time_col, weight_col, frame=raw
        )
        cut = parse_cutoff(cutoff, raw, interactions, time_col)
        categories = item_categories(raw, interactions, item_col, category_col)
        chosen = tuple(m.strip() for m in models.split(",") if m.strip())
        with console.status(f"Evaluating on {frame.height} interactions …", spinner="dots"):
            result = evaluate(frame, cutoff=cut, models=chosen, categories=categories)
    except (InteractionsError, ValueError) as exc:
        console.print(
            f"[red]{interactions}: {exc}[/red]"
            if str(interactions) not in str(exc)
            else f"[red]{exc}[/red]"
        )
        raise typer.Exit(2) from exc
    console.print(
        f"{interactions}: {report.rows_read} rows read, {report.rows_kept} used"
        + (f"; dropped {report.dropped}" if report.dropped else "")
    )
    for note in report.notes:
        console.print(f"  {note}")
    info = result.info
    console.print(
        f"train {info['train_rows']} rows before the cutoff, test {info['test_rows']} rows; "
        f"{info['test_users']} test users ({info['test_users_with_history']} with history), "
        f"{info['catalogue_items']} catalogue items"
    )
    table = Table(title="Comparison (every test user; repeat interactions count as hits)")
    shown = result.table()
    for col in shown.columns:
        table.add_column(col, justify="left" if col == "model" else "right")
    for row in shown.iter_rows():
        table.add_row(*[f"{v:.4f}" if isinstance(v, float) else str(v) for v in row])
    console.print(table)
    if result.by_group is not None:
        for row in result.by_group.filter(pl.col("model") == "zhongtai").iter_rows(named=True):
            console.print(
                f"  zhongtai, {row['group']} ({row['users']} users): "
                f"precision@10 {row['precision@10']:.4f}"
            )
    console.print(
        "ceiling: "
        + ", ".join(f"{k}={info[k]}" for k in info if k.startswith(("test_pairs", "oracle")))
    )
    if output is not None:
        files = write_report(result, output, title=f"Recommendations on {interactions.name}")
        console.print(f"written: {', '.join(files)}, {output / 'recommendations.parquet'}")
    console.print(f"done in {time.perf_counter() - t0:.1f} s")
