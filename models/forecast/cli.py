"""``zhongtai forecast``: the backtest on any long frame (Parquet or CSV)."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

PRINTED = (
    "model", "wape", "mase", "bias", "coverage_p10_p90", "coverage_p10_p90_open",
    "below_p10", "above_p90", "interval_score",
)  # fmt: skip
app = typer.Typer(help="Demand forecasting.", no_args_is_help=True)
console = Console()


def _columns(values: list[str] | None) -> list[str]:
    return [c.strip() for v in values or [] for c in v.split(",") if c.strip()]


def _settle_lag(frame, panel, settle_days: str, settle_by: str | None, source: Path):
    """The settle lag of ``frame`` in periods (a Settled with the reason), from the CLI's
    options; ValueError naming the option or the file and column."""
    import math

    import polars as pl

    from models.forecast.settle import Settled, last_delivered, parse_settle_days, settle

    fixed = parse_settle_days(settle_days, field="--settle-days")
    if fixed is not None:
        return Settled(panel.date(panel.n_periods - 1), fixed, f"--settle-days {fixed}")
    if not settle_by:
        raise ValueError("--settle-days auto needs --settle-by COLUMN (each row's source stream)")
    if settle_by not in frame.columns:
        raise ValueError(f"{source}: --settle-by column {settle_by!r} is not in the frame")
    cutoff = panel.date(panel.n_periods - 1)
    sold = frame.filter(pl.col("y") > 0).with_columns(pl.col("ds").cast(pl.Date, strict=False))
    days = settle("auto", last_delivered(sold, settle_by, "ds"), cutoff)
    periods = math.ceil(days.lag_days / (7 if panel.freq == "W" else 1))
    return Settled(days.complete_through, periods, days.reason)


@app.command("backtest")
def backtest_command(
    input_path: Path = typer.Option(
        ..., "--input", help="Long frame: unique_id, ds, y (+ exogenous columns); Parquet or CSV."
    ),
    freq: str = typer.Option("D", "--freq", help="D (daily) or W (weekly, one weekday)."),
    horizon: int = typer.Option(..., "--horizon", min=1, help="Periods ahead to forecast."),
    exog: list[str] = typer.Option(
        None,
        "--exog",
        help="Exogenous columns known in advance for the target period (price, promo), "
        "comma-separated or repeated.",
    ),
    past_exog: list[str] = typer.Option(
        None,
        "--past-exog",
        help="Exogenous columns known only up to the forecast origin (traffic, weather).",
    ),
    static: list[str] = typer.Option(
        None, "--static", help="Per-series category columns (store, category): features."
    ),
    folds: int = typer.Option(4, "--folds", min=1, help="Rolling-origin folds."),
    output: Path = typer.Option(
        None, "--output", help="Folder for forecasts.parquet and metrics.csv."
    ),
    autoets: bool = typer.Option(True, help="Run the AutoETS baseline (slow on many series)."),
    autoets_sample: int = typer.Option(
        0,
        help="Run AutoETS on this many series only (evenly spaced; 0: all) and score every "
        "model on them too (slice autoets_sample=true).",
    ),
    max_iter: int = typer.Option(100, help="Boosting iterations of the global model."),
    max_train_rows: int = typer.Option(150_000, help="Training rows per fit (sampled)."),
    seed: int = typer.Option(0, help="Random seed of the row sampling."),
    settle_days: str = typer.Option(
        "0",
        "--settle-days",
        help="Each fold trains on targets up to the day the data was complete through: N days "
        "before its cutoff, or 'auto' with --settle-by (the earliest last day with a sale "
        "of the streams active in the last 28 days). 0: up to the cutoff.",
    ),
    settle_by: str = typer.Option(
        None, "--settle-by", help="Column naming each row's source stream (e.g. channel)."
    ),
) -> None:
    """Rolling-origin backtest of the global model (quantile, conformalised quantile and
    conformal intervals) against
    seasonal naive and AutoETS. Missing periods and null ``y`` are not scored and not trained
    on; a boolean ``censored`` column marks more such periods."""
    from models.forecast.backtest import backtest, choose_method, comparison
    from models.forecast.model import ModelSettings
    from models.forecast.panel import FrameError, make_panel, read_frame

    freq = freq.upper()
    t0 = time.perf_counter()
    try:
        frame = read_frame(input_path)
        panel = make_panel(
            frame,
            freq,
            future_exog=_columns(exog),
            past_exog=_columns(past_exog),
            static=_columns(static),
            source=str(input_path),
        )
        lag = _settle_lag(frame, panel, settle_days, settle_by, input_path)
    except (FrameError, ValueError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    models = ["hgb_quantile", "hgb_cqr", "hgb_conformal", "seasonal_naive"] + (
        ["autoets"] if autoets else []
    )
    settings = ModelSettings(
        max_iter=max_iter, max_train_rows=max_train_rows, seed=seed, settle_lag=lag.lag_days
    )
    if lag.lag_days:
        console.print(
            f"training targets end {lag.lag_days} periods before each cutoff: {lag.reason}"
        )
    try:
        with console.status(
            f"Backtesting {panel.n_series} series x {panel.n_periods} periods …", spinner="dots"
        ):
            result = backtest(
                panel, horizon, folds, settings, models, _columns(static), autoets_sample
            )
    except ValueError as exc:
        console.print(f"[red]{input_path}: {exc}[/red]")
        raise typer.Exit(2) from exc
    for note in result.plan.notes:
        console.print(f"[yellow]{note}[/yellow]")
    table = comparison(result.metrics)
    # the columns that fit a terminal; every metric is in metrics.csv (--output)
    table = table.select([c for c in table.columns if c in PRINTED])
    chosen = choose_method(result.metrics)
    out = Table(
        title=f"{input_path.name}: {result.plan.folds} folds x horizon {result.plan.horizon} "
        f"({result.forecasts.height} scored points)"
    )
    for c in table.columns:
        out.add_column(c, justify="left" if c == "model" else "right", no_wrap=c == "model")
    for row in table.iter_rows():
        out.add_row(*(f"{v:.4f}" if isinstance(v, float) else str(v) for v in row))
    console.print(out)
    console.print(
        "chosen interval method (both ends calibrated quantiles, ties on count data allowed, "
        f"then the lowest interval score): {chosen}"
    )
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
        result.forecasts.write_parquet(output / "forecasts.parquet")
        overall = result.metrics.filter(
            (result.metrics["fold"] == "all") & (result.metrics["slice"] == "all")
        ).select("model", "metric", "value")
        overall.write_csv(output / "metrics.csv")
        result.metrics.write_csv(output / "metrics_by_fold_and_slice.csv")
        console.print(f"wrote {output / 'forecasts.parquet'} and {output / 'metrics.csv'}")
    console.print(f"done in {time.perf_counter() - t0:.1f} s")
