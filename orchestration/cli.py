"""The ``zhongtai`` command line."""

from __future__ import annotations

import datetime as dt
import functools
import os
import shutil
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from ingest.config import data_paths
from models.forecast import cli as forecast_cli
from models.privacy import cli as privacy_cli
from models.recs import cli as recs_cli
from models.segments import cli as segments_cli

app = typer.Typer(
    help="Zhongtai: customer data hub for multi-channel e-commerce.", no_args_is_help=True
)
demo_app = typer.Typer(help="The demo brand.", no_args_is_help=True)
app.add_typer(demo_app, name="demo")
identity_app = typer.Typer(help="Identity resolution (OneID).", no_args_is_help=True)
app.add_typer(identity_app, name="identity")
app.add_typer(segments_cli.app, name="segments")
app.add_typer(forecast_cli.app, name="forecast")
app.add_typer(recs_cli.app, name="recs")
app.add_typer(privacy_cli.app, name="privacy")
console = Console()


@demo_app.command("generate")
def demo_generate(
    seed: int = typer.Option(7, help="Random seed; same seed and scale give identical files."),
    customers: int = typer.Option(20_000, help="Number of persons in the population."),
    days: int = typer.Option(400, help="Number of days of history."),
    start: str = typer.Option("2024-11-01", help="First day (YYYY-MM-DD)."),
    out: Path = typer.Option(None, help="Data directory (default: ZHONGTAI_DATA_DIR or ./data)."),
    hold_back_days: int = typer.Option(
        0,
        help="Move the files the channels deliver on the last N days into landing_next/, "
        "for `zhongtai demo deliver` after a first build (an incremental run's new day).",
    ),
    shard_customers: int = typer.Option(
        None,
        help="Generate the persons in shards of this many, each in its own process (memory "
        "of one shard per worker), merged into one brand's landing files: for large scales.",
    ),
    workers: int = typer.Option(1, help="Shards generated at once (with --shard-customers)."),
) -> None:
    """Write the demo brand's landing files (data/landing/) and its truth (data/truth/)."""
    from ingest.demo import generate
    from ingest.demo.holdback import NEXT_DIR, hold_back

    root = out or data_paths().root
    t0 = time.perf_counter()
    with console.status(f"Generating the demo brand into {root} …", spinner="dots"):
        summary = generate(
            root,
            seed=seed,
            customers=customers,
            days=days,
            start=dt.date.fromisoformat(start),
            shard_customers=shard_customers,
            workers=workers,
        )
    table = Table(title=f"Demo brand (seed {seed}, {customers} persons, {days} days)")
    table.add_column("channel")
    table.add_column("files", justify="right")
    table.add_column("rows", justify="right")
    for channel, stats in sorted(summary.get("channels", {}).items()):
        table.add_row(channel, str(stats.get("files", "")), str(stats.get("rows", "")))
    console.print(table)
    if hold_back_days:
        shutil.rmtree(root / NEXT_DIR, ignore_errors=True)  # a previous run's held-back files
        last = dt.date.fromisoformat(start) + dt.timedelta(days=days - 1)
        held = hold_back(root, last, hold_back_days)
        console.print(
            f"{len(held)} files of the last {hold_back_days} day(s) held back in {root / NEXT_DIR}"
            " (`zhongtai demo deliver` drops them into landing/)"
        )
    console.print(
        f"Done in {time.perf_counter() - t0:.1f} s: {root / 'landing'}, truth in {root / 'truth'}"
    )


@demo_app.command("deliver")
def demo_deliver(
    out: Path = typer.Option(None, help="Data directory (default: ZHONGTAI_DATA_DIR or ./data)."),
) -> None:
    """Drop the files held back by `demo generate --hold-back-days` into landing/."""
    from ingest.demo.holdback import NEXT_DIR, deliver

    root = out or data_paths().root
    moved = deliver(root)
    if not moved:
        console.print(f"[yellow]nothing held back in {root / NEXT_DIR}[/yellow]")
        raise typer.Exit(1)
    console.print(f"{len(moved)} files delivered into {root / 'landing'}")


