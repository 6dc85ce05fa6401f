"""The ``zhongtai`` command line."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from ingest.config import data_paths

app = typer.Typer(
    help="Zhongtai: customer data hub for multi-channel e-commerce.", no_args_is_help=True
)
demo_app = typer.Typer(help="The demo brand.", no_args_is_help=True)
app.add_typer(demo_app, name="demo")
console = Console()


@demo_app.command("generate")
def demo_generate(
    seed: int = typer.Option(7, help="Random seed; same seed and scale give identical files."),
    customers: int = typer.Option(20_000, help="Number of persons in the population."),
    days: int = typer.Option(400, help="Number of days of history."),
    start: str = typer.Option("2024-11-01", help="First day (YYYY-MM-DD)."),
    out: Path = typer.Option(None, help="Data directory (default: ZHONGTAI_DATA_DIR or ./data)."),
) -> None:
    """Write the demo brand's landing files (data/landing/) and its truth (data/truth/)."""
    from ingest.demo import generate

    root = out or data_paths().root
    t0 = time.perf_counter()
    with console.status(f"Generating the demo brand into {root} …", spinner="dots"):
        summary = generate(
            root, seed=seed, customers=customers, days=days, start=dt.date.fromisoformat(start)
        )
    table = Table(title=f"Demo brand (seed {seed}, {customers} persons, {days} days)")
    table.add_column("channel")
    table.add_column("files", justify="right")
    table.add_column("rows", justify="right")
    for channel, stats in sorted(summary.get("channels", {}).items()):
        table.add_row(channel, str(stats.get("files", "")), str(stats.get("rows", "")))
    console.print(table)
    console.print(
        f"Done in {time.perf_counter() - t0:.1f} s: {root / 'landing'}, truth in {root / 'truth'}"
    )


@app.command()
def materialize(
    select: str = typer.Option(
        "*", help="Dagster asset selection, e.g. 'key:lake/*' or 'group:marts'; default: all."
    ),
    log_level: str = typer.Option(
        "WARNING", help="Console log level of the run (DEBUG shows every step)."
    ),
) -> None:
    """Materialise the asset graph (or a selection) in-process, recorded in the Dagster
    instance under data/dagster_home so `make dev` shows the runs."""
    import dagster as dg

    root = data_paths().root
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(root / "dagster_home")))
    home.mkdir(parents=True, exist_ok=True)
    from orchestration.definitions import defs

    selection = dg.AssetSelection.all() if select == "*" else dg.AssetSelection.from_string(select)
    graph = defs.resolve_asset_graph()
    keys = selection.resolve(graph)
    if not keys:
        raise typer.BadParameter(f"selection {select!r} matches no asset")
    job = defs.resolve_implicit_global_asset_job_def()
    t0 = time.perf_counter()
    with console.status(f"Materialising {len(keys)} assets …", spinner="dots"):
        result = job.execute_in_process(
            instance=dg.DagsterInstance.get(),
            asset_selection=list(keys),
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        )
    table = Table(title="Materialised")
    table.add_column("asset")
    table.add_column("metadata")
    for ev in result.get_asset_materialization_events():
        mat = ev.step_materialization_data.materialization
        meta = {
            k: v.value
            for k, v in mat.metadata.items()
            if k in ("new_rows", "dagster/row_count", "new_quarantined_rows")
        }
        table.add_row(
            mat.asset_key.to_user_string(), ", ".join(f"{k}={v}" for k, v in meta.items())
        )
    console.print(table)
    checks = result.get_asset_check_evaluations()
    failed = [c for c in checks if not c.passed]
    console.print(
        f"{len(checks)} checks, {len(failed)} failed"
        + "".join(
            f"\n  [yellow]{c.asset_key.to_user_string()}:{c.check_name} ({c.severity.value})[/yellow]"
            for c in failed
        )
    )
    console.print(
        f"Run {result.run_id} {'succeeded' if result.success else 'FAILED'} in {time.perf_counter() - t0:.1f} s"
    )
    errors = [c for c in failed if c.severity.value == "ERROR"]
    if not result.success or errors:
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