@app.command()
def materialize(
    select: str = typer.Option(
        "*", help="Dagster asset selection, e.g. 'key:lake/*' or 'group:marts'; default: all."
    ),
    log_level: str = typer.Option(
        "WARNING", help="Console log level of the run (DEBUG shows every step)."
    ),
    wait: float = typer.Option(
        0.0,
        help="Seconds to wait for another run that holds the warehouse before giving up "
        "(one writer at a time).",
    ),
    incremental: bool = typer.Option(
        False,
        "--incremental",
        help="Ingest the new landing files, then run only the assets downstream of the lake "
        "entities that got files, the forecast backtest only when its last run is a week old "
        "(a new day: bench/README.md).",
    ),
    full_refresh: bool = typer.Option(
        False,
        "--full-refresh",
        help="Rebuild the incremental dbt staging models from the whole lake (after a change "
        "of their SQL).",
    ),
) -> None:
    """Materialise the asset graph (or a selection) in-process, recorded in the Dagster
    instance under data/dagster_home so `make dev` shows the runs. One run at a time: a
    second one waits up to --wait seconds, then exits with code 3 and changes nothing.
    The big staging models are dbt incremental models: every run adds only the lake files
    ingested since their last build."""
    if incremental and (full_refresh or select != "*"):
        raise typer.BadParameter("--incremental selects by itself: no --select, no --full-refresh")
    p = data_paths()
    with privacy_cli.one_writer(p, "zhongtai materialize", wait):
        _warehouse_is_free(p.warehouse)
        if incremental:
            _materialize_incremental(log_level)
        elif full_refresh:
            _materialize(select, log_level, full_refresh=True)
        else:
            _materialize(select, log_level)


def _warehouse_is_free(warehouse: Path) -> None:
    """Fail with a clear message when another process (a DuckDB shell, a notebook) has the
    warehouse file open for writing: DuckDB allows one such process per file."""
    if not warehouse.exists():
        return
    import duckdb

    try:
        duckdb.connect(str(warehouse)).close()
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        console.print(
            f"[red]{warehouse} is open in another process; close it and run again "
            f"(nothing was changed). DuckDB said: {exc}[/red]"
        )
        raise typer.Exit(3) from exc


def _definitions():
    root = data_paths().root
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(root / "dagster_home")))
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").touch()  # defaults: runs and events stored under this folder
    from orchestration.definitions import defs

    return defs


def _instance():
    """One instance per DAGSTER_HOME for the process's runs (``DagsterInstance.get`` builds a
    new one at every call), its event log keeping its SQLite connections
    (``orchestration.event_storage``)."""
    return _instance_of(Path(os.environ["DAGSTER_HOME"]).expanduser())


@functools.cache
def _instance_of(home: Path):
    from orchestration.event_storage import instance

    return instance(home)


def _materialize(select: str, log_level: str, full_refresh: bool = False) -> None:
    import dagster as dg

    defs = _definitions()
    selection = dg.AssetSelection.all() if select == "*" else dg.AssetSelection.from_string(select)
    keys = selection.resolve(defs.resolve_asset_graph())
    if not keys:
        raise typer.BadParameter(f"selection {select!r} matches no asset")
    t0 = time.perf_counter()
    _finish(_execute_runs(defs, keys, log_level, full_refresh), t0)


def _materialize_incremental(log_level: str) -> None:
    """Ingest, then only the assets downstream of the lake entities that got files."""
    from orchestration.defs.automation import changed_lake_keys, incremental_keys
    from orchestration.defs.ingest import LAKE_CHECKS_TAG, NEW_FILES, ingest_landing_files
    from orchestration.defs.transform import DBT_TESTS_TAG, NEW_ROWS

    defs = _definitions()
    t0 = time.perf_counter()
    # the lake checks of this run read only the files it loads
    ingested = _execute(
        defs, set(ingest_landing_files.keys), log_level, tags={LAKE_CHECKS_TAG: NEW_FILES}
    )
    changed = changed_lake_keys(ingested)
    results = [ingested]
    if not ingested.success:
        console.print("[red]ingest failed: nothing downstream was run[/red]")
    elif not changed:
        console.print("No new or corrected landing files: nothing downstream to run.")
    else:
        graph = defs.resolve_asset_graph()
        keys, fresh = incremental_keys(changed, _instance(), graph)
        if fresh:
            console.print(
                "Refreshed on their cadence, not due: left out "
                + ", ".join(sorted(k.to_user_string() for k in fresh))
            )
        console.print(
            f"Files loaded into {', '.join(k.to_user_string() for k in changed)}: "
            f"{len(keys)} assets downstream (and any never built that they read)"
        )
        # the row-level dbt tests of the incremental models read the rows this run adds
        results += _execute_runs(defs, keys, log_level, tags={DBT_TESTS_TAG: NEW_ROWS})
    _finish(results, t0)


def _execute_runs(defs, keys, log_level: str, full_refresh: bool = False, tags=None) -> list:
    """The runs of ``keys`` one after the other (``automation.run_plan``: the SKU-group
    partitions of the forecast after the rest); a failed run stops the next."""
    from orchestration.defs.automation import run_plan

    results = []
    for part, _ in run_plan(keys, defs.resolve_asset_graph()):
        if results and not results[-1].success:
            console.print(f"[red]run failed: {len(part)} assets after it were not run[/red]")
            break
        results.append(_execute(defs, part, log_level, full_refresh, tags))
    return results


def _execute(defs, keys, log_level: str, full_refresh: bool = False, tags: dict | None = None):
    from orchestration.defs.automation import run_tags
    from orchestration.defs.transform import full_refresh_config

    job = defs.resolve_implicit_global_asset_job_def()
    run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    # the lake is partitioned by channel, the forecast's predict by SKU group: one run over
    # every partition of the one it selects
    tags = run_tags(keys) | (tags or {})
    if full_refresh:
        run_config |= full_refresh_config(job.get_subset(asset_selection=set(keys)))
    t0 = time.perf_counter()
    with console.status(f"Materialising {len(keys)} assets …", spinner="dots"):
        result = job.execute_in_process(
            instance=_instance(),
            asset_selection=list(keys),
            raise_on_error=False,
            run_config=run_config,
            tags=tags,
        )
    table = Table(title=f"Materialised ({len(keys)} assets selected)")
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
    console.print(
        f"Run {result.run_id} {'succeeded' if result.success else 'FAILED'} "
        f"in {time.perf_counter() - t0:.1f} s"
    )
    return result


def _finish(results: list, t0: float) -> None:
    checks = [c for r in results for c in r.get_asset_check_evaluations()]
    failed = [c for c in checks if not c.passed]
    console.print(
        f"{len(checks)} checks, {len(failed)} failed"
        + "".join(
            f"\n  [yellow]{c.asset_key.to_user_string()}:{c.check_name} ({c.severity.value})[/yellow]"
            for c in failed
        )
    )
    ok = all(r.success for r in results)
    if len(results) > 1:
        console.print(f"{'Succeeded' if ok else 'FAILED'} in {time.perf_counter() - t0:.1f} s")
    errors = [c for c in failed if c.severity.value == "ERROR"]
    if not ok or errors:
        raise typer.Exit(1)


def _read_table(path: Path):
    import polars as pl

    if path.suffix.lower() in (".csv", ".tsv", ".txt"):
        sep = "\t" if path.suffix.lower() == ".tsv" else ","
        return pl.read_csv(path, separator=sep, infer_schema=False)
    return pl.read_parquet(path)


@identity_app.command("resolve")
def identity_resolve(
    input_path: Path = typer.Option(
        ..., "--input", exists=True, dir_okay=False, help="Records: Parquet (or CSV)."
    ),
    output: Path = typer.Option(
        ..., "--output", help="Where to write record_id, cluster_id, match_weight (Parquet)."
    ),
    truth: str = typer.Option(
        None,
        "--truth",
        help="A column with the true entity of each record: prints pairwise "
        "precision/recall/F1 (the column is never used for linking).",
    ),
    threshold: float = typer.Option(
        0.9, "--threshold", min=0.0, max=1.0, help="Match probability for a probabilistic link."
    ),
    rules_path: Path = typer.Option(
        None, "--rules", help="Identity rules (default: profiles/identity.yml)."
    ),
    region: str = typer.Option("CN", help="Default country of national phone numbers."),
) -> None:
    """Cluster the records of a table: identifier columns (email, phone, member_no, device_id,
    unionid, openid, ...) link deterministically under the identity rules; fuzzy attributes
    (given_name, surname, address, postcode, city, date_of_birth, ...) link probabilistically
    with Splink. Writes record_id, cluster_id, match_weight."""
    from models.identity.records import resolve_records
    from models.identity.rules import RULES_PATH, RulesError, load_rules

    try:
        rules = load_rules(rules_path or RULES_PATH)
    except RulesError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    t0 = time.perf_counter()
    frame = _read_table(input_path)
    try:
        with console.status(f"Resolving {frame.height} records …", spinner="dots"):
            result = resolve_records(frame, rules, threshold=threshold, truth=truth, region=region)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    output.parent.mkdir(parents=True, exist_ok=True)
    result.clusters.write_parquet(output)
    ids = ", ".join(f"{c} ({t})" for c, t in result.identifier_columns.items()) or "none"
    fuzzy = ", ".join(result.fuzzy_columns) or "none"
    console.print(f"identifier columns: {ids}")
    console.print(f"fuzzy attributes: {fuzzy}")
    if result.ignored_columns:
        console.print(f"ignored columns: {', '.join(result.ignored_columns)}")
    for note in result.notes:
        console.print(f"  {note}")
    console.print(f"probabilistic links at p >= {threshold}: {result.probabilistic_links}")
    console.print(
        f"{frame.height} records -> {result.n_clusters} clusters, written to {output} "
        f"in {time.perf_counter() - t0:.1f} s"
    )
    if result.scores is not None:
        s = result.scores
        console.print(
            f"pairwise precision {s.precision:.4f}  recall {s.recall:.4f}  F1 {s.f1:.4f}  "
            f"(true pairs {s.true_pairs}, predicted pairs {s.predicted_pairs}, "
            f"correct {s.true_positives})"
        )


if __name__ == "__main__":
    app()
